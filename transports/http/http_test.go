package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/transports"
	whttp "github.com/wharfedi/wharf/transports/http"
)

var ctx = context.Background()

func inboundServer(t *testing.T, e *flowtest.Env) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/inbound/{partner}", &whttp.Inbound{
		Receiver:   e.Gateway,
		Authorized: func(p, tok string) bool { return p == "tms" && whttp.TokenMatches(tok, "s3cret", "") },
		MaxBytes:   func(string) int64 { return 1 << 10 },
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, token, ctype, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestInbound: the body is archived before the 201; wrong tokens, bad
// JSON and oversized bodies are refused and archive nothing; a repeated
// Idempotency-Key is recorded once.
func TestInbound(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"tms"}, func(t *testing.T, e *flowtest.Env) {
		srv := inboundServer(t, e)
		u := srv.URL + "/api/v1/inbound/tms"
		if code, _ := post(t, u, "wrong", "text/plain", "x", nil); code != 401 {
			t.Fatalf("wrong token: %d", code)
		}
		if code, _ := post(t, srv.URL+"/api/v1/inbound/other", "s3cret", "text/plain", "x", nil); code != 401 {
			t.Fatalf("another partner with this token: %d", code)
		}
		if code, _ := post(t, u, "s3cret", "application/json", `{"a":`, nil); code != 400 {
			t.Fatalf("bad json: %d", code)
		}
		if code, _ := post(t, u, "s3cret", "application/octet-stream", strings.Repeat("x", 2<<10), nil); code != 413 {
			t.Fatalf("too large: %d", code)
		}
		if n := len(e.Inbound(t, "tms")); n != 0 {
			t.Fatalf("refused requests archived %d messages", n)
		}
		at := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
		e.Gateway.Foreground = foreground.New(func() time.Time { return at }) // standing still: busy once told
		code, body := post(t, u+"?filename=status.jsonl", "s3cret", "application/json", "{\"a\":1}\n{\"a\":2}\n", map[string]string{"Idempotency-Key": "k1"})
		if code != 201 {
			t.Fatalf("post: %d %s", code, body)
		}
		if !e.Gateway.Foreground.Busy() {
			t.Fatal("a post was handed over as if no client waited for its response (Incoming.Awaited)")
		}
		ms := e.Inbound(t, "tms")
		if len(ms) != 1 || !strings.Contains(body, ms[0].ID) || ms[0].Transport != "http" || ms[0].RemoteName != "status.jsonl" || e.Bytes(t, ms[0].ID) != "{\"a\":1}\n{\"a\":2}\n" {
			t.Fatalf("archived %+v, answer %s", ms, body)
		}
		code, body2 := post(t, u+"?filename=status.jsonl", "s3cret", "application/json", "{\"a\":1}\n{\"a\":2}\n", map[string]string{"Idempotency-Key": "k1"})
		if code != 201 || body2 != body || len(e.Inbound(t, "tms")) != 1 {
			t.Fatalf("repeat with the same key: %d %s, %d messages", code, body2, len(e.Inbound(t, "tms")))
		}
		code, _ = post(t, u, "s3cret", "application/edi-x12", "ISA*...", map[string]string{"X-Wharf-Filename": "../../x.edi"})
		if ms := e.Inbound(t, "tms"); code != 201 || ms[0].RemoteName != "x.edi" {
			t.Fatalf("file post: %d %+v", code, ms[0])
		}
	})
}

