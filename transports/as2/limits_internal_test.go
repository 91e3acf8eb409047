package as2

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bomb streams CompressedData (BER, indefinite lengths, as BouncyCastle
// writes it) whose zlib content is entity followed by zeros of size bytes:
// the compressed stream is made as it is sent, never held whole.
func bomb(entity string, zeros int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		oid := func(o asn1.ObjectIdentifier) []byte { b, _ := asn1.Marshal(o); return b }
		alg, _ := asn1.Marshal(struct{ Algorithm asn1.ObjectIdentifier }{oidZlib})
		bw.Write([]byte{0x30, 0x80})
		bw.Write(oid(oidCompressedData))
		bw.Write([]byte{0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x00})
		bw.Write(alg)
		bw.Write([]byte{0x30, 0x80})
		bw.Write(oid(oidData))
		bw.Write([]byte{0xa0, 0x80, 0x24, 0x80}) // [0] { OCTET STRING, constructed
		zw, _ := zlib.NewWriterLevel(octetChunks{bw}, zlib.BestCompression)
		io.WriteString(zw, entity)
		_, err := io.Copy(zw, io.LimitReader(zeroReader{}, zeros))
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			bw.Write(make([]byte, 2*5)) // five end-of-contents
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// octetChunks writes each write as a primitive OCTET STRING.
type octetChunks struct{ w io.Writer }

func (o octetChunks) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := min(len(p), 1000)
		if _, err := o.w.Write(append(derHeader(0x04, int64(n)), p[:n]...)); err != nil {
			return 0, err
		}
		p = p[n:]
	}
	return total, nil
}

// limitsFixture is an endpoint with one partner, ACME.
type limitsFixture struct {
	wharf, acme *Identity
	partner     *Partner
	books       *MemoryBooks
	recv        *MemoryReceiver
	spool       string
	srv         *Server
	http        *httptest.Server
}

func newLimitsFixture(t *testing.T) *limitsFixture {
	f := &limitsFixture{wharf: testIdentity(t, "WHARF"), acme: testIdentity(t, "ACME"), books: NewMemoryBooks(), recv: NewMemoryReceiver(), spool: t.TempDir()}
	f.partner = &Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{f.acme.Cert}}
	f.srv = &Server{Identity: f.wharf, Partners: oneDir{f.partner}, Receiver: f.recv, Books: f.books, SpoolDir: f.spool}
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(f.http.Close)
	return f
}

// post sends body; mdn asks for a sync unsigned MDN.
func (f *limitsFixture) post(t *testing.T, msgID, ctype string, body io.Reader, mdn bool) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/as2", body)
	req.Header.Set("AS2-From", "ACME")
	req.Header.Set("AS2-To", "WHARF")
	req.Header.Set("Message-ID", msgID)
	req.Header.Set("Content-Type", ctype)
	if mdn {
		req.Header.Set("Disposition-Notification-To", "edi@acme.example")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// mdn reads a sync MDN answer.
func (f *limitsFixture) mdn(t *testing.T, res *http.Response, body []byte) *MDN {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %s: %s", res.Status, body)
	}
	e, err := ParseEntity(append([]byte("Content-Type: "+res.Header.Get("Content-Type")+"\r\n\r\n"), body...))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMDN(e, nil, time.Now())
	if err != nil {
		t.Fatalf("not an MDN: %v\n%s", err, body)
	}
	return m
}

// refused checks a refusal's evidence: the raw request archived, no
// payload, nothing left in the spool, an event and an alert naming the
// partner and the limit.
func (f *limitsFixture) refused(t *testing.T, msgID, reason string, names ...string) {
	t.Helper()
	rec, _ := f.books.Lookup(t.Context(), &RecordKey{PartnerID: "acme", AS2MessageID: msgID, Direction: Inbound})
	if rec == nil || rec.RawID == "" || rec.MessageID != "" || rec.Disposition == "processed" {
		t.Fatalf("record %+v: want the raw request archived, no payload, an error disposition", rec)
	}
	if f.recv.Len() != 0 {
		t.Fatalf("%d payloads archived", f.recv.Len())
	}
	if raw, _ := f.books.OpenEvidence(t.Context(), rec.RawID); len(raw) > 4<<20 {
		t.Fatalf("the raw evidence is %d bytes: the expansion was archived", len(raw))
	}
	if left, _ := os.ReadDir(f.spool); len(left) != 0 {
		t.Fatalf("%d spool files left", len(left))
	}
	ev := f.books.History(rec.RawID)
	var al *Alert
	for _, a := range f.books.Alerts() {
		if a.MessageID == rec.RawID {
			al = &a
		}
	}
	if al == nil || al.Reason != reason || al.PartnerID != "acme" {
		t.Fatalf("alerts %+v: want %s for partner acme on %s", f.books.Alerts(), reason, rec.RawID)
	}
	for _, s := range append(names, "partner acme") {
		if !strings.Contains(ev, s) || !strings.Contains(al.Detail, s) {
			t.Fatalf("event %q / alert %q: want them to name %q", ev, al.Detail, s)
		}
	}
}

