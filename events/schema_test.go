package events_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/jsonschema"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// TestSchema checks the events Wharf writes (the store's message and
// exception events, a sync milestone) against docs/events.schema.json.
func TestSchema(t *testing.T) {
	raw, err := os.ReadFile("../docs/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	st := testenv.OpenStore(t, "SQLite", store.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	m := &store.Message{PartnerID: "acme", Direction: store.Outbound, Transport: "sftp", RemoteName: "214.x12", Status: lifecycle.StatusWaiting}
	if err := st.InsertMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMessageStatus(ctx, m.ID, lifecycle.StatusDeadLetter); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RaiseException(ctx, &store.Exception{Reason: "delivery", ObjectKind: "message", ObjectKey: m.ID, PartnerID: "acme"}); err != nil {
		t.Fatal(err)
	}
	e := &wsync.Engine{Store: st, Rules: &wsync.Rules{}, Now: func() time.Time { return clock }}
	in := &store.Message{PartnerID: "erp", Direction: store.Inbound, Transport: "folder", RemoteName: "orders.csv", Status: lifecycle.StatusReceived}
	if err := st.InsertMessage(ctx, in); err != nil {
		t.Fatal(err)
	}
	d, err := canonical.Decode([]byte(`{"type":"order","version":"1","order_number":"PO1","references":[{"type":"shipment_id","value":"SH1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, in, 1, d); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AssignOutbox(ctx, 100); err != nil {
		t.Fatal(err)
	}
	rows, err := st.OutboxAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range rows {
		ev, err := events.FromOutbox(r, "")
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(ev.JSON, &v); err != nil {
			t.Fatal(err)
		}
		if err := jsonschema.Validate(schema, v); err != nil {
			t.Errorf("%s does not follow docs/events.schema.json: %v\n%s", ev.Type, err, ev.JSON)
		}
		types = append(types, ev.Type)
	}
	want := []string{"wharf.message.waiting", "wharf.message.dead_letter", "wharf.exception.opened", "wharf.message.received", "wharf.order.created", "wharf.shipment.planned"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
}
