package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// A route marked deprecated says so in every answer (Deprecation, Sunset,
// the successor as a Link) and in the OpenAPI document; routes that are
// not keep quiet.
func TestDeprecatedRoute(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	clock := time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)
	f.s.o.Now = func() time.Time { return clock }
	since := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sunset := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	type oldOut struct {
		OK bool `json:"ok"`
	}
	f.s.handle(Route{Method: "GET", Path: "/api/v1/old-overview", Summary: "The overview, as it was", Role: store.RoleAuditor, Tag: "operations",
		Response: oldOut{}, Deprecated: &Deprecation{Since: since, Sunset: sunset, Successor: "/api/v1/overview"}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			writeJSON(w, 200, oldOut{OK: true})
			return nil
		})

	resp, _ := f.call("GET", "/api/v1/old-overview", store.RoleAuditor, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("deprecated route: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Deprecation"); got != "@1796083200" {
		t.Errorf("Deprecation: %q, want @1796083200 (RFC 9745)", got)
	}
	if got := resp.Header.Get("Sunset"); got != "Tue, 01 Jun 2027 00:00:00 GMT" {
		t.Errorf("Sunset: %q (RFC 8594 wants an HTTP date)", got)
	}
	if got := resp.Header.Get("Link"); got != `</api/v1/overview>; rel="successor-version"` {
		t.Errorf("Link: %q", got)
	}
	// A refusal of a deprecated route is deprecated too.
	if resp, _ := f.call("GET", "/api/v1/old-overview", "", nil); resp.StatusCode != 401 || resp.Header.Get("Sunset") == "" {
		t.Errorf("refused deprecated route: %d, Sunset %q", resp.StatusCode, resp.Header.Get("Sunset"))
	}
	if resp, _ := f.call("GET", "/api/v1/overview", store.RoleAuditor, nil); resp.Header.Get("Deprecation") != "" || resp.Header.Get("Sunset") != "" {
		t.Errorf("a current route says it is deprecated: %v", resp.Header)
	}

	resp, b := f.call("GET", "/api/v1/openapi.json", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi: %d", resp.StatusCode)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Deprecated  bool   `json:"deprecated"`
			Description string `json:"description"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths["/api/v1/old-overview"]["get"]
	if !op.Deprecated || !strings.HasPrefix(op.Description, "Deprecated since 2026-12-01; served until 2027-06-01 (its Sunset header). Use /api/v1/overview instead. Needs role auditor") {
		t.Errorf("the document's operation: %+v", op)
	}
	if doc.Paths["/api/v1/overview"]["get"].Deprecated {
		t.Error("the document flags a current route")
	}

	// From its Sunset on, the route is gone: 410, naming its successor.
	clock = sunset
	resp, b = f.call("GET", "/api/v1/old-overview", store.RoleAuditor, nil)
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(b), "/api/v1/overview") {
		t.Errorf("after the sunset: %d %s, want 410 naming the successor", resp.StatusCode, b)
	}
}