const bombEntity = "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=zeros.bin\r\n\r\n"

// An unsigned compressed bomb from anyone who knows a partner's AS2 name
// (the review's: 1 MB posted, 1 GiB archived). By default compressed
// content must hold or be inside a signature: refused on its first bytes.
func TestUnsignedCompressedBombRefused(t *testing.T) {
	f := newLimitsFixture(t)
	start := time.Now()
	res, b := f.post(t, "<bomb-1@acme>", "application/pkcs7-mime; smime-type=compressed-data", bomb(bombEntity, 300<<20), true)
	m := f.mdn(t, res, b)
	if m.Modifier != ErrInsufficientSecurity {
		t.Fatalf("disposition %q, want %s", m.Disposition, ErrInsufficientSecurity)
	}
	f.refused(t, "<bomb-1@acme>", alertPolicy, "allow_unsigned_compressed")
	t.Logf("refused in %s", time.Since(start))
}

// With unsigned compressed content allowed, the expansion ratio stops the
// bomb while it streams; without an MDN asked, HTTP 413 says so.
func TestCompressedBombStopsAtRatio(t *testing.T) {
	f := newLimitsFixture(t)
	f.partner.AllowUnsignedCompressed = true
	res, b := f.post(t, "<bomb-2@acme>", "application/pkcs7-mime; smime-type=compressed-data", bomb(bombEntity, 64<<20), true)
	m := f.mdn(t, res, b)
	if m.Modifier != ErrDecompressionFailed || !strings.Contains(m.Explanation, "expands more than 100 times") {
		t.Fatalf("disposition %q: %s", m.Disposition, m.Explanation)
	}
	f.refused(t, "<bomb-2@acme>", alertLimit, "max_expansion", "100 times")

	// The size bound, when the ratio allows more; no MDN: 413.
	f.partner.MaxExpansion, f.partner.MaxDecompressed = 100000, 8<<20
	res, b = f.post(t, "<bomb-3@acme>", "application/pkcs7-mime; smime-type=compressed-data", bomb(bombEntity, 64<<20), false)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "decompression-failed") {
		t.Fatalf("HTTP %s %q, want 413 decompression-failed", res.Status, b)
	}
	f.refused(t, "<bomb-3@acme>", alertLimit, "max_decompressed_mb", "8 MiB")
}

