package as2

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports"
)

// TestLargeMessageStreams posts a signed and encrypted message with a
// payload of WHARF_AS2_LARGE_MB MiB (default 200), generated on the fly and
// never held in memory, to the endpoint, which archives the raw request and
// the payload in a real archive (SQLite and a blob folder). It checks the
// archived payload's sha256 and the MDN, and that the heap (HeapInuse,
// sampled) stays under 64 MiB: far below the payload. Figures are logged;
// see docs/benchmarks.md.
func TestLargeMessageStreams(t *testing.T) {
	for _, c := range []Cipher{AES256CBC, AES256GCM} {
		t.Run(string(c), func(t *testing.T) { largeMessage(t, c, false) })
	}
	// Wharf's Client sends, the payload read from its source twice (MIC
	// and signature, then the body), both ends in this process.
	t.Run("client/"+string(AES256CBC), func(t *testing.T) { largeMessage(t, AES256CBC, true) })
}

func largeMessage(t *testing.T, c Cipher, viaClient bool) {
	if testing.Short() {
		t.Skip("large message test: skipped with -short")
	}
	mb := int64(200)
	if s := os.Getenv("WHARF_AS2_LARGE_MB"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			t.Fatalf("WHARF_AS2_LARGE_MB=%q: want a positive number of MiB", s)
		}
		mb = v
	}
	size := mb << 20
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := archive.NewFS(filepath.Join(dir, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	arch, err := archive.New(st, archive.Options{Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	wharf, acme := testIdentity(t, "WHARF"), testIdentity(t, "ACME")
	// The body limit above the payload (WHARF_AS2_LARGE_MB=600 passes the 512 MiB default).
	partner := &Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{acme.Cert}, RequireSigned: true, RequireEncrypted: true, MaxBody: size + 64<<20}
	books := &archiveBooks{MemoryBooks: NewMemoryBooks(), a: arch}
	spoolDir := filepath.Join(dir, "as2-spool")
	if err := os.MkdirAll(spoolDir, 0o750); err != nil {
		t.Fatal(err)
	}
	srv := &Server{Identity: wharf, Partners: oneDir{partner}, Receiver: &archiveReceiver{a: arch}, Books: books, SpoolDir: spoolDir}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	ph := sha256.New()
	if _, err := io.Copy(ph, payloadReader(size)); err != nil {
		t.Fatal(err)
	}
	wantSHA := hex.EncodeToString(ph.Sum(nil))
	msgID, wantMIC := "<large-"+string(c)+"@acme>", ""
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	if viaClient {
		cl := &Client{Identity: acme, Books: books, TmpDir: spoolDir}
		wp := &Partner{ID: "wharf", AS2ID: "WHARF", URL: hs.URL, Certs: []*x509.Certificate{wharf.Cert}, Sign: true, Cipher: c,
			MDN: MDNSync, SignedMDN: true}
		sent, err := cl.Send(ctx, wp, Outgoing{MessageID: "big-" + string(c), Name: "big.bin", Size: size,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(payloadReader(size)), nil }})
		if err != nil {
			t.Fatal(err)
		}
		if sent.Status != lifecycle.StatusDelivered {
			t.Fatalf("sent: %s: %s", sent.Status, sent.Detail)
		}
		msgID, wantMIC = sent.AS2MessageID, sent.MIC
	} else {
		wantMIC = postLarge(t, hs.URL, msgID, size, wharf, acme, c)
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	rec, err := books.Lookup(ctx, &RecordKey{PartnerID: "acme", AS2MessageID: msgID, Direction: Inbound})
	if err != nil || rec == nil || rec.MessageID == "" {
		t.Fatalf("no record of the payload: %+v %v", rec, err)
	}
	m, err := st.GetMessage(ctx, rec.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if m.SHA256 != wantSHA || m.Size != size {
		t.Fatalf("archived payload: sha256 %s, %d bytes; sent sha256 %s, %d bytes", m.SHA256, m.Size, wantSHA, size)
	}
	if rec.MIC != wantMIC {
		t.Fatalf("MIC %q, want %q", rec.MIC, wantMIC)
	}
	left, _ := os.ReadDir(spoolDir)
	if len(left) != 0 {
		t.Fatalf("%d spool files left behind", len(left))
	}
	mib := float64(peak.Load()) / (1 << 20)
	how := "posted"
	if viaClient {
		how = "sent by Wharf's Client (MDN verified)"
	}
	t.Logf("payload %d MiB signed+encrypted (%s), %s: received, verified, decrypted and archived in %s (%.0f MiB/s, sender in the same process); peak HeapInuse %.1f MiB; %s",
		mb, c, how, elapsed.Round(time.Millisecond), float64(mb)/elapsed.Seconds(), mib, vmHWM())
	if mib > 64 {
		t.Fatalf("peak HeapInuse %.1f MiB for a %d MiB payload: memory is not bounded", mib, mb)
	}
}

// postLarge builds a signed, encrypted message in two passes over the
// generated payload (the first hashes the entity to sign it, the second
// encrypts it into the request body), posts it and checks the MDN. It
// returns the MIC the sender expects.
func postLarge(t *testing.T, url, msgID string, size int64, wharf, acme *Identity, c Cipher) string {
	t.Helper()
	entityHead := "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n" +
		"Content-Disposition: attachment; filename=big.bin\r\n\r\n"
	eh := sha256.New()
	eh.Write([]byte(entityHead))
	if _, err := io.Copy(eh, payloadReader(size)); err != nil {
		t.Fatal(err)
	}
	sig, err := signDigest(eh.Sum(nil), acme, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	boundary := "----=_large_test"
	prefix := "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"" + boundary + "\"\r\n\r\n" +
		"--" + boundary + "\r\n" + entityHead
	var suffix strings.Builder
	suffix.WriteString("\r\n--" + boundary + "\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	var sigB64 bytes.Buffer
	writeBase64Lines(&sigB64, sig)
	suffix.WriteString(sigB64.String() + "--" + boundary + "--\r\n")
	innerSize := int64(len(prefix)) + size + int64(suffix.Len())
	pr, pw := io.Pipe()
	go func() {
		inner := io.MultiReader(strings.NewReader(prefix), payloadReader(size), strings.NewReader(suffix.String()))
		pw.CloseWithError(EncryptStream(pw, inner, innerSize, []*x509.Certificate{wharf.Cert}, c, RSAPKCS1v15))
	}()

	req, _ := http.NewRequest(http.MethodPost, url, pr)
	for k, v := range map[string]string{
		"AS2-Version":                      "1.2",
		"AS2-From":                         "ACME",
		"AS2-To":                           "WHARF",
		"Message-ID":                       msgID,
		"Content-Type":                     "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
		"Content-Transfer-Encoding":        "binary",
		"Disposition-Notification-To":      "ACME",
		"Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256",
	} {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	mdn, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %s: %s", res.Status, mdn)
	}
	if !strings.Contains(string(mdn), "Disposition: automatic-action/MDN-sent-automatically; processed") || strings.Contains(string(mdn), "processed/error") {
		t.Fatalf("MDN is not 'processed':\n%.2000s", mdn)
	}
	return b64(eh.Sum(nil)) + ", sha-256"
}

// vmHWM reports the process's peak resident set (Linux), which covers
// more than the Go heap: stacks, the runtime, page tables, buffers.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "process peak RSS unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return "process peak RSS (VmHWM, whole test process so far) " + strings.Join(strings.Fields(strings.TrimPrefix(l, "VmHWM:")), " ")
		}
	}
	return "process peak RSS unknown"
}

// payloadReader generates size bytes (AES-CTR keystream from a fixed key:
// fast, binary, the same at every pass).
func payloadReader(size int64) io.Reader {
	block, _ := aes.NewCipher(make([]byte, 16))
	return io.LimitReader(cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, 16)), R: zeroReader{}}, size)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type oneDir struct{ p *Partner }

func (d oneDir) ByAS2ID(_ context.Context, id string) (*Partner, error) {
	if id != d.p.AS2ID {
		return nil, ErrUnknownPartner
	}
	return d.p, nil
}

// archiveReceiver archives payloads as Wharf's gateway does.
type archiveReceiver struct{ a *archive.Archive }

func (r *archiveReceiver) Receive(ctx context.Context, in transports.Incoming, rd io.Reader) (string, error) {
	e, err := r.a.Put(ctx, rd, archive.Meta{Partner: in.Partner, Transport: in.Transport, RemoteName: in.RemoteName, IdempotencyKey: in.IdempotencyKey})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// archiveBooks keeps raw requests in the archive, streaming, and the rest
// in memory.
type archiveBooks struct {
	*MemoryBooks
	a *archive.Archive
}

func (b *archiveBooks) EvidenceFrom(ctx context.Context, partner string, _ bool, transport, msgID string, r io.Reader) (string, error) {
	e, err := b.a.Put(ctx, r, archive.Meta{Partner: partner, Transport: transport, RemoteName: msgID, IdempotencyKey: transport + ":" + msgID})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

var _ EvidenceStreamer = (*archiveBooks)(nil)
