package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	wsync "github.com/wharfedi/wharf/sync"
)

// Test traffic (ISA15 T, or a partner marked test) changes no business
// object and takes only test routes; production traffic never takes them.
func TestTestTrafficKeptApart(t *testing.T) {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		rec := &recorder{t: t, st: st, ids: map[string]string{}, x12: map[string]string{}}
		r := rules(t)
		r.TestPartners = map[string]bool{"sandbox": true, "newcarrier": true}
		r.Roles["newcarrier"] = "carrier"
		r.Routes = append(r.Routes,
			wsync.Route{Name: "tender-test", On: "order.created", To: "acme-test", Send: "json", Test: true},
			wsync.Route{Name: "onboard", On: "order.created", To: "newcarrier", Send: "json"})
		e := &wsync.Engine{Store: st, Rules: r, Sender: rec, Now: func() time.Time { return clock }}
		apply := func(partner, name, doc string) {
			t.Helper()
			applyDoc(t, e, inboundFile(t, st, partner, name), 1, doc)
		}
		order := func(number, usage string) string {
			src := ""
			if usage != "" {
				src = `"source":{"format":"x12","usage":"` + usage + `"},`
			}
			return `{"type":"order","version":"1",` + src + `"order_number":"` + number + `","references":[{"type":"shipment_id","value":"SH-` + number + `"}],
				"parties":[{"role":"carrier","id":"ACME"}],"lines":[{"line_number":"1","item":{"ids":[{"type":"sku","value":"A-1"}]},"quantity":{"value":"1","unit":"each"}}]}`
		}
		exists := func(kind, key string) bool {
			t.Helper()
			_, err := st.GetSyncObject(ctx, kind, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}

		// ISA15 T from the ERP: test routes only, no order, no shipment.
		apply("erp", "t.edi", order("PO-T", "T"))
		if got := rec.names(); !slices.Equal(got, []string{"tender-test→acme-test", "onboard→newcarrier"}) {
			t.Fatalf("test order sent %v, want only the test routes", got)
		}
		for _, o := range rec.sent {
			if !o.Test {
				t.Fatalf("route %s: the outbound of test traffic is not marked test", o.Route.Name)
			}
		}
		if exists("order", "PO-T") || exists("shipment", "SH-PO-T") {
			t.Fatal("test traffic created production objects")
		}
		if refs, _ := st.SyncRefsByValue(ctx, "PO-T"); len(refs) != 0 {
			t.Fatalf("test traffic recorded references %+v", refs)
		}
		// The file is marked test in the archive, however the document said it.
		if got, _ := st.SearchMessages(ctx, store.MessageFilter{Traffic: store.TrafficTest, Direction: store.Inbound}); len(got) != 1 || got[0].RemoteName != "t.edi" {
			t.Fatalf("test traffic in the archive: %d messages", len(got))
		}

		// The same order in production: production routes only.
		rec.sent = nil
		apply("erp", "p.edi", order("PO-P", "P"))
		if got := rec.names(); !slices.Equal(got, []string{"tender→acme", "pick→wms"}) {
			t.Fatalf("production order sent %v, want the production routes only", got)
		}
		if !exists("order", "PO-P") || !exists("shipment", "SH-PO-P") {
			t.Fatal("production order applied no objects")
		}

		// A partner marked test: its files are test traffic whatever their ISA15.
		rec.sent = nil
		apply("sandbox", "s.json", order("PO-S", ""))
		if exists("order", "PO-S") {
			t.Fatal("a test partner's order changed production objects")
		}
		if got := rec.names(); !slices.Equal(got, []string{"tender-test→acme-test", "onboard→newcarrier"}) {
			t.Fatalf("test partner's order sent %v", got)
		}
		// A test partner's 214 for a production shipment leaves it as it was.
		apply("newcarrier", "214.json", `{"type":"shipment_status","version":"1","shipment_id":"SH-PO-P","events":[{"status":"delivered"}]}`)
		if o, err := st.GetSyncObject(ctx, "shipment", "SH-PO-P"); err != nil || o.State != "planned" {
			t.Fatalf("test status moved the production shipment: %+v %v", o, err)
		}
	})
}
