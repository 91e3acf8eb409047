package web

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// detailJSON reads an object's detail (its document as raw JSON: an
// interface does not decode).
type detailJSON struct {
	objectDetailOut
	Document json.RawMessage `json:"document"`
}

// TestBusinessObjects: orders, shipments, invoices and inventory as
// resources: the detail (state, holds, references, timers, data, history),
// the list filters and paging, and a partner token's view (its own objects
// only, another partner's answering as unknown ones).
func TestBusinessObjects(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		f.s.o.Now = func() time.Time { return now }
		if err := st.UpsertPartner(ctx, &store.Partner{ID: "globex", Name: "Globex"}); err != nil {
			t.Fatal(err)
		}
		put := func(key, state, data string, system string) {
			t.Helper()
			if err := st.PutSyncObject(ctx, &store.SyncObject{Kind: "shipment", Key: key, State: state, Data: data}); err != nil {
				t.Fatal(err)
			}
			if err := st.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "shipment", Key: key, Event: "shipment." + state, System: system}); err != nil {
				t.Fatal(err)
			}
		}
		put("SH1", "delivered", `{"carrier":"acme","billing":"held","billing_reason":"delivered without proof of delivery","systems":{"acme":"shipment.delivered","erp":"order.created"}}`, "acme")
		if err := st.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "shipment", Key: "SH1", Event: "order.created", System: "erp"}); err != nil {
			t.Fatal(err)
		}
		if err := st.AddSyncRefs(ctx, []store.SyncRef{{Value: "BOL-1", Type: "bol", Kind: "shipment", Key: "SH1"},
			{Value: "PO-G7", Type: "po", Kind: "shipment", Key: "SH1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.StartSyncTimer(ctx, &store.SyncTimer{Name: "invoice_after_delivery", Kind: "shipment", Key: "SH1",
			DueAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Owner: store.OwnerOperations}); err != nil {
			t.Fatal(err)
		}
		// The current canonical data: the latest received message about it.
		f.s.o.TraceDocuments = func(ctx context.Context, m *store.Message) ([]canonical.Document, error) {
			rc, _, err := f.a.Get(ctx, m.ID)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			d, err := canonical.Decode(b)
			if err != nil {
				return nil, err
			}
			return []canonical.Document{d}, nil
		}
		for _, body := range []string{`{"type": "shipment_status", "version": "1", "shipment_id": "SH1", "notes": ["first"]}`,
			`{"type": "shipment_status", "version": "1", "shipment_id": "SH1", "notes": ["latest"]}`} {
			e := f.put(store.Inbound, "214.json", body)
			if err := st.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "shipment", Key: "SH1", Event: "shipment.status", System: "acme", MessageID: e.ID}); err != nil {
				t.Fatal(err)
			}
		}
		// A newer one from another partner: the operators' latest, never acme's.
		other, err := f.a.Put(ctx, strings.NewReader(`{"type": "shipment_status", "version": "1", "shipment_id": "SH1", "notes": ["globex-note"]}`),
			archive.Meta{Partner: "globex", Direction: store.Inbound, Transport: "cli", RemoteName: "214.json"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "shipment", Key: "SH1", Event: "shipment.status", System: "globex", MessageID: other.ID}); err != nil {
			t.Fatal(err)
		}
		// SH1's references: the BOL came with acme's files, the PO with globex's.
		if err := st.AddMessageKeys(ctx, other.ID, []store.Key{{Kind: "po", Value: "PO-G7"}}); err != nil {
			t.Fatal(err)
		}
		if ms, err := st.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Limit: 1}); err != nil || len(ms) != 1 {
			t.Fatalf("acme's message: %v %v", ms, err)
		} else if err := st.AddMessageKeys(ctx, ms[0].ID, []store.Key{{Kind: "bol", Value: "BOL-1"}}); err != nil {
			t.Fatal(err)
		}
		put("SH2", "planned", `{"carrier":"globex"}`, "globex")
		put("SH3", "shipped", `{"carrier":"acme"}`, "acme")
		acme, _, err := MintPartnerToken(ctx, st, "acme", []string{store.ScopeShipmentsRead}, "acme-loads")
		if err != nil {
			t.Fatal(err)
		}
		f.toks["acme"] = acme

		list := func(tok, query string) (int, objectsOut, string) {
			t.Helper()
			resp, b := f.call("GET", "/api/v1/shipments"+query, tok, nil)
			var out objectsOut
			if resp.StatusCode == 200 {
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatalf("%s: %v %s", query, err, b)
				}
			}
			return resp.StatusCode, out, string(b)
		}
		keys := func(o objectsOut) []string {
			var ks []string
			for _, x := range o.Objects {
				ks = append(ks, x.Key)
			}
			slices.Sort(ks)
			return ks
		}

		t.Run("Detail", func(t *testing.T) {
			resp, b := f.call("GET", "/api/v1/shipments/SH1", store.RoleAuditor, nil)
			var d detailJSON
			if resp.StatusCode != 200 || json.Unmarshal(b, &d) != nil {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if d.State != "delivered" || !d.Held || len(d.Holds) != 1 || d.Holds[0] != "delivered without proof of delivery" || !d.Overdue ||
				len(d.References) != 2 || len(d.Timers) != 1 || len(d.History) != 5 || !strings.Contains(string(d.Data), "erp") {
				t.Fatalf("SH1: %s", b)
			}
			if !strings.Contains(string(d.Document), `"globex-note"`) {
				t.Fatalf("SH1's document is not its latest: %s", d.Document)
			}
			resp, b = f.call("GET", "/api/v1/shipments/NOPE", store.RoleAuditor, nil)
			if resp.StatusCode != 404 || !strings.Contains(string(b), "no shipment NOPE") {
				t.Fatalf("unknown: %d %s", resp.StatusCode, b)
			}
			resp, b = f.call("GET", "/api/v1/orders/SH1", store.RoleAuditor, nil)
			if resp.StatusCode != 404 {
				t.Fatalf("a shipment's key as an order: %d %s", resp.StatusCode, b)
			}
		})
		t.Run("ListFilters", func(t *testing.T) {
			for q, want := range map[string][]string{
				"":                          {"SH1", "SH2", "SH3"},
				"?state=planned":            {"SH2"},
				"?partner=acme":             {"SH1", "SH3"},
				"?held=true":                {"SH1"},
				"?held=false":               {"SH2", "SH3"},
				"?overdue=true":             {"SH1"},
				"?overdue=false":            {"SH2", "SH3"},
				"?updated_since=2000-01-01": {"SH1", "SH2", "SH3"},
			} {
				code, out, b := list(store.RoleAuditor, q)
				if code != 200 || !slices.Equal(keys(out), want) {
					t.Errorf("%s: %d %v, want %v (%s)", q, code, keys(out), want, b)
				}
			}
			for q, want := range map[string]string{
				"?held=maybe":                  "held",
				"?updated_since=yesterday":     "updated_since",
				"?before=2026-01-01T00:00:00Z": "before_key",
				"?before_key=SH1":              "before",
				"?limit=0":                     "limit",
			} {
				code, _, b := list(store.RoleAuditor, q)
				if code != 400 || !strings.Contains(b, want) {
					t.Errorf("%s: %d %s, want 400 naming %s", q, code, b, want)
				}
			}
		})
		t.Run("Paging", func(t *testing.T) {
			var seen []string
			q := "?limit=1"
			for range 5 {
				code, out, b := list(store.RoleAuditor, q)
				if code != 200 {
					t.Fatalf("%s: %d %s", q, code, b)
				}
				seen = append(seen, keys(out)...)
				if out.Next == nil {
					break
				}
				q = "?limit=1&before=" + url.QueryEscape(out.Next.Before.Format(time.RFC3339Nano)) + "&before_key=" + url.QueryEscape(out.Next.BeforeKey)
			}
			slices.Sort(seen)
			if !slices.Equal(seen, []string{"SH1", "SH2", "SH3"}) {
				t.Fatalf("pages met %v", seen)
			}
		})
		t.Run("PartnerToken", func(t *testing.T) {
			code, out, b := list("acme", "")
			if code != 200 || !slices.Equal(keys(out), []string{"SH1", "SH3"}) || strings.Contains(b, "globex") {
				t.Fatalf("own list: %d %s", code, b)
			}
			if code, _, b := list("acme", "?partner=globex"); code != 403 || !strings.Contains(b, "bound to partner acme") {
				t.Fatalf("partner=globex: %d %s", code, b)
			}
			resp, foreign := f.call("GET", "/api/v1/shipments/SH2", "acme", nil)
			resp2, missing := f.call("GET", "/api/v1/shipments/SH9", "acme", nil)
			if resp.StatusCode != 404 || resp2.StatusCode != 404 || strings.ReplaceAll(string(foreign), "SH2", "K") != strings.ReplaceAll(string(missing), "SH9", "K") {
				t.Fatalf("another partner's shipment: %d %s; unknown: %d %s", resp.StatusCode, foreign, resp2.StatusCode, missing)
			}
			resp, body := f.call("GET", "/api/v1/shipments/SH1", "acme", nil)
			b = string(body)
			var d detailJSON
			if resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil {
				t.Fatalf("own: %d %s", resp.StatusCode, b)
			}
			if strings.Contains(string(d.Data), "erp") || len(d.History) != 3 || d.History[0].System != "acme" {
				t.Fatalf("own shipment shows other systems: %s", b)
			}
			if !strings.Contains(string(d.Document), `"latest"`) || strings.Contains(b, "globex") {
				t.Fatalf("acme's view of SH1's document: %s", b)
			}
			if len(d.References) != 1 || d.References[0].Value != "BOL-1" || strings.Contains(b, "PO-G7") {
				t.Fatalf("acme sees references other partners brought: %+v", d.References)
			}
			resp, body = f.call("GET", "/api/v1/orders", "acme", nil)
			if resp.StatusCode != 403 || !strings.Contains(string(body), "missing scope orders:read") {
				t.Fatalf("orders without orders:read: %d %s", resp.StatusCode, body)
			}
		})
	})
}
