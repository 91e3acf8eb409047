package sync_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// Every milestone the engine records is an outbox event written in the
// same transaction, once, with the object's state and the document.
func TestMilestonesInOutbox(t *testing.T) {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := &wsync.Engine{Store: st, Rules: rules(t), Now: now}
		apply := func(partner, name, doc string) *store.Message {
			t.Helper()
			m := &store.Message{PartnerID: partner, Direction: store.Inbound, Transport: "test", RemoteName: name, CorrelationID: "corr-" + name}
			if err := st.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			d, err := canonical.Decode([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // a retried job records nothing twice
				if err := e.Apply(ctx, m, 1, d); err != nil {
					t.Fatalf("apply %s: %v", name, err)
				}
			}
			return m
		}
		erp := apply("erp", "orders.csv", `{"type":"order","version":"1","order_number":"PO1","freight_charge":"10.00","references":[{"type":"shipment_id","value":"SH1"}]}`)
		apply("wms", "945.x12", `{"type":"ship_confirmation","version":"1","shipment_id":"SH1","order_number":"PO1"}`)
		apply("acme", "214.x12", `{"type":"shipment_status","version":"1","shipment_id":"SH1","events":[{"status":"delivered","time":"2026-11-30T15:00:00Z"}]}`)
		apply("wms", "bad-order.json", `{"type":"order","version":"1","order_number":"PO1","purpose":"change"}`) // refused: no milestone

		for {
			n, err := st.AssignOutbox(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		evs, err := st.OutboxAfter(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var created, delivered *store.OutboxEvent
		for _, ev := range evs {
			if strings.HasPrefix(ev.Type, "message.") {
				continue
			}
			got = append(got, ev.Type+" "+ev.Subject)
			switch ev.Type {
			case "order.created":
				created = ev
			case "shipment.delivered":
				delivered = ev
			}
		}
		want := "order.created PO1, shipment.planned SH1, shipment.shipped SH1, shipment.status SH1, shipment.delivered SH1, billing.held SH1, exception.opened PO1"
		if strings.Join(got, ", ") != want {
			t.Fatalf("outbox:\n got %s\nwant %s", strings.Join(got, ", "), want)
		}
		if created.MessageID != erp.ID || created.PartnerID != "erp" || created.CorrelationID != "corr-orders.csv" || !created.At.Equal(clock) || created.ObjectKind != "order" {
			t.Fatalf("order.created attributes: %+v", created)
		}
		var ms wsync.Milestone
		if err := json.Unmarshal(delivered.Data, &ms); err != nil {
			t.Fatal(err)
		}
		if ms.Object.Kind != "shipment" || ms.Object.State != "delivered" || !strings.Contains(string(ms.Object.Data), `"billing":"held"`) {
			t.Fatalf("shipment.delivered object: %+v %s", ms.Object, ms.Object.Data)
		}
		if d, err := canonical.Decode(ms.Document); err != nil || d.Head().Type != canonical.TypeShipmentStatus {
			t.Fatalf("shipment.delivered document %s: %v", ms.Document, err)
		}
	})
}
