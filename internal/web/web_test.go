package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

type fixture struct {
	t    *testing.T
	st   store.Store
	a    *archive.Archive
	s    *Server
	srv  *httptest.Server
	toks map[string]string // role -> token
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	fsb, err := archive.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.New(st, archive.Options{Blobs: fsb})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Archive: a})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	mux.Handle("/{$}", s)
	f := &fixture{t: t, st: st, a: a, s: s, srv: httptest.NewServer(mux), toks: map[string]string{}}
	t.Cleanup(f.srv.Close)
	for _, role := range []string{store.RoleAuditor, store.RoleOperator, store.RoleAdmin} {
		tok, _, err := MintToken(ctx, st, role, role+"-test")
		if err != nil {
			t.Fatal(err)
		}
		f.toks[role] = tok
	}
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme", Name: "ACME"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) put(dir store.Direction, name, body string) *archive.Entry {
	f.t.Helper()
	e, err := f.a.Put(context.Background(), strings.NewReader(body), archive.Meta{Partner: "acme", Direction: dir, Transport: "cli", RemoteName: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) call(method, path, role string, body io.Reader) (*http.Response, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.toks[role])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAPI(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		in := f.put(store.Inbound, "po.edi", "ISA*00*nothing to see")
		if err := st.AddMessageKeys(ctx, in.ID, []store.Key{{Kind: "po", Value: "PO-4711"}}); err != nil {
			t.Fatal(err)
		}

		t.Run("Unauthenticated", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/messages", "", nil)
			if resp.StatusCode != 401 || !strings.Contains(string(b), "wharf token create") {
				t.Fatalf("got %d %s", resp.StatusCode, b)
			}
			req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer wharf_00000000_nope")
			resp2, _ := http.DefaultClient.Do(req)
			resp2.Body.Close()
			if resp2.StatusCode != 401 {
				t.Fatalf("bad token: got %d", resp2.StatusCode)
			}
		})
		t.Run("SearchAndDetail", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/messages?partner=acme&key=PO-4711", store.RoleAuditor, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), in.ID) {
				t.Fatalf("search: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/messages?since=yesterday", store.RoleAuditor, nil)
			if resp.StatusCode != 400 || !strings.Contains(string(b), "RFC 3339") {
				t.Fatalf("bad since: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/messages?since=2026-01-31", store.RoleAuditor, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("a date as since: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/jobs?state=bogus", store.RoleAuditor, nil)
			if resp.StatusCode != 400 || !strings.Contains(string(b), "not a job state") || !strings.Contains(string(b), "completed") {
				t.Fatalf("bad job state: %d %s", resp.StatusCode, b)
			}
			// A bad value or a misspelt filter is refused with the valid
			// ones, never answered with everything.
			for path, want := range map[string]string{
				"/api/v1/exceptions?status=bogus":                    "open, resolved, dismissed, all",
				"/api/v1/exceptions?owner=bob":                       "it, operations",
				"/api/v1/messages?status=done":                       "received, waiting",
				"/api/v1/messages?partnr=acme":                       "takes: partner, direction",
				"/api/v1/messages?before_id=x":                       "before_id without before",
				"/api/v1/overview?window=1h":                         "takes no query parameters",
				"/api/v1/archive/verify?skip_blobs=yes":              "skip_blobs=true",
				"/api/v1/messages?since=2026-02-01&until=2026-01-31": "before since",
			} {
				method := "GET"
				if strings.Contains(path, "verify") {
					method = "POST"
				}
				resp, b = f.call(method, path, store.RoleAuditor, nil)
				if resp.StatusCode != 400 || !strings.Contains(string(b), want) {
					t.Errorf("%s: %d %s, want 400 saying %q", path, resp.StatusCode, b, want)
				}
			}
			resp, b = f.call("GET", "/api/v1/exceptions?status=all", store.RoleAuditor, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status=all: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/messages/"+in.ID, store.RoleAuditor, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"PO-4711"`) || !strings.Contains(string(b), `"received"`) {
				t.Fatalf("detail: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/messages/nope", store.RoleAuditor, nil)
			if resp.StatusCode != 404 {
				t.Fatalf("missing: %d %s", resp.StatusCode, b)
			}
		})
		t.Run("DownloadAsAuditor", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/messages/"+in.ID+"/content", store.RoleAuditor, nil)
			sum := sha256.Sum256(b)
			if resp.StatusCode != 200 || string(b) != "ISA*00*nothing to see" || resp.Header.Get("X-Content-SHA256") != hex.EncodeToString(sum[:]) {
				t.Fatalf("download: %d %q %s", resp.StatusCode, b, resp.Header.Get("X-Content-SHA256"))
			}
			evs, _ := st.AuditEvents(ctx, "", 10)
			if len(evs) == 0 || evs[0].Kind != "download" || !strings.HasPrefix(evs[0].Actor, "token:") {
				t.Fatalf("download not audited: %+v", evs)
			}
		})
		t.Run("Roles", func(t *testing.T) {
			resp, b := f.call("POST", "/api/v1/messages/"+in.ID+"/replay", store.RoleAuditor, nil)
			if resp.StatusCode != 403 || !strings.Contains(string(b), "operator") {
				t.Fatalf("auditor replay: %d %s", resp.StatusCode, b)
			}
			resp, _ = f.call("GET", "/api/v1/audit", store.RoleOperator, nil)
			if resp.StatusCode != 403 {
				t.Fatalf("operator audit: %d", resp.StatusCode)
			}
			resp, _ = f.call("GET", "/api/v1/audit", store.RoleAdmin, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("admin audit: %d", resp.StatusCode)
			}
			// Without a job runtime the replay says where to replay instead.
			resp, b = f.call("POST", "/api/v1/messages/"+in.ID+"/replay", store.RoleOperator, nil)
			if resp.StatusCode != 503 || !strings.Contains(string(b), "wharf replay") {
				t.Fatalf("replay without runtime: %d %s", resp.StatusCode, b)
			}
		})
		t.Run("VerifyAsAuditor", func(t *testing.T) {
			resp, b := f.call("POST", "/api/v1/archive/verify", store.RoleAuditor, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok": true`) {
				t.Fatalf("verify: %d %s", resp.StatusCode, b)
			}
		})
		t.Run("Trace", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/traces/PO-4711", store.RoleAuditor, nil)
			var tr struct {
				Messages []struct {
					ID string `json:"id"`
				} `json:"messages"`
				Timeline []struct {
					Source string `json:"source"`
				} `json:"timeline"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &tr) != nil || len(tr.Messages) != 1 || tr.Messages[0].ID != in.ID || len(tr.Timeline) == 0 {
				t.Fatalf("trace: %d %s", resp.StatusCode, b)
			}
		})
		t.Run("Exceptions", func(t *testing.T) {
			x := &store.Exception{Reason: "mapping", Owner: store.OwnerIT, ObjectKind: "message", ObjectKey: in.ID, MessageID: in.ID, PartnerID: "acme", Detail: "set aside"}
			if _, err := st.RaiseException(ctx, x); err != nil {
				t.Fatal(err)
			}
			resp, b := f.call("GET", "/api/v1/exceptions", store.RoleAuditor, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), x.ID) {
				t.Fatalf("list: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("POST", "/api/v1/exceptions/"+x.ID+"/dismiss", store.RoleOperator, strings.NewReader(`{}`))
			if resp.StatusCode != 400 || !strings.Contains(string(b), "comment") {
				t.Fatalf("dismiss without comment: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("POST", "/api/v1/exceptions/"+x.ID+"/resolve", store.RoleAuditor, strings.NewReader(`{"comment":"x"}`))
			if resp.StatusCode != 403 {
				t.Fatalf("auditor resolve: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("POST", "/api/v1/exceptions/"+x.ID+"/resolve", store.RoleOperator, strings.NewReader(`{"comment":"partner resent"}`))
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"resolved"`) {
				t.Fatalf("resolve: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/exceptions/"+x.ID, store.RoleAuditor, nil)
			if !strings.Contains(string(b), "partner resent") || !strings.Contains(string(b), "token:") {
				t.Fatalf("history: %d %s", resp.StatusCode, b)
			}
			evs, _ := st.AuditEvents(ctx, "", 5)
			if evs[0].Kind != "exception.resolve" {
				t.Fatalf("resolve not audited: %+v", evs[0])
			}
		})
		t.Run("Administration", func(t *testing.T) {
			resp, b := f.call("POST", "/api/v1/tokens", store.RoleOperator, strings.NewReader(`{"name": "x", "role": "admin"}`))
			if resp.StatusCode != 403 {
				t.Fatalf("an operator creates a token: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("POST", "/api/v1/tokens", store.RoleAdmin, strings.NewReader(`{"name": "monitoring", "role": "auditor"}`))
			var created struct{ Token, ID, Role string }
			if resp.StatusCode != 201 || json.Unmarshal(b, &created) != nil || created.Role != "auditor" || !strings.HasPrefix(created.Token, "wharf_"+created.ID+"_") {
				t.Fatalf("create a token: %d %s", resp.StatusCode, b)
			}
			f.toks["new"] = created.Token
			if resp, _ := f.call("GET", "/api/v1/me", "new", nil); resp.StatusCode != 200 {
				t.Fatalf("the new token: %d", resp.StatusCode)
			}
			resp, b = f.call("POST", "/api/v1/tokens/"+created.ID+"/revoke", store.RoleAdmin, nil)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"revoked_at": "`) {
				t.Fatalf("revoke: %d %s", resp.StatusCode, b)
			}
			if resp, _ := f.call("GET", "/api/v1/me", "new", nil); resp.StatusCode != 401 {
				t.Fatalf("the revoked token: %d", resp.StatusCode)
			}
			resp, b = f.call("PUT", "/api/v1/users/ann", store.RoleAdmin, strings.NewReader(`{"role": "operator", "password": "short"}`))
			if resp.StatusCode != 400 || !strings.Contains(string(b), "12 characters") {
				t.Fatalf("a short password: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("PUT", "/api/v1/users/ann", store.RoleAdmin, strings.NewReader(`{"role": "operator", "password": "a long enough passphrase"}`))
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"operator"`) {
				t.Fatalf("set a user: %d %s", resp.StatusCode, b)
			}
			kinds := map[string]bool{}
			evs, _ := st.AuditEvents(ctx, "", 50)
			for _, e := range evs {
				kinds[e.Kind] = true
			}
			for _, k := range []string{"token_created", "token_revoked", "user_set"} {
				if !kinds[k] {
					t.Errorf("no %s audit event", k)
				}
			}
		})
		t.Run("UnknownRouteIsJSON", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/nope", store.RoleAuditor, nil)
			if resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "json") || !strings.Contains(string(b), "openapi.json") {
				t.Fatalf("got %d %s", resp.StatusCode, b)
			}
		})
	})
}

// TestOpenAPIListsEveryMountedRoute checks the document against the mux:
// every documented operation is answered (not the catch-all 404), and
// every pattern registered under /api/v1 is documented.
func TestOpenAPIListsEveryMountedRoute(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	resp, b := f.call("GET", "/api/v1/openapi.json", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi: %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v %s", err, b[:100])
	}
	documented := map[string]bool{}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			documented[m+" "+path] = true
			concrete := param.ReplaceAllString(path, "x")
			req := httptest.NewRequest(m, concrete, nil)
			_, pattern := f.s.mux.Handler(req)
			if pattern != m+" "+path {
				t.Errorf("documented %s %s is served by pattern %q", m, path, pattern)
			}
		}
	}
	for _, rt := range f.s.routes {
		if !documented[rt.Method+" "+rt.Path] {
			t.Errorf("mounted %s %s is not in the OpenAPI document", rt.Method, rt.Path)
		}
	}
	if len(documented) != len(f.s.routes) {
		t.Errorf("%d documented operations, %d mounted routes", len(documented), len(f.s.routes))
	}
}

func TestConsoleSignInAndCSRF(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.UpsertUser(ctx, &store.User{Name: "ann", Role: store.RoleAuditor, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		resp, err := c.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	// Signed out: the overview sends to the sign-in page.
	resp, body := get("/")
	if resp.Request.URL.Path != "/ui/signin" {
		t.Fatalf("not redirected to sign in: %s", resp.Request.URL)
	}
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("sign-in form without CSRF token")
	}
	// A wrong password is refused and audited.
	resp, err = c.PostForm(f.srv.URL+"/ui/signin", url.Values{"csrf": {m[1]}, "user": {"ann"}, "password": {"wrong password!"}})
	if err != nil {
		t.Fatal(err)
	}
	refused, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(resp.Request.URL.RawQuery, "refused") || !strings.Contains(string(refused), "refused") {
		t.Fatalf("wrong password not refused, or the page does not say so: %s", resp.Request.URL)
	}
	// A link cannot put its own words on the sign-in page: only messages
	// this server signed are shown.
	if _, body := get("/ui/signin?flash=" + url.QueryEscape("Session expired: call +1 555 0100 to restore access")); strings.Contains(body, "555 0100") {
		t.Fatal("the sign-in page shows a message of the link author's choosing")
	}
	// A form without the sign-in CSRF token is refused.
	resp, _ = c.PostForm(f.srv.URL+"/ui/signin", url.Values{"user": {"ann"}, "password": {"correct horse battery"}})
	resp.Body.Close()
	if !strings.Contains(resp.Request.URL.RawQuery, "expired") {
		t.Fatalf("sign-in without CSRF accepted: %s", resp.Request.URL)
	}
	_, body = get("/ui/signin")
	m = csrfRe.FindStringSubmatch(body)
	resp, _ = c.PostForm(f.srv.URL+"/ui/signin", url.Values{"csrf": {m[1]}, "user": {"ann"}, "password": {"correct horse battery"}, "next": {"/ui/messages"}})
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/messages" {
		t.Fatalf("sign-in did not land on next: %s", resp.Request.URL)
	}
	u, _ := url.Parse(f.srv.URL)
	var session *http.Cookie
	for _, ck := range resp.Request.Response.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie must be HttpOnly and SameSite=Strict: %+v (jar %v)", session, jar.Cookies(u))
	}
	resp, body = get("/ui/messages")
	if resp.StatusCode != 200 || !strings.Contains(body, "Verify now") {
		t.Fatalf("archive page: %d", resp.StatusCode)
	}
	m = csrfRe.FindStringSubmatch(body)
	// A POST without the session's CSRF token is refused; with it, verify runs.
	resp, _ = c.PostForm(f.srv.URL+"/ui/verify", url.Values{})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("POST without CSRF: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(f.srv.URL+"/ui/verify", url.Values{"csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte("Archive intact")) {
		t.Fatalf("verify: %d", resp.StatusCode)
	}
	// An auditor may not replay.
	e := f.put(store.Outbound, "inv.edi", "ISA*")
	resp, _ = c.PostForm(f.srv.URL+"/ui/messages/"+e.ID+"/replay", url.Values{"csrf": {m[1]}})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("auditor replay: %d", resp.StatusCode)
	}
	kinds := map[string]bool{}
	evs, _ := f.st.AuditEvents(ctx, "", 50)
	for _, ev := range evs {
		kinds[ev.Kind] = true
	}
	for _, k := range []string{"console_login_refused", "console_login", "console_csrf_refused", "archive_verify", "console_denied"} {
		if !kinds[k] {
			t.Errorf("no audit event %s (have %v)", k, kinds)
		}
	}
	// Every page renders for a signed-in user.
	for _, p := range []string{"/", "/ui/stuck", "/ui/exceptions", "/ui/messages/" + e.ID, "/ui/trace?key=x", "/ui/partners", "/ui/schedules"} {
		if resp, body := get(p); resp.StatusCode != 200 || !strings.Contains(body, "Sign out") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestOverviewMetrics(t *testing.T) {
	st := testenv.OpenStore(t, "SQLite")
	ctx := context.Background()
	fsb, err := archive.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.New(st, archive.Options{Blobs: fsb})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	e, err := a.Put(ctx, strings.NewReader("ISA*"), archive.Meta{Partner: "acme", Direction: store.Outbound, Transport: "as2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetMessageStatus(ctx, e.ID, "dead_letter"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Store: st, Archive: a, Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += "," + l.GetName() + "=" + l.GetValue()
			}
			got[mf.GetName()+labels] = m.GetGauge().GetValue()
		}
	}
	for k, want := range map[string]float64{
		"wharf_overview_messages,direction=out,partner=acme,transport=as2,window=24h": 1,
		"wharf_overview_message_errors,partner=acme,transport=as2,window=7d":          1,
		"wharf_overview_error_ratio,partner=acme,transport=as2,window=24h":            1,
		"wharf_overview_stuck_documents,stage=mapped, not delivered":                  1,
		"wharf_overview_scrape_ok": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (have %v)", k, got[k], want, got)
		}
	}
}

// clockFreeJar keeps cookies whatever their expiry: the server's clock
// in a test is not the jar's (the wall clock). One site, no paths.
type clockFreeJar struct{ cookies map[string]*http.Cookie }

func (j *clockFreeJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		if c.MaxAge < 0 || c.Value == "" {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
}

func (j *clockFreeJar) Cookies(*url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.cookies {
		out = append(out, c)
	}
	return out
}

// signIn signs a new console user of the role in and returns a GET on
// the server's console. Cookies are kept whatever the server's clock.
func signIn(t *testing.T, st store.Store, base, role string) func(path string) (int, string) {
	t.Helper()
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertUser(context.Background(), &store.User{Name: "ann", Role: role, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: &clockFreeJar{cookies: map[string]*http.Cookie{}}}
	get := func(path string) (int, string) {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, body := get("/ui/signin")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("sign-in form without CSRF token")
	}
	resp, err := c.PostForm(base+"/ui/signin", url.Values{"csrf": {m[1]}, "user": {"ann"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path == "/ui/signin" {
		t.Fatalf("sign-in refused: %s", resp.Request.URL)
	}
	return get
}

// AS2 evidence (inbound MDNs, raw requests, the MDNs Wharf returned) is
// never a stuck document, on the stuck page, the overview's tile or the
// metric: not while it is received, not once settled. A request the AS2
// endpoint refused (its raw evidence rejected) is listed. An async MDN
// Wharf owes is delivered like any outbound document, and stuck when it is
// not.
func TestStuckLeavesOutAS2Evidence(t *testing.T) {
	for _, tr := range []string{as2.TransportRaw, as2.TransportMDN, as2.TransportMDNIn} {
		if !evidenceTransports[tr] {
			t.Errorf("evidenceTransports lacks %s", tr)
		}
	}
	if len(evidenceTransports) != 3 || evidenceTransports[as2.TransportMDNAsync] || evidenceTransports[as2.TransportAS2] {
		t.Errorf("evidenceTransports %v: want the raw requests and the MDNs kept, not payloads or async MDNs owed", evidenceTransports)
	}
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		start := time.Date(2026, 7, 16, 12, 0, 0, 0, time.UTC)
		clock := start
		now := func() time.Time { return clock }
		fsb, err := archive.NewFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		a, err := archive.New(st, archive.Options{Blobs: fsb, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		put := func(dir store.Direction, transport, msgID string) *archive.Entry {
			t.Helper()
			e, err := a.Put(ctx, strings.NewReader("evidence of "+msgID), archive.Meta{Partner: "acme", Direction: dir, Transport: transport,
				RemoteName: msgID, CorrelationID: "<" + msgID + ">"})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		put(store.Inbound, as2.TransportMDNIn, "MDN for sent-1@wharf")
		put(store.Inbound, as2.TransportRaw, "in-1@acme")
		put(store.Outbound, as2.TransportMDN, "in-1@acme")
		for _, ev := range []struct {
			dir       store.Direction
			transport string
			status    lifecycle.Status
		}{{store.Inbound, as2.TransportMDNIn, lifecycle.StatusProcessed}, {store.Inbound, as2.TransportRaw, lifecycle.StatusProcessed},
			{store.Outbound, as2.TransportMDN, lifecycle.StatusDelivered}} {
			e := put(ev.dir, ev.transport, "settled-"+ev.transport+"@acme")
			if err := st.SetMessageStatus(ctx, e.ID, ev.status); err != nil {
				t.Fatal(err)
			}
		}
		async := put(store.Outbound, as2.TransportMDNAsync, "in-2@acme")
		if err := st.SetMessageStatus(ctx, async.ID, lifecycle.StatusDelivered); err != nil {
			t.Fatal(err)
		}

		reg := prometheus.NewRegistry()
		s, err := New(Options{Store: st, Archive: a, Metrics: reg, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		s.Mount(mux)
		mux.Handle("/{$}", s)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		get := signIn(t, st, srv.URL, store.RoleAuditor)
		stuckMetric := func() float64 {
			t.Helper()
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var n float64
			for _, mf := range mfs {
				if mf.GetName() == "wharf_overview_stuck_documents" {
					for _, m := range mf.GetMetric() {
						n += m.GetGauge().GetValue()
					}
				}
			}
			return n
		}

		clock = start.Add(time.Hour) // well past StuckAfter (15 minutes)
		docs, err := s.Stuck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 0 {
			t.Errorf("AS2 evidence listed as stuck: %+v", docs)
		}
		if n := stuckMetric(); n != 0 {
			t.Errorf("wharf_overview_stuck_documents = %v, want 0", n)
		}
		if code, body := get("/"); code != 200 || !strings.Contains(body, "<b>0</b><span>stuck documents</span>") {
			t.Errorf("overview: %d, the stuck tile does not say 0:\n%s", code, body)
		}
		if code, body := get("/ui/stuck"); code != 200 || strings.Contains(body, "not processed yet") || strings.Contains(body, "after it was archived") {
			t.Errorf("stuck page: %d, lists evidence:\n%s", code, body)
		}

		// An async MDN not delivered in time did stop: it is listed, also
		// when newer evidence is there.
		clock = start.Add(-time.Minute)
		pending := put(store.Outbound, as2.TransportMDNAsync, "in-3@acme")
		clock = start.Add(time.Hour)
		docs, err = s.Stuck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 || docs[0].MessageID != pending.ID || docs[0].Stage != StageNotDelivered {
			t.Errorf("stuck: %+v, want the undelivered async MDN %s", docs, pending.ID)
		}
		if n := stuckMetric(); n != 1 {
			t.Errorf("wharf_overview_stuck_documents = %v, want 1", n)
		}
		if _, body := get("/"); !strings.Contains(body, "<b>1</b><span>stuck documents</span>") {
			t.Errorf("the overview's stuck tile does not say 1:\n%s", body)
		}

		// A refused request: its payload never came in.
		refused := put(store.Inbound, as2.TransportRaw, "in-4@acme")
		if err := st.SetMessageStatus(ctx, refused.ID, lifecycle.StatusRejected); err != nil {
			t.Fatal(err)
		}
		docs, err = s.Stuck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 2 || docs[0].MessageID != refused.ID || docs[0].Stage != StageNotMapped || !strings.Contains(docs[0].Reason, "refused") {
			t.Errorf("stuck: %+v, want the refused request %s and the undelivered async MDN", docs, refused.ID)
		}
		if n := stuckMetric(); n != 2 {
			t.Errorf("wharf_overview_stuck_documents = %v, want 2", n)
		}
	})
}

// Guessing API tokens: AuthAttempts wrong tokens from one address lock it
// out with 429 and Retry-After (even a right token is not looked at then),
// each refusal and the lockout are audited, other addresses are unaffected,
// and the address is let in again once the failures leave the window.
func TestAPITokenGuessingLocksTheAddressOut(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		s, err := New(Options{Store: st, Archive: f.a, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		s.Mount(mux)
		get := func(addr, token string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("GET", "/api/v1/messages", nil)
			req.RemoteAddr = addr
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			return w
		}
		for i := 0; i < AuthAttempts; i++ {
			if w := get("192.0.2.7:4000", "wharf_guess"+strings.Repeat("x", i)); w.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", i+1, w.Code)
			}
		}
		w := get("192.0.2.7:4001", f.toks[store.RoleAuditor])
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "300" || !strings.Contains(w.Body.String(), "too many failed authentications") {
			t.Fatalf("right token from the locked address: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		if w := get("192.0.2.8:4000", f.toks[store.RoleAuditor]); w.Code != http.StatusOK {
			t.Fatalf("another address: %d, want 200", w.Code)
		}
		evs, err := st.AuditEvents(context.Background(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.Kind]++
		}
		if kinds["api_token_refused"] != AuthAttempts || kinds["auth_locked_out"] != 1 {
			t.Errorf("audit events %v, want %d api_token_refused and one auth_locked_out", kinds, AuthAttempts)
		}
		now = now.Add(AuthWindow + time.Second)
		if w := get("192.0.2.7:4002", f.toks[store.RoleAuditor]); w.Code != http.StatusOK {
			t.Fatalf("after the window: %d, want 200", w.Code)
		}
	})
}
