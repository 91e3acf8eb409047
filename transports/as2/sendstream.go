package as2

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"os"

	"github.com/wharfedi/wharf/internal/iobuf"
)

// Sending streams too: a message is a chain of byte streams of known size
// (the payload read from the archive, headers, the signature, the CMS
// around the encrypted content) that is read twice, once to compute the
// MIC and sign, once into the HTTP body, without the payload in memory.
// Only compression needs a temporary file, since the compressed size must
// be known before the DER around it is written.

// stream is bytes of a known size that can be read more than once.
type stream struct {
	size int64
	open func() (io.ReadCloser, error)
}

func bytesStream(b []byte) stream {
	return stream{size: int64(len(b)), open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// concat is the streams one after the other.
func concat(parts ...stream) stream {
	var size int64
	for _, p := range parts {
		size += p.size
	}
	return stream{size: size, open: func() (io.ReadCloser, error) {
		var rs []io.Reader
		var cs multiCloser
		for _, p := range parts {
			r, err := p.open()
			if err != nil {
				cs.Close()
				return nil, err
			}
			rs, cs = append(rs, r), append(cs, r)
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(rs...), cs}, nil
	}}
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// exact checks that a stream holds the size it announced.
func exact(s stream, what string) stream {
	return stream{size: s.size, open: func() (io.ReadCloser, error) {
		r, err := s.open()
		if err != nil {
			return nil, err
		}
		return &exactReader{r: r, left: s.size, size: s.size, what: what}, nil
	}}
}

type exactReader struct {
	r          io.ReadCloser
	left, size int64
	what       string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left < 0 {
		return n, fmt.Errorf("as2: %s is longer than its %d bytes", e.what, e.size)
	}
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("as2: %s ended %d bytes short of its %d bytes", e.what, e.left, e.size)
	}
	return n, err
}

func (e *exactReader) Close() error { return e.r.Close() }

// piped is a stream produced by fill writing into a pipe.
func piped(size int64, fill func(w io.Writer) error) stream {
	return stream{size: size, open: func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			bw := bufio.NewWriterSize(pw, iobuf.Size(size, 64<<10))
			err := fill(bw)
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}}
}

// base64Size is what writeBase64Lines writes for n bytes.
func base64Size(n int64) int64 {
	chars := (n + 2) / 3 * 4
	lines := (chars + 75) / 76
	if lines == 0 {
		lines = 1
	}
	return chars + 2*lines
}

// base64Lines is s base64-encoded in CRLF lines of 76, as writeBase64Lines.
func base64Lines(s stream) stream {
	return piped(base64Size(s.size), func(w io.Writer) error {
		r, err := s.open()
		if err != nil {
			return err
		}
		defer r.Close()
		lw := &lineWriter{w: w}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		if _, err := io.Copy(enc, r); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		if lw.col > 0 || lw.total == 0 {
			_, err = w.Write([]byte("\r\n"))
		}
		return err
	})
}

type lineWriter struct {
	w          io.Writer
	col, total int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 76-l.col)
		if _, err := l.w.Write(p[:k]); err != nil {
			return n, err
		}
		n, l.col, l.total, p = n+k, l.col+k, l.total+k, p[k:]
		if l.col == 76 {
			if _, err := l.w.Write([]byte("\r\n")); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}

func fileStream(path string, size int64) stream {
	return stream{size: size, open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// compressStream makes CompressedData (zlib, DER) of s: the zlib stream
// goes to a temporary file in dir, which the returned cleanup removes.
func compressStream(s stream, dir string) (stream, func(), error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "as2-send-*.zlib")
	if err != nil {
		return stream{}, nil, fmt.Errorf("temporary file for compression in %s: %w", dir, err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	r, err := s.open()
	if err != nil {
		cleanup()
		return stream{}, nil, err
	}
	defer r.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	cw := &countWriter{w: bw}
	zw := zlib.NewWriter(cw)
	_, err = io.Copy(zw, r)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		cleanup()
		return stream{}, nil, fmt.Errorf("compress: %w", err)
	}
	z := cw.n
	// ContentInfo{compressedData, [0]{SEQUENCE{0, {zlib}, {data, [0]{OCTET STRING}}}}}
	version, _ := asn1.Marshal(0)
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidZlib})
	dataOID, _ := asn1.Marshal(oidData)
	cdOID, _ := asn1.Marshal(oidCompressedData)
	oct := derHeader(0x04, z)
	exp1 := derHeader(0xa0, int64(len(oct))+z)
	eciLen := int64(len(dataOID)+len(exp1)+len(oct)) + z
	eci := derHeader(0x30, eciLen)
	cdLen := int64(len(version)+len(alg)+len(eci)) + eciLen
	cd := derHeader(0x30, cdLen)
	exp0 := derHeader(0xa0, int64(len(cd))+cdLen)
	ciLen := int64(len(cdOID)+len(exp0)+len(cd)) + cdLen
	head := bytes.Join([][]byte{derHeader(0x30, ciLen), cdOID, exp0, cd, version, alg, eci, dataOID, exp1, oct}, nil)
	return concat(bytesStream(head), fileStream(f.Name(), z)), cleanup, nil
}

// digest returns the SHA-256 of a stream.
func (s stream) digest() ([]byte, error) {
	r, err := s.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func (s stream) writeTo(w io.Writer) error {
	r, err := s.open()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
