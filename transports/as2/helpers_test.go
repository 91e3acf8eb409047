package as2_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/transports/as2"
)

// party is a test identity with its PEM files on disk.
type party struct {
	id       *as2.Identity
	certFile string
	keyFile  string
}

// partyBits is the RSA key size of new test parties (benchmarks raise it).
var partyBits = 2048

func newParty(t testing.TB, dir, name string, notAfter time.Time) *party {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, partyBits)
	if err != nil {
		t.Fatal(err)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &party{id: &as2.Identity{AS2ID: name, Cert: cert, Key: key},
		certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	write(t, p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return p
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

type (
	memBooks    = as2.MemoryBooks
	memReceiver = as2.MemoryReceiver
)

func newBooks() *memBooks       { return as2.NewMemoryBooks() }
func newReceiver() *memReceiver { return as2.NewMemoryReceiver() }

type dir map[string]*as2.Partner

func (d dir) ByAS2ID(_ context.Context, id string) (*as2.Partner, error) {
	p, ok := d[id]
	if !ok {
		return nil, as2.ErrUnknownPartner
	}
	return p, nil
}

// fixture is a Wharf AS2 endpoint with one partner, "acme" (AS2 name ACME).
type fixture struct {
	dir     string
	wharf   *party
	acme    *party
	partner *as2.Partner
	books   *memBooks
	recv    *memReceiver
	srv     *as2.Server
	http    *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := t.TempDir()
	f := &fixture{dir: d, wharf: newParty(t, d, "wharf", time.Time{}), acme: newParty(t, d, "ACME", time.Time{}),
		books: newBooks(), recv: newReceiver()}
	f.partner = &as2.Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{f.acme.id.Cert}}
	f.srv = &as2.Server{Identity: f.wharf.id, Partners: dir{"ACME": f.partner}, Receiver: f.recv, Books: f.books}
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(f.http.Close)
	return f
}

func payloadOf(r *memReceiver, id string) []byte { b, _ := r.Payload(id); return b }
func nameOf(r *memReceiver, id string) string    { _, n := r.Payload(id); return n }
