package as2_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/transports"
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

// memBooks keeps evidence and records in memory.
type memBooks struct {
	mu       sync.Mutex
	blobs    map[string][]byte
	kinds    map[string]string // id -> transport
	keys     map[string]string // partner|transport|msgid -> id
	records  map[string]*as2.Record
	events   map[string][]string
	outcomes map[string]string
	pending  map[string]*as2.Record
	parents  map[string]string // received MDN evidence -> payload
	n        int
}

func newBooks() *memBooks {
	return &memBooks{blobs: map[string][]byte{}, kinds: map[string]string{}, keys: map[string]string{},
		records: map[string]*as2.Record{}, events: map[string][]string{}, outcomes: map[string]string{},
		pending: map[string]*as2.Record{}, parents: map[string]string{}}
}

func (b *memBooks) Evidence(_ context.Context, partner string, _ bool, transport, msgID string, data []byte) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := partner + "|" + transport + "|" + msgID
	if id, ok := b.keys[k]; ok {
		return id, nil
	}
	b.n++
	id := fmt.Sprintf("ev%d", b.n)
	b.blobs[id], b.kinds[id], b.keys[k] = append([]byte{}, data...), transport, id
	return id, nil
}

func (b *memBooks) OpenEvidence(_ context.Context, id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.blobs[id]
	if !ok {
		return nil, fmt.Errorf("no evidence %s", id)
	}
	return d, nil
}

func (b *memBooks) Lookup(_ context.Context, partner, msgID, dir string) (*as2.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.records[partner+"|"+msgID+"|"+dir]
	if !ok {
		return nil, nil
	}
	c := *r
	return &c, nil
}

func (b *memBooks) Record(_ context.Context, r *as2.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	return nil
}

func (b *memBooks) Event(_ context.Context, id, kind, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events[id] = append(b.events[id], kind+": "+detail)
	return nil
}

func (b *memBooks) MDNEvidence(ctx context.Context, partner, msgID, parent string, data []byte) (string, error) {
	id, err := b.Evidence(ctx, partner, false, as2.TransportMDNIn, msgID, data)
	if err == nil {
		b.mu.Lock()
		b.parents[id] = parent
		b.mu.Unlock()
	}
	return id, err
}

func (b *memBooks) Await(_ context.Context, r *as2.Record, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	p := *r
	b.pending[r.PartnerID+"|"+r.AS2MessageID] = &p
	b.outcomes[r.MessageID] = as2.StatusAwaitingMDN
	b.events[r.MessageID] = append(b.events[r.MessageID], "awaiting_mdn: "+detail)
	return nil
}

func (b *memBooks) Awaited(_ context.Context, partner, msgID string) (*as2.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.pending[partner+"|"+msgID]
	if !ok {
		return nil, nil
	}
	c := *r
	return &c, nil
}

func (b *memBooks) Settle(_ context.Context, r *as2.Record, async bool, status, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if async {
		k := r.PartnerID + "|" + r.AS2MessageID
		if _, ok := b.pending[k]; !ok {
			return as2.ErrNotAwaited
		}
		delete(b.pending, k)
	}
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	b.outcomes[r.MessageID] = status
	b.events[r.MessageID] = append(b.events[r.MessageID], status+": "+detail)
	return nil
}

// outcome returns a payload's status.
func (b *memBooks) outcome(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.outcomes[id]
}

func (b *memBooks) history(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.events[id], "\n")
}

func (b *memBooks) count(transport string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, k := range b.kinds {
		if k == transport {
			n++
		}
	}
	return n
}

// memReceiver archives payloads in memory, once per idempotency key.
type memReceiver struct {
	mu       sync.Mutex
	payloads map[string][]byte
	names    map[string]string
	byKey    map[string]string
}

func newReceiver() *memReceiver {
	return &memReceiver{payloads: map[string][]byte{}, names: map[string]string{}, byKey: map[string]string{}}
}

func (r *memReceiver) Receive(_ context.Context, in transports.Incoming, rd io.Reader) (string, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.byKey[in.IdempotencyKey]; ok {
		return id, nil
	}
	id := fmt.Sprintf("msg%d", len(r.payloads)+1)
	r.payloads[id], r.names[id], r.byKey[in.IdempotencyKey] = b, in.RemoteName, id
	return id, nil
}

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
