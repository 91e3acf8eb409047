package sync_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// Every file about a shipment is found by any of its business keys, not
// only by those it carries: the carrier's 990 and 210 name only the
// shipment, yet the order's PO and order number find them too, and the
// documents routes send carry them. A trace shows only the exceptions
// about what it traces, not those of the other shipment in the same file.
func TestEveryFileFoundByAnyKey(t *testing.T) {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		rec := &recorder{t: t, st: st, ids: map[string]string{}, x12: map[string]string{}}
		e := &wsync.Engine{Store: st, Rules: rules(t), Sender: rec, Now: func() time.Time { return clock }}
		file := func(partner, name string, docs ...string) *store.Message {
			t.Helper()
			m := inboundFile(t, st, partner, name)
			for i, doc := range docs {
				d := applyDoc(t, e, m, i+1, doc)
				// The keys the document carries, as the processing stage
				// records them; the engine adds those of what it changed.
				var own []store.Key
				for _, r := range canonical.Keys(d) {
					own = append(own, store.Key{Kind: r.Type, Value: r.Value})
				}
				if err := st.AddMessageKeys(ctx, m.ID, own); err != nil {
					t.Fatal(err)
				}
			}
			return m
		}
		order := func(n, charge string) string {
			return `{"type":"order","version":"1","order_number":"SO-` + n + `","freight_charge":"` + charge + `","references":[{"type":"po","value":"PO-` + n +
				`"},{"type":"shipment_id","value":"SH-` + n + `"}],"parties":[{"role":"carrier","id":"ACME"},{"role":"ship_to","name":"Store"}]}`
		}
		orders := file("erp", "orders.csv", order("1", "100.00"), order("2", "200.00"))
		accept := file("acme", "990.x12",
			`{"type":"tender_response","version":"1","shipment_id":"SH-1","carrier":"ACME","action":"accepted"}`,
			`{"type":"tender_response","version":"1","shipment_id":"SH-2","carrier":"ACME","action":"accepted"}`)
		invoices := file("acme", "210.x12",
			`{"type":"freight_invoice","version":"1","invoice_number":"FI-1","shipment_id":"SH-1","total":"100.00"}`,
			`{"type":"freight_invoice","version":"1","invoice_number":"FI-2","shipment_id":"SH-2","total":"999.00"}`)

		found := func(key string) []string {
			t.Helper()
			ms, err := st.SearchMessages(ctx, store.MessageFilter{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		for _, key := range []string{"PO-1", "SO-1", "SH-1"} {
			got := found(key)
			for _, m := range []*store.Message{orders, accept, invoices} {
				if !slices.Contains(got, m.ID) {
					t.Errorf("archive search by %s misses %s (found %v)", key, m.RemoteName, got)
				}
			}
		}
		if got := found("FI-1"); !slices.Contains(got, invoices.ID) {
			t.Errorf("archive search by the freight invoice FI-1 misses the 210: %v", got)
		}
		// What routes send for shipment SH-1 carries its order's keys.
		for _, o := range rec.sent {
			if o.Kind != wsync.KindShipment || o.Key != "SH-1" {
				continue
			}
			if !slices.Contains(o.Keys, store.Key{Kind: canonical.RefPO, Value: "PO-1"}) || !slices.Contains(o.Keys, store.Key{Kind: canonical.RefOrderNumber, Value: "SO-1"}) {
				t.Errorf("route %s for SH-1 sends keys %v, want the order's PO and number", o.Route.Name, o.Keys)
			}
		}

		// SH-2's charge is disputed: raised with the 210 they share.
		xs, err := st.ListExceptions(ctx, store.ExceptionFilter{Reason: "dispute", MessageID: invoices.ID})
		if err != nil || len(xs) != 1 || xs[0].ObjectKey != "SH-2" {
			t.Fatalf("disputes of the 210: %+v %v", xs, err)
		}
		tr, err := wsync.Trace(ctx, st, "SH-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range tr.Exceptions {
			t.Errorf("the trace of SH-1 shows exception %s about %s %s", x.Reason, x.ObjectKind, x.ObjectKey)
		}
		if tr, err = wsync.Trace(ctx, st, "SH-2"); err != nil || len(tr.Exceptions) != 1 || tr.Exceptions[0].Reason != "dispute" {
			t.Errorf("the trace of SH-2: %v, exceptions %+v, want its dispute", err, tr.Exceptions)
		}
	})
}
