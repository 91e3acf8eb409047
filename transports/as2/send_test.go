package as2_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports"
	"github.com/wharfedi/wharf/transports/as2"
)

// loop is Wharf sending to another Wharf on loopback: the sender's client
// and its own /as2 endpoint (for async MDNs), and the receiving endpoint,
// each with its own books.
type loop struct {
	dir        string
	wharf      *party // the sender, AS2 name "wharf"
	acme       *party // the receiver, AS2 name "ACME"
	client     *as2.Client
	sendBooks  *memBooks
	recvBooks  *memBooks
	recv       *memReceiver
	acmeAtRecv *as2.Partner // how the receiver sees the sender
	acmeToSend *as2.Partner // how the sender sees the receiver
	sender     *httptest.Server
	receiver   *httptest.Server
}

func newLoop(t testing.TB) *loop {
	t.Helper()
	d := t.TempDir()
	l := &loop{dir: d, wharf: newParty(t, d, "wharf", time.Time{}), acme: newParty(t, d, "ACME", time.Time{}),
		sendBooks: newBooks(), recvBooks: newBooks(), recv: newReceiver()}
	l.acmeAtRecv = &as2.Partner{ID: "wharf-co", AS2ID: "wharf", Certs: []*x509.Certificate{l.wharf.id.Cert}}
	rs := &as2.Server{Identity: l.acme.id, Partners: dir{"wharf": l.acmeAtRecv}, Receiver: l.recv, Books: l.recvBooks}
	l.receiver = httptest.NewServer(rs)
	t.Cleanup(l.receiver.Close)
	l.client = &as2.Client{Identity: l.wharf.id, Books: l.sendBooks}
	l.acmeToSend = &as2.Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{l.acme.id.Cert}, URL: l.receiver.URL + "/as2",
		Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true, MDNTimeout: time.Hour}
	ss := &as2.Server{Identity: l.wharf.id, Partners: dir{"ACME": l.acmeToSend}, Receiver: newReceiver(), Books: l.sendBooks, OnMDN: l.client.HandleMDN}
	l.sender = httptest.NewServer(ss)
	t.Cleanup(l.sender.Close)
	l.acmeToSend.AsyncMDNURL = l.sender.URL + "/as2"
	return l
}

