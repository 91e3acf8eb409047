package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// TestPartnerTokens: a token bound to acme reaches only the routes its
// scopes name, sees only acme's messages, and learns nothing of globex's
// through search, IDs, counts or errors; asking for globex is 403 and
// audited.
func TestPartnerTokens(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		if err := st.UpsertPartner(ctx, &store.Partner{ID: "globex", Name: "Globex"}); err != nil {
			t.Fatal(err)
		}
		mine := f.put(store.Inbound, "acme-po.edi", "ISA*00*acme order")
		theirs, err := f.a.Put(ctx, strings.NewReader("ISA*00*globex order"), archive.Meta{Partner: "globex", Direction: store.Inbound, Transport: "cli", RemoteName: "globex-po.edi"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddMessageKeys(ctx, mine.ID, []store.Key{{Kind: "po", Value: "PO-ACME-1"}}); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMessageKeys(ctx, theirs.ID, []store.Key{{Kind: "po", Value: "PO-GLOBEX-1"}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := MintPartnerToken(ctx, st, "nobody", []string{store.ScopeMessagesRead}, "x"); err == nil {
			t.Fatal("a token for an unknown partner was minted")
		}
		reader, rec, err := MintPartnerToken(ctx, st, "acme", []string{store.ScopeMessagesRead}, "acme-portal")
		if err != nil {
			t.Fatal(err)
		}
		shipper, _, err := MintPartnerToken(ctx, st, "acme", []string{store.ScopeShipmentsRead}, "acme-loads")
		if err != nil {
			t.Fatal(err)
		}
		f.toks["acme-reader"], f.toks["acme-shipper"] = reader, shipper

		get := func(tok, path string) (int, string) {
			t.Helper()
			resp, b := f.call("GET", path, tok, nil)
			return resp.StatusCode, string(b)
		}

		t.Run("Me", func(t *testing.T) {
			code, b := get("acme-reader", "/api/v1/me")
			var me meOut
			if err := json.Unmarshal([]byte(b), &me); code != 200 || err != nil || me.Partner != "acme" || me.Role != store.RolePartner ||
				len(me.Scopes) != 1 || me.Scopes[0] != store.ScopeMessagesRead {
				t.Fatalf("me: %d %s", code, b)
			}
		})
		t.Run("SearchSeesOwnOnly", func(t *testing.T) {
			for _, path := range []string{"/api/v1/messages", "/api/v1/messages?partner=acme", "/api/v1/messages?key=PO-GLOBEX-1",
				"/api/v1/messages?filename=globex-po.edi", "/api/v1/messages?key=PO-ACME-1"} {
				code, b := get("acme-reader", path)
				if code != 200 || strings.Contains(b, theirs.ID) || strings.Contains(b, "globex") {
					t.Fatalf("%s: %d %s", path, code, b)
				}
				if !strings.Contains(path, "GLOBEX") && !strings.Contains(path, "filename") && !strings.Contains(b, mine.ID) {
					t.Fatalf("%s: own message missing: %s", path, b)
				}
			}
			// An operator token still sees both.
			if code, b := get(store.RoleAuditor, "/api/v1/messages"); code != 200 || !strings.Contains(b, theirs.ID) || !strings.Contains(b, mine.ID) {
				t.Fatalf("auditor: %d %s", code, b)
			}
		})
		t.Run("AnotherPartnerIsRefusedAndAudited", func(t *testing.T) {
			code, b := get("acme-reader", "/api/v1/messages?partner=globex")
			if code != 403 || !strings.Contains(b, "bound to partner acme") {
				t.Fatalf("partner=globex: %d %s", code, b)
			}
			evs, err := st.AuditEvents(ctx, "", 50)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range evs {
				if e.Kind == "api_partner_denied" && strings.Contains(e.Actor, rec.ID) && strings.Contains(e.Detail, "globex") {
					found = true
				}
			}
			if !found {
				t.Fatalf("no api_partner_denied audit event among %d", len(evs))
			}
		})
		t.Run("ForeignIDsAnswerAsUnknown", func(t *testing.T) {
			const unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
			for _, sub := range []string{"", "/events", "/content", "/preview"} {
				code, b := get("acme-reader", "/api/v1/messages/"+mine.ID+sub)
				if code != 200 {
					t.Fatalf("own %s: %d %s", sub, code, b)
				}
				code, foreign := get("acme-reader", "/api/v1/messages/"+theirs.ID+sub)
				code2, missing := get("acme-reader", "/api/v1/messages/"+unknown+sub)
				if code != 404 || code2 != 404 || strings.ReplaceAll(foreign, theirs.ID, "ID") != strings.ReplaceAll(missing, unknown, "ID") {
					t.Fatalf("%s: another partner's message answers %d %s, an unknown one %d %s", sub, code, foreign, code2, missing)
				}
				if strings.Contains(foreign, "globex") {
					t.Fatalf("%s: leaks the partner: %s", sub, foreign)
				}
			}
		})
		t.Run("MissingScopeIsNamed", func(t *testing.T) {
			code, b := get("acme-shipper", "/api/v1/messages")
			if code != 403 || !strings.Contains(b, "missing scope messages:read") {
				t.Fatalf("without messages:read: %d %s", code, b)
			}
			code, b = get("acme-shipper", "/api/v1/messages/"+mine.ID)
			if code != 403 || !strings.Contains(b, "missing scope messages:read") {
				t.Fatalf("detail without messages:read: %d %s", code, b)
			}
		})
		t.Run("AdminAPICreates", func(t *testing.T) {
			resp, b := f.call("POST", "/api/v1/tokens", store.RoleAdmin, strings.NewReader(`{"name":"acme-loads","role":"partner","partner":"acme","scopes":["shipments:read"]}`))
			if resp.StatusCode != 201 || !strings.Contains(string(b), `"partner": "acme"`) {
				t.Fatalf("create: %d %s", resp.StatusCode, b)
			}
			for body, want := range map[string]string{
				`{"name":"x","role":"partner","partner":"acme","scopes":["orders:write"]}`:  `scope \"orders:write\"`,
				`{"name":"x","role":"partner","partner":"nobody","scopes":["orders:read"]}`: `\"nobody\" is not a partner`,
				`{"name":"x","role":"partner","scopes":["orders:read"]}`:                    "partner: required",
				`{"name":"x","role":"auditor","partner":"acme"}`:                            "belong to role partner",
			} {
				resp, b := f.call("POST", "/api/v1/tokens", store.RoleAdmin, strings.NewReader(body))
				if resp.StatusCode != 400 || !strings.Contains(string(b), want) {
					t.Fatalf("%s: %d %s, want 400 %s", body, resp.StatusCode, b, want)
				}
			}
		})
		t.Run("OperatorRoutesAreRefused", func(t *testing.T) {
			// Every route that names no scope (counts, traces, jobs,
			// partners, exceptions, admin) refuses a partner token before
			// it reads anything.
			n := 0
			for _, rt := range f.s.routes {
				if rt.Role == "" || rt.Role == "partner" || rt.Scope != "" {
					continue
				}
				path := rt.Path
				for _, p := range rt.Params {
					if p.In == "path" {
						path = strings.ReplaceAll(path, "{"+p.Name+"}", theirs.ID)
					}
				}
				resp, b := f.call(rt.Method, path, "acme-reader", strings.NewReader("{}"))
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "no scope grants a partner token") || strings.Contains(string(b), "globex") {
					t.Fatalf("%s %s: %d %s", rt.Method, path, resp.StatusCode, b)
				}
				n++
			}
			if n < 20 {
				t.Fatalf("only %d operator routes tried", n)
			}
		})
	})
}

// TestPartnerTokenCannotSignInToTheConsole: the console shows every
// partner's data, so a partner token is refused there (and audited).
func TestPartnerTokenCannotSignInToTheConsole(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	tok, rec, err := MintPartnerToken(ctx, f.st, "acme", []string{store.ScopeMessagesRead}, "acme-portal")
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(f.srv.URL + "/ui/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("sign-in form without CSRF token")
	}
	resp, err = c.PostForm(f.srv.URL+"/ui/signin", url.Values{"csrf": {m[1]}, "token": {tok}, "next": {"/ui/messages"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/signin" || !strings.Contains(string(b), "reaches the API only") {
		t.Fatalf("a partner token signed in to the console: %s\n%s", resp.Request.URL, b)
	}
	evs, err := f.st.AuditEvents(ctx, "", 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == "console_login_refused" && strings.Contains(e.Actor, rec.ID) {
			return
		}
	}
	t.Fatalf("the refusal is not audited: %d events", len(evs))
}