// DecompressStream writes no more than its limit, whatever the content.
func TestDecompressStreamStopsAtLimit(t *testing.T) {
	var n atomic.Int64
	w := writerFunc(func(p []byte) (int, error) { n.Add(int64(len(p))); return len(p), nil })
	err := DecompressStream(bomb("", 64<<20), w, 1<<20)
	if !errors.Is(err, ErrDecompressLimit) || n.Load() > 1<<20 {
		t.Fatalf("err %v after %d bytes, want ErrDecompressLimit at 1 MiB at most", err, n.Load())
	}
	// Unsigned content is stopped on its first bytes.
	n.Store(0)
	err = DecompressStream(bomb(bombEntity, 64<<20), &signedHead{w: w}, 1<<30)
	if !errors.Is(err, errUnsignedCompressed) || n.Load() > maxHeaderBlock {
		t.Fatalf("err %v after %d bytes, want errUnsignedCompressed within the header block", err, n.Load())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The cases RFC 5402 allows with a signature are received: compressed then
// signed (the signature vouches for the compressed bytes: no ratio bound,
// here about 250:1) and signed then compressed (the decompressed entity
// is the signed one).
func TestSignedCompressedAccepted(t *testing.T) {
	f := newLimitsFixture(t)
	payload := bytes.Repeat([]byte("ST*856*0001~\nBSN*00*0001*20260101*1200~\nSE*3*0001~\n"), 3<<20/48)
	send := &Partner{ID: "wharf", AS2ID: "WHARF", Certs: []*x509.Certificate{f.wharf.Cert}, Sign: true, MDN: MDNSync}
	post := func(bt *Built, ctype string, body []byte) *MDN {
		req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/as2", bytes.NewReader(body))
		for k, vs := range bt.Header {
			req.Header[k] = vs
		}
		req.Header.Set("Content-Type", ctype)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return f.mdn(t, res, b)
	}
	built := func(p *Partner, id string) (*Built, []byte) {
		pl := payload
		if strings.HasPrefix(id, "s-then-c-small") { // about 8:1 once signed
			pl = payload[:4<<10]
		}
		bt, err := Build(f.acme, p, Outgoing{MessageID: id, Name: "asn.edi", ContentType: "application/edi-x12", Payload: pl}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { bt.Close() })
		var body bytes.Buffer
		if err := bt.WriteBody(&body); err != nil {
			t.Fatal(err)
		}
		return bt, body.Bytes()
	}

	t.Run("compressed then signed", func(t *testing.T) {
		p := *send
		p.Compress = true
		bt, body := built(&p, "c-then-s")
		if m := post(bt, bt.Header.Get("Content-Type"), body); m.Modifier != "" {
			t.Fatalf("disposition %q: %s", m.Disposition, m.Explanation)
		}
	})
	signThenCompress := func(id string) (*Built, []byte) {
		bt, body := built(send, id)
		cd, err := Compress(append([]byte("Content-Type: "+bt.Header.Get("Content-Type")+"\r\n\r\n"), body...))
		if err != nil {
			t.Fatal(err)
		}
		return bt, cd
	}
	t.Run("signed then compressed", func(t *testing.T) {
		bt, cd := signThenCompress("s-then-c-small")
		if m := post(bt, "application/pkcs7-mime; smime-type=compressed-data", cd); m.Modifier != "" {
			t.Fatalf("disposition %q: %s", m.Disposition, m.Explanation)
		}
	})
	if f.recv.Len() != 2 {
		t.Fatalf("%d payloads archived, want 2", f.recv.Len())
	}
	// Decompressed before the signature is checked: the ratio applies.
	t.Run("signed then compressed, 250:1", func(t *testing.T) {
		bt, cd := signThenCompress("s-then-c-large")
		if m := post(bt, "application/pkcs7-mime; smime-type=compressed-data", cd); m.Modifier != ErrDecompressionFailed || !strings.Contains(m.Explanation, "max_expansion") {
			t.Fatalf("disposition %q: %s", m.Disposition, m.Explanation)
		}
		f.partner.MaxExpansion = 1000
		defer func() { f.partner.MaxExpansion = 0 }()
		bt, cd = signThenCompress("s-then-c-large-allowed")
		if m := post(bt, "application/pkcs7-mime; smime-type=compressed-data", cd); m.Modifier != "" {
			t.Fatalf("with max_expansion 1000: disposition %q: %s", m.Disposition, m.Explanation)
		}
	})
	t.Run("compressed then signed, over max_decompressed_mb", func(t *testing.T) {
		f.partner.MaxDecompressed = 1 << 20
		defer func() { f.partner.MaxDecompressed = 0 }()
		p := *send
		p.Compress = true
		bt, body := built(&p, "c-then-s-big")
		if m := post(bt, bt.Header.Get("Content-Type"), body); m.Modifier != ErrDecompressionFailed {
			t.Fatalf("disposition %q: %s", m.Disposition, m.Explanation)
		}
	})
}

// tripwire is an endless request body that fails the test once more than
// allow bytes are read.
type tripwire struct {
	t     *testing.T
	allow int64
	n     atomic.Int64
}

func (r *tripwire) Read(p []byte) (int, error) {
	if n := r.n.Add(int64(len(p))); n > r.allow {
		r.t.Errorf("the server read %d bytes of the body, more than %d", n, r.allow)
		return 0, errors.New("tripwire")
	}
	clear(p)
	return len(p), nil
}

func (r *tripwire) Close() error { return nil }

// Headers decide before the body is read: a stranger's 600 MB is not
// spooled (the review's: 547 MB spooled, then 400).
func TestHeadersCheckedBeforeBody(t *testing.T) {
	f := newLimitsFixture(t)
	f.partner.MaxBody = 1 << 20
	for _, c := range []struct {
		name, from, to, msgID string
		length                int64
		status                int
		allow                 int64
	}{
		{"unknown AS2-From", "STRANGER", "WHARF", "<a@x>", 600 << 20, http.StatusForbidden, 0},
		{"AS2-To is not Wharf's", "ACME", "SOMEONE", "<b@x>", 600 << 20, http.StatusForbidden, 0},
		{"no Message-ID", "ACME", "WHARF", "", 600 << 20, http.StatusBadRequest, 0},
		{"no AS2-From", "", "WHARF", "<c@x>", 600 << 20, http.StatusBadRequest, 0},
		{"Content-Length past the partner's limit", "ACME", "WHARF", "<d@x>", 600 << 20, http.StatusRequestEntityTooLarge, 0},
		{"chunked past the partner's limit", "ACME", "WHARF", "<e@x>", -1, http.StatusRequestEntityTooLarge, 1<<20 + 64<<10},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := &tripwire{t: t, allow: max(c.allow, 4<<10)}
			req := httptest.NewRequest(http.MethodPost, "/as2", body)
			req.ContentLength = c.length
			req.Header.Set("AS2-From", c.from)
			req.Header.Set("AS2-To", c.to)
			req.Header.Set("Message-ID", c.msgID)
			req.Header.Set("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("HTTP %d %q, want %d", rec.Code, rec.Body, c.status)
			}
			if c.allow == 0 && body.n.Load() != 0 {
				t.Fatalf("%d bytes of the body read before answering", body.n.Load())
			}
			if left, _ := os.ReadDir(f.spool); len(left) != 0 {
				t.Fatalf("%d spool files left", len(left))
			}
		})
	}

	// Over the network, a sender that waits for 100 Continue never sends
	// the body at all.
	body := &tripwire{t: t, allow: 0}
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/as2", body)
	req.ContentLength = 600 << 20
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("AS2-From", "STRANGER")
	req.Header.Set("AS2-To", "WHARF")
	req.Header.Set("Message-ID", "<f@x>")
	cl := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 30 * time.Second}}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || body.n.Load() != 0 {
		t.Fatalf("HTTP %s after %d body bytes sent, want 403 and none", res.Status, body.n.Load())
	}
}

