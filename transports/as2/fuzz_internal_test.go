package as2

import (
	"bytes"
	"crypto/rsa"
	"io"
	"testing"
)

// FuzzPartsAt: the file-backed multipart splitter the endpoint uses finds
// exactly the parts Parts finds in memory, or fails when it fails (up to
// maxParts parts).
func FuzzPartsAt(f *testing.F) {
	f.Add([]byte("--b\r\nA: 1\r\n\r\nhello\r\n--b\r\n\r\nsig\r\n--b--\r\n"), "b")
	f.Add([]byte("preamble\n--b\nx\n--bb\n--b \ny\n--b--"), "b")
	f.Add([]byte("--b--"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		want, werr := Parts(body, boundary)
		if len(want) > maxParts {
			return // partsAt refuses more
		}
		got, gerr := partsAt(io.NewSectionReader(bytes.NewReader(body), 0, int64(len(body))), boundary)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Parts error %v, partsAt error %v", werr, gerr)
		}
		if len(want) != len(got) {
			t.Fatalf("Parts found %d parts, partsAt %d", len(want), len(got))
		}
		for i := range want {
			g, _ := readAllSection(got[i], 1<<20, "part")
			if !bytes.Equal(g, want[i]) {
				t.Fatalf("part %d: %q, want %q", i, g, want[i])
			}
		}
	})
}

// FuzzStreamCMS: CMS from anyone never panics the streaming parsers, and
// what the streaming decompressor accepts the in-memory one accepts too,
// with the same content.
func FuzzStreamCMS(f *testing.F) {
	cd, _ := Compress([]byte("Content-Type: text/plain\r\n\r\nhello"))
	f.Add(cd)
	f.Add([]byte{0x30, 0x80, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	id := testIdentity(f, "wharf")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = StreamContentType(bytes.NewReader(b))
		var out bytes.Buffer
		if err := DecompressStream(bytes.NewReader(b), &out, 1<<20); err == nil {
			plain, err := Decompress(b)
			if err == nil && !bytes.Equal(plain, out.Bytes()) {
				t.Fatalf("DecompressStream and Decompress disagree")
			}
		}
		_, _ = DecryptStream(bytes.NewReader(b), int64(len(b)), id.Cert, id.Key.(*rsa.PrivateKey), func() (io.Writer, error) { out.Reset(); return &out, nil })
	})
}
