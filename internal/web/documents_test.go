package web

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite generated files (schemas/canonical.schema.json)")

// TestCanonicalSchemaCopyUpToDate: the schema the server checks posted
// documents against is docs/canonical.schema.json.
func TestCanonicalSchemaCopyUpToDate(t *testing.T) {
	want, err := os.ReadFile("../../docs/canonical.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Generated(t, "schemas/canonical.schema.json", string(want), *update, "go test ./internal/web -run TestCanonicalSchemaCopyUpToDate -update")
}

// TestPostDocument: a canonical document is archived like a file drop
// (transport api) and answered with its message ID; a malformed one is
// refused naming the field and archived as rejected; tokens and partners
// are checked as for every route.
func TestPostDocument(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		if err := st.UpsertPartner(ctx, &store.Partner{ID: "globex", Name: "Globex"}); err != nil {
			t.Fatal(err)
		}
		writer, _, err := MintPartnerToken(ctx, st, "acme", []string{store.ScopeDocumentsWrite}, "acme-erp")
		if err != nil {
			t.Fatal(err)
		}
		reader, _, err := MintPartnerToken(ctx, st, "acme", []string{store.ScopeShipmentsRead}, "acme-loads")
		if err != nil {
			t.Fatal(err)
		}
		f.toks["acme-writer"], f.toks["acme-reader"] = writer, reader
		good, err := os.ReadFile("../../testdata/canonical/inventory-balance.json")
		if err != nil {
			t.Fatal(err)
		}
		post := func(tok, query, body string, header ...string) (int, map[string]string) {
			t.Helper()
			req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/documents"+query, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+f.toks[tok])
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var out map[string]string
			_ = json.Unmarshal(b, &out)
			return resp.StatusCode, out
		}
		message := func(id string) (*store.Message, string) {
			t.Helper()
			rc, e, err := f.a.Get(ctx, id)
			if err != nil {
				t.Fatalf("message %s: %v", id, err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return e.Message, string(b)
		}

		t.Run("Archived", func(t *testing.T) {
			at := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
			f.s.o.Foreground = foreground.New(func() time.Time { return at }) // standing still: busy once told
			defer func() { f.s.o.Foreground = nil }()
			code, out := post(store.RoleOperator, "?partner=acme", string(good))
			if code != 201 || out["id"] == "" || out["type"] != "inventory_balance" || out["partner"] != "acme" {
				t.Fatalf("%d %v", code, out)
			}
			if !f.s.o.Foreground.Busy() {
				t.Fatal("a posted document was received as if no client waited for its answer (Incoming.Awaited)")
			}
			m, body := message(out["id"])
			if m.Status != lifecycle.StatusReceived || m.Transport != "api" || m.PartnerID != "acme" || m.RemoteName != "inventory_balance.json" || body != string(good) {
				t.Fatalf("archived as %+v", m)
			}
			// A retry with the same Idempotency-Key archives once.
			_, a := post(store.RoleOperator, "?partner=acme&filename=x.json", string(good), "Idempotency-Key", "k1")
			_, b := post(store.RoleOperator, "?partner=acme&filename=x.json", string(good), "Idempotency-Key", "k1")
			if a["id"] == "" || a["id"] != b["id"] {
				t.Fatalf("idempotent retry: %v then %v", a, b)
			}
		})
		t.Run("MalformedIsRefusedAndKept", func(t *testing.T) {
			idRe := regexp.MustCompile(`rejected message (\S+)\)`)
			for body, want := range map[string]string{
				`{"type": "order", "version": "1"}`:                                               "order_number: required",
				`{"type": "order", "version": "1", "order_number": "1", "total": "12,5"}`:         "total: \"12,5\" does not match",
				`{"type": "order", "version": "1", "order_number": "1", "lines": [{"qty": "x"}]}`: "lines[0].item: required",
				`{"type": "purchase_order", "version": "1"}`:                                      "type: \"purchase_order\" is not a canonical document type",
				`{"version": "1"}`: "type: required",
				`{"type": "order", "version": "1", "order_number": 7}`: "order_number: an integer, not string",
				`not json at all`: "not JSON",
				`[1, 2]`:          "not a JSON object",
			} {
				code, out := post(store.RoleOperator, "?partner=acme", body)
				m := idRe.FindStringSubmatch(out["error"])
				if code != 400 || !strings.Contains(out["error"], want) || m == nil {
					t.Errorf("%s: %d %v, want 400 naming %q and the archived message", body, code, out, want)
					continue
				}
				msg, got := message(m[1])
				if msg.Status != lifecycle.StatusRejected || msg.Transport != "api" || got != body {
					t.Errorf("%s: archived as %+v with %q", body, msg, got)
				}
				evs, err := f.a.Events(ctx, m[1])
				if err != nil || len(evs) < 2 || !strings.Contains(evs[len(evs)-1].Detail, want) {
					t.Errorf("%s: the reason is not in its history: %+v %v", body, evs, err)
				}
			}
		})
		t.Run("TokensAndPartners", func(t *testing.T) {
			if code, out := post(store.RoleOperator, "", string(good)); code != 400 || !strings.Contains(out["error"], "partner: required") {
				t.Fatalf("no partner: %d %v", code, out)
			}
			if code, out := post(store.RoleOperator, "?partner=nobody", string(good)); code != 400 || !strings.Contains(out["error"], "not a partner") {
				t.Fatalf("unknown partner: %d %v", code, out)
			}
			if code, _ := post(store.RoleAuditor, "?partner=acme", string(good)); code != 403 {
				t.Fatalf("auditor: %d", code)
			}
			code, out := post("acme-writer", "", string(good))
			if code != 201 || out["partner"] != "acme" {
				t.Fatalf("partner token: %d %v", code, out)
			}
			if code, out := post("acme-writer", "?partner=globex", string(good)); code != 403 || !strings.Contains(out["error"], "bound to partner acme") {
				t.Fatalf("partner token for globex: %d %v", code, out)
			}
			if code, out := post("acme-reader", "", string(good)); code != 403 || !strings.Contains(out["error"], "missing scope documents:write") {
				t.Fatalf("without documents:write: %d %v", code, out)
			}
		})
	})
}
