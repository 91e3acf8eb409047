package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Test traffic shows apart: a badge in the archive list and on the
// message, a traffic filter in the console and the API, and the test flag
// in the API's messages.
func TestTestTrafficBadgeAndFilter(t *testing.T) {
	f := newFixture(t, testenv.OpenStore(t, "SQLite"))
	ctx := context.Background()
	get := signIn(t, f.st, f.srv.URL, store.RoleAuditor)
	prod := f.put(store.Inbound, "prod-850.edi", "production order")
	test := f.put(store.Inbound, "onboarding-850.edi", "test order")
	if err := f.st.AddMessageKeys(ctx, test.ID, []store.Key{store.KeyTest, {Kind: "po", Value: "PO-9"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddMessageKeys(ctx, prod.ID, []store.Key{{Kind: "po", Value: "PO-9"}}); err != nil {
		t.Fatal(err)
	}
	const badge = `<span class="st test"`

	code, page := get("/ui/messages")
	if code != 200 || strings.Count(page, badge) != 1 {
		t.Fatalf("archive page: %d, %d test badges (want 1)", code, strings.Count(page, badge))
	}
	row := page[strings.Index(page, "onboarding-850.edi"):]
	if i := strings.Index(row, "</tr>"); i < 0 || !strings.Contains(row[:i], badge) {
		t.Fatal("the test badge is not on the test message's row")
	}
	if _, page := get("/ui/messages?traffic=test"); !strings.Contains(page, "onboarding-850.edi") || strings.Contains(page, "prod-850.edi") {
		t.Fatal("traffic=test does not select only the test message")
	}
	if _, page := get("/ui/messages?traffic=production"); strings.Contains(page, "onboarding-850.edi") || !strings.Contains(page, "prod-850.edi") {
		t.Fatal("traffic=production does not leave out the test message")
	}
	if _, page := get("/ui/messages/" + test.ID); !strings.Contains(page, `id="test-badge"`) {
		t.Fatal("the test message's page has no test badge")
	}
	if _, page := get("/ui/messages/" + prod.ID); strings.Contains(page, `id="test-badge"`) {
		t.Fatal("a production message shows the test badge")
	}
	// The trace lists the test file apart, not the production one.
	if _, page := get("/ui/trace?key=PO-9"); !strings.Contains(page, `id="test-traffic"`) ||
		!strings.Contains(page[strings.Index(page, `id="test-traffic"`):], "onboarding-850.edi") ||
		strings.Contains(page[strings.Index(page, `id="test-traffic"`):strings.Index(page, `id="timeline"`)], "prod-850.edi") {
		t.Fatal("the trace does not show the test file apart")
	}

	resp, b := f.call("GET", "/api/v1/messages", store.RoleAuditor, nil)
	var out messagesOut
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 || len(out.Messages) != 2 {
		t.Fatalf("API search: %d %v %s", resp.StatusCode, err, b)
	}
	for _, m := range out.Messages {
		if m.Test != (m.ID == test.ID) {
			t.Fatalf("API message %s (%s): test %v", m.ID, m.Filename, m.Test)
		}
	}
	if resp, b := f.call("GET", "/api/v1/messages?traffic=test", store.RoleAuditor, nil); resp.StatusCode != 200 || !strings.Contains(string(b), test.ID) || strings.Contains(string(b), prod.ID) {
		t.Fatalf("API traffic=test: %d %s", resp.StatusCode, b)
	}
	if resp, b := f.call("GET", "/api/v1/messages?traffic=staging", store.RoleAuditor, nil); resp.StatusCode != 400 || !strings.Contains(string(b), "traffic") {
		t.Fatalf("API traffic=staging: %d %s (want 400 naming traffic)", resp.StatusCode, b)
	}
}
