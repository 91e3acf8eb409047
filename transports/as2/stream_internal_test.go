package as2

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"os"
	"testing"
	"time"
)

func testIdentity(t testing.TB, name string) *Identity {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &Identity{AS2ID: name, Cert: cert, Key: key}
}

// EncryptStream's output opens with the in-memory Decrypt (whose GCM is
// crypto/cipher's) and with DecryptStream, for sizes around block edges.
func TestEncryptStreamRoundTrip(t *testing.T) {
	id := testIdentity(t, "wharf")
	for _, c := range []Cipher{AES256CBC, AES128CBC, AES256GCM, AES128GCM} {
		for _, n := range []int{0, 1, 15, 16, 17, 32<<10 - 1, 32 << 10, 32<<10 + 5, 100003} {
			content := make([]byte, n)
			_, _ = rand.Read(content)
			var out bytes.Buffer
			if err := EncryptStream(&out, bytes.NewReader(content), int64(n), []*x509.Certificate{id.Cert}, c, RSAOAEPSHA256); err != nil {
				t.Fatal(err)
			}
			dec, err := Decrypt(out.Bytes(), id.Cert, id.Key.(*rsa.PrivateKey))
			if err != nil {
				t.Fatalf("%s %d: Decrypt: %v", c, n, err)
			}
			if !bytes.Equal(dec.Content, content) {
				t.Fatalf("%s %d: Decrypt differs", c, n)
			}
			var got bytes.Buffer
			if _, err := DecryptStream(bytes.NewReader(out.Bytes()), int64(out.Len()), id.Cert, id.Key.(*rsa.PrivateKey),
				func() (io.Writer, error) { got.Reset(); return &got, nil }); err != nil {
				t.Fatalf("%s %d: DecryptStream: %v", c, n, err)
			}
			if !bytes.Equal(got.Bytes(), content) {
				t.Fatalf("%s %d: DecryptStream differs", c, n)
			}
		}
	}
}

// signDigest's signature verifies as pkcs7's does.
func TestSignDigestVerifies(t *testing.T) {
	id := testIdentity(t, "wharf")
	content := []byte("Content-Type: text/plain\r\n\r\nhello\r\n")
	d := sha256.Sum256(content)
	sig, err := signDigest(d[:], id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDetached(sig, bytesContent(content), []*x509.Certificate{id.Cert}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDetached(sig, bytesContent(append(content, 'x')), []*x509.Certificate{id.Cert}, time.Now()); err == nil {
		t.Fatal("altered content verified")
	}
}

// A layer spills from memory to a file past spoolInMemory, restarts
// empty (another recipient's attempt), and close removes its file.
func TestSpoolWriterSpillsAndRestarts(t *testing.T) {
	sp := &spool{dir: t.TempDir()}
	big := bytes.Repeat([]byte("x"), spoolInMemory+10)
	r, err := sp.write(func(w io.Writer) error {
		if _, err := w.Write(big); err != nil {
			return err
		}
		w2, err := w.(*spoolWriter).restart()
		if err != nil {
			return err
		}
		_, err = w2.Write([]byte("second attempt"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.files) != 1 {
		t.Fatalf("%d spool files, want 1 (the layer spilled)", len(sp.files))
	}
	got, _ := readAllSection(r, 1<<20, "layer")
	if string(got) != "second attempt" {
		t.Fatalf("layer %q after restart", got)
	}
	name := sp.files[0].Name()
	sp.close()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatalf("spool file left: %v", err)
	}
	small, _ := sp.write(func(w io.Writer) error { _, err := w.Write([]byte("small")); return err })
	if len(sp.files) != 0 || small.Size() != 5 {
		t.Fatalf("a small layer made %d files, size %d", len(sp.files), small.Size())
	}
}