// deliverAsyncMDN posts the async MDN the receiver archived for msgID to
// the URL the sender asked for, as Wharf's deliverer does.
func (l *loop) deliverAsyncMDN(t testing.TB, msgID string) *http.Response {
	t.Helper()
	rec, _ := l.recvBooks.Lookup(context.Background(), &as2.RecordKey{PartnerID: l.acmeAtRecv.ID, AS2MessageID: msgID, Direction: as2.Inbound})
	if rec == nil || rec.MDNMode != as2.MDNAsync || rec.MDNID == "" {
		t.Fatalf("receiver record %+v: want an async MDN archived", rec)
	}
	b, _ := l.recvBooks.OpenEvidence(context.Background(), rec.MDNID)
	e, err := as2.ParseEntity(b)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", rec.MDNURL, bytes.NewReader(e.Body))
	for k, vs := range e.Header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestWharfToWharf(t *testing.T) {
	l := newLoop(t)
	payload := []byte(strings.Repeat(x12Payload, 20))
	cases := []struct {
		name string
		set  func(p *as2.Partner)
	}{
		{"signed+aes256cbc (defaults)", func(p *as2.Partner) {}},
		{"signed+aes128cbc+oaep", func(p *as2.Partner) { p.Cipher, p.KeyWrap = as2.AES128CBC, as2.RSAOAEPSHA256 }},
		{"signed+aes128gcm", func(p *as2.Partner) { p.Cipher = as2.AES128GCM }},
		{"signed+aes256gcm+compressed", func(p *as2.Partner) { p.Cipher, p.Compress = as2.AES256GCM, true }},
		{"signed+compressed, not encrypted", func(p *as2.Partner) { p.Cipher, p.Compress = "", true }},
		{"encrypted, not signed", func(p *as2.Partner) { p.Sign = false }},
		{"plain, unsigned MDN", func(p *as2.Partner) { p.Sign, p.Cipher, p.SignedMDN = false, "", false }},
		{"signed+aes256cbc, payload in base64", func(p *as2.Partner) { p.Base64 = true }},
	}
	for i, c := range cases {
		for _, mode := range []as2.MDNMode{as2.MDNSync, as2.MDNAsync} {
			t.Run(c.name+"/"+string(mode), func(t *testing.T) {
				p := *l.acmeToSend
				c.set(&p)
				p.MDN = mode
				id := fmt.Sprintf("m%d%s", i, mode)
				sent, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: id, Name: "invoice.edi", ContentType: "application/edi-x12", Payload: payload})
				if err != nil {
					t.Fatal(err)
				}
				if mode == as2.MDNAsync {
					if sent.Status != lifecycle.StatusAwaitingMDN || l.sendBooks.Outcome(id) != lifecycle.StatusAwaitingMDN {
						t.Fatalf("async send: status %q / %q, want awaiting_mdn", sent.Status, l.sendBooks.Outcome(id))
					}
					if res := l.deliverAsyncMDN(t, sent.AS2MessageID); res.StatusCode != 200 {
						t.Fatalf("async MDN answered %s", res.Status)
					}
				}
				if got := l.sendBooks.Outcome(id); got != lifecycle.StatusDelivered {
					t.Fatalf("outcome %q, want delivered; history:\n%s", got, l.sendBooks.History(id))
				}
				rec, _ := l.sendBooks.Lookup(t.Context(), &as2.RecordKey{PartnerID: "acme", AS2MessageID: sent.AS2MessageID, Direction: as2.Outbound})
				if rec == nil || rec.MDNID == "" || l.sendBooks.Parent(rec.MDNID) != id || rec.Disposition != "processed" {
					t.Fatalf("sender record %+v: want the MDN archived and linked to %s", rec, id)
				}
				in, _ := l.recvBooks.Lookup(t.Context(), &as2.RecordKey{PartnerID: "wharf-co", AS2MessageID: sent.AS2MessageID, Direction: as2.Inbound})
				if in == nil || !bytes.Equal(payloadOf(l.recv, in.MessageID), payload) || nameOf(l.recv, in.MessageID) != "invoice.edi" {
					t.Fatalf("receiver did not get the payload intact: %+v", in)
				}
				if !as2.SameMIC(in.MIC, sent.MIC) {
					t.Fatalf("receiver MIC %q, sender %q", in.MIC, sent.MIC)
				}
				// The evidence is settled: the raw request once its payload
				// is archived, the MDN the receiver returned once written
				// (a sync one; an async one is delivered by the deliverer),
				// the MDN the sender got once matched.
				if got := l.recvBooks.Outcome(in.RawID); got != lifecycle.StatusProcessed || !strings.Contains(l.recvBooks.History(in.RawID), in.MessageID) {
					t.Errorf("raw request %s: %q, want processed naming the payload %s; history:\n%s", in.RawID, got, in.MessageID, l.recvBooks.History(in.RawID))
				}
				if mode == as2.MDNSync {
					settled(l.recvBooks, in.MDNID, lifecycle.StatusDelivered)
				}
				if got := l.recvBooks.Outcome(in.MDNID); mode == as2.MDNSync && got != lifecycle.StatusDelivered || mode == as2.MDNAsync && got != "" {
					t.Errorf("the receiver's %s MDN %s: %q", mode, in.MDNID, got)
				}
				if got := l.sendBooks.Outcome(rec.MDNID); got != lifecycle.StatusProcessed || !strings.Contains(l.sendBooks.History(rec.MDNID), "the message is delivered") {
					t.Errorf("the MDN the sender got (%s): %q, want processed; history:\n%s", rec.MDNID, got, l.sendBooks.History(rec.MDNID))
				}
			})
		}
	}

	t.Run("a repeated async MDN changes nothing", func(t *testing.T) {
		p := *l.acmeToSend
		p.MDN = as2.MDNAsync
		sent, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "again", Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		l.deliverAsyncMDN(t, sent.AS2MessageID)
		if res := l.deliverAsyncMDN(t, sent.AS2MessageID); res.StatusCode != 200 {
			t.Fatalf("repeated MDN answered %s", res.Status)
		}
		if got := l.sendBooks.Outcome("again"); got != lifecycle.StatusDelivered || !strings.Contains(l.sendBooks.History("again"), "mdn_late") {
			t.Fatalf("outcome %q, history %s", got, l.sendBooks.History("again"))
		}
	})

	t.Run("a retried send is a duplicate for the receiver", func(t *testing.T) {
		p := *l.acmeToSend
		o := as2.Outgoing{MessageID: "retry", Payload: payload}
		s1, err := l.client.Send(t.Context(), &p, o)
		if err != nil {
			t.Fatal(err)
		}
		// As if the first attempt's outcome had not been recorded (a crash
		// between the POST and the bookkeeping): the attempt is sent again.
		l.sendBooks.Forget(&as2.RecordKey{PartnerID: "acme", AS2MessageID: s1.AS2MessageID, Direction: as2.Outbound})
		s2, err := l.client.Send(t.Context(), &p, o)
		if err != nil {
			t.Fatal(err)
		}
		if s1.AS2MessageID != s2.AS2MessageID || s2.Status != lifecycle.StatusDelivered {
			t.Fatalf("second attempt: %+v", s2)
		}
		in, _ := l.recvBooks.Lookup(t.Context(), &as2.RecordKey{PartnerID: "wharf-co", AS2MessageID: s1.AS2MessageID, Direction: as2.Inbound})
		if evs := l.recvBooks.History(in.MessageID); !strings.Contains(evs, "duplicate") {
			t.Fatalf("receiver did not see a duplicate: %s", evs)
		}
		// Once settled, a further attempt sends nothing.
		s3, err := l.client.Send(t.Context(), &p, o)
		if err != nil || s3.Status != lifecycle.StatusDelivered || !strings.Contains(s3.Detail, "not sent again") {
			t.Fatalf("attempt after settling: %+v %v", s3, err)
		}
		if evs := l.recvBooks.History(in.MessageID); strings.Count(evs, "duplicate") != 1 {
			t.Fatalf("the settled message was posted again: %s", evs)
		}
	})
}

