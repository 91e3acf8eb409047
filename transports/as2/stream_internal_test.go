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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// A spool that fails (here: its folder is missing) is the server's
// problem: the sender gets 503, not an error disposition, and its retry
// of the same Message-ID is processed once the spool works again.
func TestSpoolFailureAnswers503(t *testing.T) {
	wharf, acme := testIdentity(t, "WHARF"), testIdentity(t, "ACME")
	// Unsigned compressed content (allowed for this partner), expanding
	// about 500 times (the limit is raised for it).
	partner := &Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{acme.Cert}, AllowUnsignedCompressed: true, MaxExpansion: 1000}
	spoolDir := filepath.Join(t.TempDir(), "missing")
	recv := NewMemoryReceiver()
	srv := &Server{Identity: wharf, Partners: oneDir{partner}, Receiver: recv, Books: NewMemoryBooks(), SpoolDir: spoolDir}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	// Small on the wire, 2 MiB once decompressed: past what stays in memory.
	payload := bytes.Repeat([]byte("ST*856*0001~\n"), 2<<20/13)
	cd, err := Compress(append([]byte("Content-Type: application/edi-x12\r\n\r\n"), payload...))
	if err != nil {
		t.Fatal(err)
	}
	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, hs.URL, bytes.NewReader(cd))
		req.Header.Set("AS2-From", "ACME")
		req.Header.Set("AS2-To", "WHARF")
		req.Header.Set("Message-ID", "<spool-1@acme>")
		req.Header.Set("Content-Type", "application/pkcs7-mime; smime-type=compressed-data")
		req.Header.Set("Disposition-Notification-To", "ACME")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post(); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with a broken spool: HTTP %s, want 503", res.Status)
	}
	if recv.Len() != 0 {
		t.Fatal("a payload was archived although the spool failed")
	}
	if err := os.MkdirAll(spoolDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if res := post(); res.StatusCode != http.StatusOK {
		t.Fatalf("retry: HTTP %s", res.Status)
	}
	if recv.Len() != 1 {
		t.Fatalf("%d payloads after the retry, want 1", recv.Len())
	}
	got, _ := recv.Payload("msg1")
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload of %d bytes, want %d", len(got), len(payload))
	}
}

// A body over MaxBody gets 413 (after spooling no more than the limit),
// and leaves nothing in the spool.
func TestBodyLimitAnswers413(t *testing.T) {
	wharf, acme := testIdentity(t, "WHARF"), testIdentity(t, "ACME")
	spoolDir := t.TempDir()
	recv := NewMemoryReceiver()
	srv := &Server{Identity: wharf, Partners: oneDir{&Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{acme.Cert}}},
		Receiver: recv, Books: NewMemoryBooks(), SpoolDir: spoolDir, MaxBody: 2 << 20}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	req, _ := http.NewRequest(http.MethodPost, hs.URL, bytes.NewReader(make([]byte, 2<<20+64<<10))) // the server drains the small excess
	req.Header.Set("AS2-From", "ACME")
	req.Header.Set("AS2-To", "WHARF")
	req.Header.Set("Message-ID", "<big@acme>")
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %s, want 413", res.Status)
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 || recv.Len() != 0 {
		t.Fatalf("%d spool files left, %d payloads archived", len(left), recv.Len())
	}
}