// A body that stalls, or dribbles below the minimum rate, is cut off with
// 408; the connection is not held open.
func TestSlowBodyAnswers408(t *testing.T) {
	for _, c := range []struct {
		name  string
		every time.Duration // a byte every; 0: stall after the first bytes
	}{{"stalls", 0}, {"dribbles", 50 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			f := newLimitsFixture(t)
			f.srv.BodyIdle, f.srv.MinBodyRate = 300*time.Millisecond, 64<<10
			conn, err := net.Dial("tcp", f.http.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: ACME\r\nAS2-To: WHARF\r\nMessage-ID: <slow@acme>\r\n"+
				"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n0123456789")
			stop := make(chan struct{})
			defer close(stop)
			if c.every > 0 {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(c.every):
							if _, err := conn.Write([]byte("x")); err != nil {
								return
							}
						}
					}
				}()
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer after %s: %v", time.Since(start), err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("HTTP %s, want 408", res.Status)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("answered after %s", d)
			}
		})
	}
}

type disabledDir struct{}

func (disabledDir) ByAS2ID(_ context.Context, id string) (*Partner, error) {
	return nil, fmt.Errorf("%w: partner acme", ErrPartnerDisabled)
}

// A partner its operators disabled is refused on its headers, as an
// unknown one is: 403 naming the suspended relationship, no body read.
func TestDisabledPartnerRefusedBeforeBody(t *testing.T) {
	f := newLimitsFixture(t)
	f.srv.Partners = disabledDir{}
	body := &tripwire{t: t, allow: 4 << 10}
	req := httptest.NewRequest(http.MethodPost, "/as2", body)
	req.ContentLength = 600 << 20
	req.Header.Set("AS2-From", "ACME")
	req.Header.Set("AS2-To", "WHARF")
	req.Header.Set("Message-ID", "<disabled@x>")
	req.Header.Set("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "suspended") || body.n.Load() != 0 {
		t.Fatalf("HTTP %d %q after %d body bytes, want 403 naming the suspended relationship and none read", rec.Code, rec.Body, body.n.Load())
	}
}