func outgoing(body string) whttp.Outgoing {
	return whttp.Outgoing{MessageID: "m1", Partner: "erp", Name: "inv.json", SHA256: "abc", IdempotencyKey: "m1",
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

// TestWebhookSignsAndClassifies: the receiver can verify the signature;
// 5xx and timeouts are transient, 4xx are permanent (ErrRejected).
func TestWebhookSignsAndClassifies(t *testing.T) {
	secret := []byte("hook-secret")
	var status atomic.Int32
	status.Store(200)
	var verified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := whttp.Verify(secret, r.Header.Get(whttp.HeaderTimestamp), r.Header.Get(whttp.HeaderSignature), b, time.Now(), 5*time.Minute); err == nil &&
			r.Header.Get("Idempotency-Key") == "m1" && r.Header.Get("Content-Type") == "application/json" {
			verified.Add(1)
		}
		if status.Load() == 0 {
			time.Sleep(2 * time.Second) // longer than the client's timeout
			return
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, "answer")
	}))
	defer srv.Close()
	wh := &whttp.Webhook{URL: srv.URL, Secret: secret, Timeout: 200 * time.Millisecond}
	if _, err := wh.Send(ctx, outgoing(`{"x":1}`)); err != nil || verified.Load() != 1 {
		t.Fatalf("2xx: %v, verified %d", err, verified.Load())
	}
	for _, code := range []int32{500, 503, 429, 408} {
		status.Store(code)
		if _, err := wh.Send(ctx, outgoing(`{}`)); err == nil || errors.Is(err, transports.ErrRejected) {
			t.Fatalf("%d must be a transient error: %v", code, err)
		}
	}
	for _, code := range []int32{400, 401, 404, 422} {
		status.Store(code)
		if _, err := wh.Send(ctx, outgoing(`{}`)); !errors.Is(err, transports.ErrRejected) {
			t.Fatalf("%d must fail at once: %v", code, err)
		}
	}
	status.Store(0)
	if _, err := wh.Send(ctx, outgoing(`{}`)); err == nil || errors.Is(err, transports.ErrRejected) {
		t.Fatalf("a timeout must be transient: %v", err)
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_800_000_000, 0)
	sig := whttp.Sign(secret, now.Unix(), []byte("body"))
	ts := fmt.Sprint(now.Unix())
	if err := whttp.Verify(secret, ts, sig, []byte("body"), now, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"body":   whttp.Verify(secret, ts, sig, []byte("bodY"), now, time.Minute),
		"secret": whttp.Verify([]byte("other"), ts, sig, []byte("body"), now, time.Minute),
		"old":    whttp.Verify(secret, ts, sig, []byte("body"), now.Add(time.Hour), time.Minute),
	} {
		if !errors.Is(err, whttp.ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Guessing a partner's token: once the guard locks the address out, the
// inbound answers 429 with Retry-After without looking at the token, and
// each wrong token counts.
func TestInboundGuard(t *testing.T) {
	g := &countingGuard{lockAfter: 3}
	h := &whttp.Inbound{
		Authorized: func(p, tok string) bool { return p == "tms" && whttp.TokenMatches(tok, "s3cret", "") },
		Guard:      g,
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/inbound/{partner}", h)
	try := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/inbound/tms", strings.NewReader("x"))
		req.RemoteAddr = "192.0.2.9:5000"
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}
	for i := 0; i < 3; i++ {
		if w := try("guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, w.Code)
		}
	}
	w := try("s3cret")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "42" {
		t.Fatalf("locked address: %d, Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if g.fails != 3 || g.addr != "192.0.2.9:5000" {
		t.Errorf("guard saw %d failures from %q, want 3 from the client's address", g.fails, g.addr)
	}
}

type countingGuard struct {
	lockAfter, fails int
	addr             string
}

func (g *countingGuard) Locked(string) (bool, time.Duration) {
	return g.fails >= g.lockAfter, 41*time.Second + time.Millisecond
}

func (g *countingGuard) Fail(addr string) bool {
	g.fails++
	g.addr = addr
	return g.fails == g.lockAfter
}

// A partner an operator disabled is refused with 403 even with its right
// token, and nothing is archived; enabled again, its post is archived.
func TestInboundDisabledPartner(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"tms"}, func(t *testing.T, e *flowtest.Env) {
		mux := http.NewServeMux()
		mux.Handle("POST /api/v1/inbound/{partner}", &whttp.Inbound{
			Receiver:   e.Gateway,
			Authorized: func(p, tok string) bool { return p == "tms" && whttp.TokenMatches(tok, "s3cret", "") },
			Disabled: func(ctx context.Context, partner string) (bool, error) {
				p, err := e.Store.GetPartner(ctx, partner)
				if err != nil {
					return false, err
				}
				return p.Disabled(), nil
			},
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		u := srv.URL + "/api/v1/inbound/tms"
		if err := e.Store.SetPartnerDisabled(ctx, "tms", true); err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, u, "s3cret", "text/plain", "x", nil); code != 403 || !strings.Contains(body, "disabled") {
			t.Fatalf("disabled partner: %d %s", code, body)
		}
		if code, _ := post(t, u, "wrong", "text/plain", "x", nil); code != 401 {
			t.Fatalf("a wrong token learns nothing about the partner: %d", code)
		}
		if n := len(e.Inbound(t, "tms")); n != 0 {
			t.Fatalf("a disabled partner's post archived %d messages", n)
		}
		if err := e.Store.SetPartnerDisabled(ctx, "tms", false); err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, u, "s3cret", "text/plain", "x", nil); code != 201 || len(e.Inbound(t, "tms")) != 1 {
			t.Fatalf("enabled again: %d %s", code, body)
		}
	})
}

// A partner over its rate limit is answered 429 with Retry-After and
// nothing of it is archived; another partner posting meanwhile is never
// refused.
func TestInboundThrottle(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"tms", "erp"}, func(t *testing.T, e *flowtest.Env) {
		seen := map[string]int{}
		mux := http.NewServeMux()
		mux.Handle("POST /api/v1/inbound/{partner}", &whttp.Inbound{
			Receiver:   e.Gateway,
			Authorized: func(p, tok string) bool { return whttp.TokenMatches(tok, p+"-s3cret", "") },
			Throttle: func(_ context.Context, partner string) (int, string) {
				seen[partner]++
				if seen[partner] > 2 { // each partner: 2 requests, then refused
					return 7, "rate limit of " + partner + " at http: 2 requests per minute (burst 2); retry in 7 s"
				}
				return 0, ""
			},
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		codes := map[int]int{}
		for i := 0; i < 20; i++ { // tms at ten times its limit
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/inbound/tms", strings.NewReader(fmt.Sprint("x", i)))
			req.Header.Set("Authorization", "Bearer tms-s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && (resp.Header.Get("Retry-After") != "7" || !strings.Contains(string(b), "rate limit of tms")) {
				t.Fatalf("429 with Retry-After %q: %s", resp.Header.Get("Retry-After"), b)
			}
			if i == 10 {
				if code, body := post(t, srv.URL+"/api/v1/inbound/erp", "erp-s3cret", "text/plain", "y", nil); code != 201 {
					t.Fatalf("erp refused while tms floods: %d %s", code, body)
				}
			}
		}
		if codes[201] != 2 || codes[429] != 18 {
			t.Fatalf("tms statuses %v, want 2 × 201 and 18 × 429", codes)
		}
		if n := len(e.Inbound(t, "tms")); n != 2 {
			t.Fatalf("%d tms messages archived, want the 2 accepted", n)
		}
		if code, _ := post(t, srv.URL+"/api/v1/inbound/tms", "wrong", "text/plain", "x", nil); code != 401 {
			t.Fatalf("an unauthenticated request is refused before the limit: %d", code)
		}
		if seen["tms"] != 20 {
			t.Fatalf("the limit was asked %d times for tms, want 20 (never for a wrong token)", seen["tms"])
		}
	})
}