func TestSendFailures(t *testing.T) {
	l := newLoop(t)
	payload := []byte(x12Payload)

	t.Run("negative MDN names the partner, the disposition and the fix", func(t *testing.T) {
		l.acmeAtRecv.RequireEncrypted = true
		defer func() { l.acmeAtRecv.RequireEncrypted = false }()
		p := *l.acmeToSend
		p.Cipher = ""
		sent, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "neg", Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		h := l.sendBooks.History("neg")
		if sent.Status != lifecycle.StatusFailed || l.sendBooks.Outcome("neg") != lifecycle.StatusFailed {
			t.Fatalf("status %q", sent.Status)
		}
		for _, want := range []string{"partner acme", as2.ErrInsufficientSecurity, "partners[].as2", "wharf replay", "is not encrypted; partner wharf-co must encrypt"} {
			if !strings.Contains(h, want) {
				t.Errorf("history lacks %q:\n%s", want, h)
			}
		}
		// The receiver's raw request is rejected, with the reason; the
		// negative MDN it returned was delivered (recorded just after the
		// response left, so maybe a moment after the client has it).
		in, _ := l.recvBooks.Lookup(t.Context(), &as2.RecordKey{PartnerID: "wharf-co", AS2MessageID: sent.AS2MessageID, Direction: as2.Inbound})
		if in != nil {
			settled(l.recvBooks, in.MDNID, lifecycle.StatusDelivered)
		}
		if in == nil || l.recvBooks.Outcome(in.RawID) != lifecycle.StatusRejected || !strings.Contains(l.recvBooks.History(in.RawID), "failed: ") ||
			!strings.Contains(l.recvBooks.History(in.RawID), as2.ErrInsufficientSecurity) || l.recvBooks.Outcome(in.MDNID) != lifecycle.StatusDelivered {
			t.Errorf("receiver's record %+v; raw request %q: %s", in, l.recvBooks.Outcome(in.RawID), l.recvBooks.History(in.RawID))
		}
	})

	t.Run("MDN signed by a certificate Wharf does not hold", func(t *testing.T) {
		other := newParty(t, l.dir, "other", time.Time{})
		p := *l.acmeToSend
		// Unencrypted, and the MDN verified against another certificate only.
		p.Cipher = ""
		p.Certs = []*x509.Certificate{other.id.Cert}
		sent, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "badsig", Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if sent.Status != lifecycle.StatusFailed || !strings.Contains(sent.Detail, "cannot be trusted") || !strings.Contains(sent.Detail, "wharf partner add acme --as2-cert") {
			t.Fatalf("status %q detail %s", sent.Status, sent.Detail)
		}
	})

	t.Run("forged async MDN is refused and settles nothing", func(t *testing.T) {
		p := *l.acmeToSend
		p.MDN = as2.MDNAsync
		sent, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "forged", Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		// The MDN arrives re-signed by someone else: the sender's view of
		// ACME holds only ACME's certificate, so it must refuse it.
		mallory := newParty(t, l.dir, "mallory", time.Time{})
		rec, _ := l.recvBooks.Lookup(t.Context(), &as2.RecordKey{PartnerID: "wharf-co", AS2MessageID: sent.AS2MessageID, Direction: as2.Inbound})
		b, _ := l.recvBooks.OpenEvidence(t.Context(), rec.MDNID)
		// Re-sign the report part with mallory's key.
		e, _ := as2.ParseEntity(b)
		_, params := e.MediaType()
		parts, _ := as2.Parts(e.Body, params["boundary"])
		ct, body, err := as2.SignEntity(parts[0], mallory.id)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", rec.MDNURL, bytes.NewReader(body))
		for k, vs := range e.Header {
			req.Header[k] = vs
		}
		req.Header.Set("Content-Type", ct)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Fatalf("forged MDN answered %s, want 400", res.Status)
		}
		if got := l.sendBooks.Outcome("forged"); got != lifecycle.StatusAwaitingMDN {
			t.Fatalf("outcome %q after a forged MDN, want still awaiting", got)
		}
	})

	t.Run("HTTP status decides retry or not", func(t *testing.T) {
		var code atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Error(w, "nope", int(code.Load()))
		}))
		defer srv.Close()
		p := *l.acmeToSend
		p.URL = srv.URL
		for _, c := range []struct {
			code      int
			permanent error
		}{{503, nil}, {500, nil}, {429, nil}, {400, transports.ErrRejected}, {404, transports.ErrRejected}, {403, transports.ErrPermission}} {
			code.Store(int32(c.code))
			_, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "http", Payload: payload})
			if err == nil {
				t.Fatalf("HTTP %d: no error", c.code)
			}
			perm := errors.Is(err, transports.ErrRejected) || errors.Is(err, transports.ErrPermission)
			if (c.permanent == nil) == perm || (c.permanent != nil && !errors.Is(err, c.permanent)) {
				t.Errorf("HTTP %d: %v (permanent %v)", c.code, err, perm)
			}
			if !strings.Contains(err.Error(), "partner acme") {
				t.Errorf("HTTP %d: the error does not name the partner: %v", c.code, err)
			}
		}
		srv.Close()
		if _, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "down", Payload: payload}); err == nil || errors.Is(err, transports.ErrRejected) {
			t.Fatalf("connection refused: %v, want a retryable error", err)
		}
	})

	t.Run("configuration errors are permanent and say what to set", func(t *testing.T) {
		for _, c := range []struct {
			set  func(p *as2.Partner)
			want string
		}{
			{func(p *as2.Partner) { p.URL = "" }, "partners[].as2.url"},
			{func(p *as2.Partner) { p.Certs = nil }, "--as2-cert"},
			{func(p *as2.Partner) { p.MDN, p.AsyncMDNURL = as2.MDNAsync, "" }, "as2.public_url"},
			{func(p *as2.Partner) {
				old := newParty(t, l.dir, "ACME-expired", time.Now().Add(-time.Hour))
				p.Certs, p.SignedMDN = []*x509.Certificate{old.id.Cert}, false
			}, "none of partner acme's certificates is valid"},
		} {
			p := *l.acmeToSend
			c.set(&p)
			_, err := l.client.Send(t.Context(), &p, as2.Outgoing{MessageID: "cfg", Payload: payload})
			if !errors.Is(err, transports.ErrRejected) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a permanent error naming %q", err, c.want)
			}
		}
	})
}

// settled waits up to 10 s for the evidence's outcome to be want: a
// synchronous MDN is recorded delivered just after the response carrying
// it left, which may be a moment after the client has it.
func settled(b *memBooks, id string, want lifecycle.Status) {
	for end := time.Now().Add(10 * time.Second); b.Outcome(id) != want && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
}
