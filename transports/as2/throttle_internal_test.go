package as2

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type twoDir struct{ a, b *Partner }

func (d twoDir) ByAS2ID(_ context.Context, id string) (*Partner, error) {
	for _, p := range []*Partner{d.a, d.b} {
		if p.AS2ID == id {
			return p, nil
		}
	}
	return nil, ErrUnknownPartner
}

// A partner over its rate limit is answered 429 with Retry-After on its
// headers, before a byte of its body is read, and nothing is received;
// another partner meanwhile goes on to its body.
func TestThrottledPartnerRefusedBeforeBody(t *testing.T) {
	f := newLimitsFixture(t)
	beta := &Partner{ID: "beta", AS2ID: "BETA", Certs: f.partner.Certs}
	f.srv.Partners = twoDir{f.partner, beta}
	asked := map[string]int{}
	f.srv.Throttle = func(_ context.Context, partner string) (int, string) {
		asked[partner]++
		if partner == "acme" {
			return 12, "rate limit of acme at as2: 6 requests per minute (burst 1); retry in 12 s"
		}
		return 0, ""
	}
	send := func(from, msgID string, body *tripwire) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/as2", body)
		req.ContentLength = 1 << 20
		req.Header.Set("AS2-From", from)
		req.Header.Set("AS2-To", "WHARF")
		req.Header.Set("Message-ID", msgID)
		req.Header.Set("Content-Type", "application/pkcs7-mime; smime-type=enveloped-data")
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 10; i++ {
		body := &tripwire{t: t, allow: 0}
		rec := send("ACME", "<flood@x>", body)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "12" || !strings.Contains(rec.Body.String(), "rate limit of acme") {
			t.Fatalf("throttled partner: HTTP %d, Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if f.recv.Len() != 0 {
		t.Fatalf("%d payloads received from a throttled partner", f.recv.Len())
	}
	if rec, _ := f.books.Lookup(t.Context(), &RecordKey{PartnerID: "acme", AS2MessageID: "<flood@x>", Direction: Inbound}); rec != nil {
		t.Fatalf("a refused request left a record: %+v", rec)
	}
	body := &tripwire{t: nil, allow: 1 << 30}
	if rec := send("BETA", "<beta@x>", body); rec.Code == http.StatusTooManyRequests || body.n.Load() == 0 {
		t.Fatalf("beta: HTTP %d after %d body bytes; its request must go on to its body", rec.Code, body.n.Load())
	}
	if asked["acme"] != 10 || asked["beta"] != 1 {
		t.Fatalf("limits asked %v", asked)
	}
}
