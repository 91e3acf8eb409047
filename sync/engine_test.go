package sync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// recorder is a Sender that renders X12 for real (so conversions are
// proven renderable) and remembers what it sent, once per idempotency key.
type recorder struct {
	t    *testing.T
	st   store.Store
	sent []*wsync.Outbound
	ids  map[string]string
	x12  map[string]string // message ID → rendered X12
	// batches: the number of documents in each batch sent
	batches []int
	// failBatch makes the next batch unsendable.
	failBatch bool
}

func (r *recorder) Send(ctx context.Context, o *wsync.Outbound) (string, error) {
	if id, ok := r.ids[o.IdempotencyKey]; ok {
		return id, nil
	}
	m := &store.Message{PartnerID: o.Route.To, Direction: store.Outbound, Transport: "test", RemoteName: o.Route.Name, ParentID: o.Source.ID}
	if err := r.st.InsertMessage(ctx, m); err != nil {
		return "", err
	}
	if set, ok := strings.CutPrefix(o.Route.Send, "x12:"); ok {
		prof := mapping.DefaultProfile()
		prof.Envelope.ReceiverQual, prof.Envelope.ReceiverID = "ZZ", strings.ToUpper(o.Route.To)
		var buf bytes.Buffer
		xr, err := mapping.NewX12Renderer(x12.NewWriter(&buf), mapping.RenderOptions{Profile: prof, Set: set, Numbers: &x12.MemoryControlNumbers{}})
		if err != nil {
			return "", err
		}
		errs, err := xr.Render(ctx, o.Doc)
		if err != nil {
			return "", err
		}
		if len(errs) > 0 {
			return "", fmt.Errorf("%w: %v", wsync.ErrUnsendable, errs[0])
		}
		if err := xr.Close(); err != nil {
			r.t.Errorf("route %s: %v", o.Route.Name, err)
		}
		r.x12[m.ID] = buf.String()
	}
	r.ids[o.IdempotencyKey] = m.ID
	r.sent = append(r.sent, o)
	return m.ID, nil
}

func (r *recorder) SendBatch(ctx context.Context, rt wsync.Route, docs []canonical.Document, keys []store.Key, idem string) (string, error) {
	if id, ok := r.ids[idem]; ok {
		return id, nil
	}
	if r.failBatch {
		r.failBatch = false
		return "", fmt.Errorf("%w: the layout has no column for total", wsync.ErrUnsendable)
	}
	m := &store.Message{PartnerID: rt.To, Direction: store.Outbound, Transport: "test", RemoteName: rt.Name + "-batch"}
	if err := r.st.InsertMessage(ctx, m); err != nil {
		return "", err
	}
	r.ids[idem] = m.ID
	r.batches = append(r.batches, len(docs))
	return m.ID, nil
}

func (r *recorder) names() []string {
	var out []string
	for _, o := range r.sent {
		out = append(out, o.Route.Name+"→"+o.Route.To)
	}
	return out
}

// inboundFile records a file partner sent, as the gateway archives it.
func inboundFile(t *testing.T, st store.Store, partner, name string) *store.Message {
	t.Helper()
	m := &store.Message{PartnerID: partner, Direction: store.Inbound, Transport: "test", RemoteName: name}
	if err := st.InsertMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// applyDoc decodes doc and applies it as document seq of m.
func applyDoc(t *testing.T, e *wsync.Engine, m *store.Message, seq int, doc string) canonical.Document {
	t.Helper()
	d, err := canonical.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(context.Background(), m, seq, d); err != nil {
		t.Fatalf("apply %s: %v", m.RemoteName, err)
	}
	return d
}

func rules(t *testing.T) *wsync.Rules {
	tol, err := wsync.ParseTolerance("2%")
	if err != nil {
		t.Fatal(err)
	}
	r := &wsync.Rules{
		Roles: map[string]string{"erp": "erp", "acme": "carrier", "wms": "wms", "inv": "invoicing", "cust": "customer"},
		Ownership: map[string][]string{"order": {"erp"}, "carrier_assignment": {"carrier"}, "ship_confirmation": {"wms"},
			"shipment_status": {"carrier", "tms"}, "freight_charges": {"carrier"}, "invoice": {"invoicing"}},
		Routes: []wsync.Route{
			{Name: "tender", On: "order.created", To: "acme", Send: "x12:204", DocType: canonical.TypeShipment},
			{Name: "pick", On: "order.created", To: "wms", Send: "x12:940", DocType: canonical.TypeWarehouseOrder},
			{Name: "accepted", On: "tender.accepted", To: "erp", Send: "json"},
			{Name: "shipped", On: "shipment.shipped", To: "erp", Send: "json"},
			{Name: "tms-status", On: "shipment.shipped", To: "tms", Send: "x12:214", DocType: canonical.TypeShipmentStatus},
			{Name: "bill", On: "billing.released", To: "inv", Send: "json"},
			{Name: "post", On: "invoice.approved", To: "erp", Send: "json"},
			{Name: "810", On: "invoice.approved", To: "cust", Send: "x12:810", DocType: canonical.TypeInvoice},
			{Name: "erp-nightly", On: "invoice.approved", To: "erp", Send: "json", Batch: true},
			// Never echoed: an order from the ERP does not go back to it.
			{Name: "echo", On: "order.created", To: "erp", Send: "json"},
		},
		SLAs: []wsync.SLA{
			{Name: "invoice_after_delivery", After: "shipment.delivered", Expect: "invoice.approved", Within: 24 * time.Hour, Owner: "operations"},
			{Name: "wms_confirm", After: "order.created", Expect: "shipment.shipped", Within: 4 * time.Hour, Owner: "operations"},
		},
		BillingRequiresPOD: true,
		Tolerance:          func(string) wsync.Tolerance { return tol },
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOrderToInvoice(t *testing.T) {
	// One clock for the engine and the store: the engine's SLA and
	// reconciliation cut-offs compare with the times the store stamps.
	var clock time.Time
	now := func() time.Time { return clock }
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clock = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
		rec := &recorder{t: t, st: st, ids: map[string]string{}, x12: map[string]string{}}
		e := &wsync.Engine{Store: st, Rules: rules(t), Sender: rec, Now: now}
		msg := func(partner, name string) *store.Message { return inboundFile(t, st, partner, name) }
		apply := func(m *store.Message, doc string) { t.Helper(); applyDoc(t, e, m, 1, doc) }
		state := func(kind, key string) (string, wsync.Data) {
			t.Helper()
			o, err := st.GetSyncObject(ctx, kind, key)
			if err != nil {
				t.Fatalf("%s %s: %v", kind, key, err)
			}
			var d wsync.Data
			_ = json.Unmarshal([]byte(o.Data), &d)
			return o.State, d
		}
		open := func(reason string) []*store.Exception {
			l, err := st.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{"open"}, Reason: reason})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		order := `{"type":"order","version":"1","order_number":"PO1","freight_charge":"1000.00","references":[{"type":"shipment_id","value":"SH1"},{"type":"bol","value":"BOL77"}],
			"parties":[{"role":"carrier","id":"ACME"},{"role":"ship_from","name":"DC Chicago","address":{"city":"Chicago","state":"IL"}},{"role":"ship_to","name":"Store 12","address":{"city":"Dallas","state":"TX"}}],
			"dates":[{"type":"requested_pickup","time":"2026-11-28"},{"type":"requested_delivery","time":"2026-11-30"}],
			"lines":[{"line_number":"1","item":{"ids":[{"type":"sku","value":"A-1"}]},"quantity":{"value":"10","unit":"each"}}]}`
		erpFile := msg("erp", "orders.csv")
		apply(erpFile, order)
		if got := rec.names(); !slices.Equal(got, []string{"tender→acme", "pick→wms"}) {
			t.Fatalf("order.created sent %v (the echo route must not send back to the ERP)", got)
		}
		if !strings.Contains(rec.x12[rec.ids[rec.sent[0].IdempotencyKey]], "B2**ACME**SH1*") {
			t.Fatalf("204 for the order:\n%s", rec.x12[rec.ids[rec.sent[0].IdempotencyKey]])
		}
		if s, d := state("shipment", "SH1"); s != "planned" || d.Order != "PO1" || d.TenderedCharge != "1000.00" {
			t.Fatalf("shipment: %s %+v", s, d)
		}
		// The same file again (a retried job): nothing recorded or sent twice.
		apply(erpFile, order)
		if len(rec.sent) != 2 {
			t.Fatalf("retry sent again: %v", rec.names())
		}
		if evs, _ := st.SyncEvents(ctx, "order", "PO1"); len(evs) != 3 || evs[0].Event != "order.created" || evs[1].Event != "sent" || evs[2].Event != "sent" {
			t.Fatalf("retry recorded again: %d events (want created, sent, sent)", len(evs))
		}

		// The WMS does not own orders: refused, an ownership exception, nothing sent.
		apply(msg("wms", "order-change.json"), strings.Replace(order, `"order_number":"PO1"`, `"purpose":"change","order_number":"PO1"`, 1))
		if ex := open("ownership"); len(ex) != 1 || ex[0].Owner != "it" || !strings.Contains(ex[0].Detail, "order is owned by erp") {
			t.Fatalf("ownership: %+v", ex)
		}
		if s, _ := state("order", "PO1"); s != "created" || len(rec.sent) != 2 {
			t.Fatalf("refused update applied: %s, %v", s, rec.names())
		}

		apply(msg("acme", "990.x12"), `{"type":"tender_response","version":"1","shipment_id":"SH1","action":"accepted"}`)
		// The WMS confirms by order number only: correlated to the order's shipment.
		apply(msg("wms", "945.x12"), `{"type":"ship_confirmation","version":"1","order_number":"PO1","dates":[{"type":"ship","time":"2026-11-28T10:00:00Z"}]}`)
		if s, _ := state("shipment", "SH1"); s != "shipped" {
			t.Fatalf("shipment after 945: %s", s)
		}
		if s, _ := state("order", "PO1"); s != "shipped" {
			t.Fatalf("order after 945: %s", s)
		}
		if got := rec.names(); !slices.Equal(got[2:], []string{"accepted→erp", "shipped→erp", "tms-status→tms"}) {
			t.Fatalf("sent %v", got)
		}

		// Delivered without proof of delivery: billing held, invoicing hears nothing.
		apply(msg("acme", "214-d1.x12"), `{"type":"shipment_status","version":"1","shipment_id":"SH1","events":[{"status":"delivered","time":"2026-11-30T15:00:00Z"}]}`)
		if s, d := state("shipment", "SH1"); s != "delivered" || d.Billing != "held" {
			t.Fatalf("delivered without POD: %s %+v", s, d)
		}
		if slices.Contains(rec.names(), "bill→inv") {
			t.Fatal("billing released without proof of delivery")
		}
		// An invoice while billing is held is not passed on.
		early := msg("inv", "inv-early.json")
		apply(early, `{"type":"invoice","version":"1","invoice_number":"INV0","order_number":"PO1","references":[{"type":"shipment_id","value":"SH1"}],"total":"1500.00"}`)
		if ex := open("hold"); len(ex) != 1 || ex[0].MessageID != early.ID {
			t.Fatalf("hold: %+v", ex)
		}
		if slices.Contains(rec.names(), "post→erp") {
			t.Fatal("invoice posted while billing was held")
		}
		// A document the route's format cannot carry (an 810 needs an invoice
		// date) is a "route" exception for IT, not a retry loop.
		apply(msg("inv", "inv-nodate.json"), `{"type":"invoice","version":"1","invoice_number":"INV9","order_number":"PO9","total":"5.00"}`)
		if ex := open("route"); len(ex) != 1 || !strings.Contains(ex[0].Detail, "route 810 (invoice.approved → cust as x12:810)") || !strings.Contains(ex[0].Detail, "dates[invoice]") {
			t.Fatalf("route exception: %+v", ex)
		}
		// The proof of delivery comes late: billing released.
		apply(msg("acme", "214-pod.x12"), `{"type":"shipment_status","version":"1","shipment_id":"SH1","events":[{"status":"delivered","proof_of_delivery":"J SMITH"}]}`)
		if _, d := state("shipment", "SH1"); d.Billing != "released" || d.POD != "J SMITH" {
			t.Fatalf("after POD: %+v", d)
		}
		if !slices.Contains(rec.names(), "bill→inv") {
			t.Fatalf("billing not released: %v", rec.names())
		}

		// Freight invoices: 1,250.00 against 1,000.00 tendered is a dispute; 1,015.00 is within 2 %.
		apply(msg("acme", "210-a.x12"), `{"type":"freight_invoice","version":"1","invoice_number":"F1","shipment_id":"SH1","total":"1250.00"}`)
		if ex := open("dispute"); len(ex) != 1 || !strings.Contains(ex[0].Detail, "charges 1250.00, tendered 1000.00") || ex[0].Owner != "operations" {
			t.Fatalf("dispute: %+v", ex)
		}
		apply(msg("acme", "210-b.x12"), `{"type":"freight_invoice","version":"1","invoice_number":"F2","shipment_id":"SH1","total":"1015.00"}`)
		if ex := open("dispute"); len(ex) != 1 {
			t.Fatalf("a matching freight invoice raised a dispute: %+v", ex)
		}

		clock = clock.Add(2 * time.Hour)
		apply(msg("inv", "inv.json"), `{"type":"invoice","version":"1","invoice_number":"INV1","order_number":"PO1","dates":[{"type":"invoice","time":"2026-12-01"}],"references":[{"type":"shipment_id","value":"SH1"}],
			"lines":[{"item":{"ids":[{"type":"sku","value":"A-1"}]},"quantity":{"value":"10","unit":"each"},"unit_price":"150.00"}],"total":"1500.00"}`)
		if got := rec.names(); !slices.Contains(got, "post→erp") || !slices.Contains(got, "810→cust") {
			t.Fatalf("invoice not posted: %v", got)
		}
		if s, _ := state("order", "PO1"); s != "invoiced" {
			t.Fatalf("order after invoice: %s", s)
		}
		// The nightly batch route collected the approved invoices (INV9's
		// too: json carries any invoice) and sends them in one file, once.
		if slices.Contains(rec.names(), "erp-nightly→erp") || len(rec.batches) != 0 {
			t.Fatal("a batch route sent on the event")
		}
		// An unsendable batch is a route exception, not a retry loop; its
		// documents wait for the next run.
		rec.failBatch = true
		if n, err := e.RunBatch(ctx, "erp-nightly"); err != nil || n != 0 || len(rec.batches) != 0 {
			t.Fatalf("unsendable batch: %d %v %v", n, err, rec.batches)
		}
		if ex := open("route"); len(ex) != 2 || !hasDetail(ex, "batch route erp-nightly (2 documents for erp as json) cannot be sent") {
			t.Fatalf("batch exception: %+v", ex)
		}
		if n, err := e.RunBatch(ctx, "erp-nightly"); err != nil || n != 2 || len(rec.batches) != 1 || rec.batches[0] != 2 {
			t.Fatalf("batch run: %d %v %v", n, err, rec.batches)
		}
		if n, err := e.RunBatch(ctx, "erp-nightly"); err != nil || n != 0 || len(rec.batches) != 1 {
			t.Fatalf("second batch run: %d %v %v", n, err, rec.batches)
		}
		if evs, _ := st.SyncEvents(ctx, "invoice", "INV1"); !hasEvents(evs, "queued", "sent") {
			t.Fatalf("invoice history lacks queued and sent: %v", evs)
		}
		if _, err := e.RunBatch(ctx, "810"); err == nil {
			t.Fatal("RunBatch of a route that is not a batch route")
		}

		// A second order nobody ships: its SLA is breached after 4 hours, once.
		apply(msg("erp", "orders2.csv"), strings.NewReplacer("PO1", "PO2", "SH1", "SH2", "BOL77", "BOL78").Replace(order))
		clock = clock.Add(5 * time.Hour)
		n, err := e.CheckTimers(ctx)
		if err != nil || n != 1 {
			t.Fatalf("timers: %d %v", n, err)
		}
		if ex := open("sla.wms_confirm"); len(ex) != 1 || ex[0].ObjectKey != "PO2" || !strings.Contains(ex[0].Detail, "shipment.shipped expected within 4h0m0s of order.created") {
			t.Fatalf("sla: %+v", ex)
		}
		if n, _ := e.CheckTimers(ctx); n != 0 {
			t.Fatal("breached twice")
		}
		// Reconciliation: PO2 was never shipped; raised once, not every hour.
		if n, err := e.Reconcile(ctx, time.Hour); err != nil || n != 1 {
			t.Fatalf("reconcile: %d %v", n, err)
		}
		if ex := open("reconcile.unshipped"); len(ex) != 1 || ex[0].ObjectKey != "PO2" {
			t.Fatalf("reconcile exception: %+v", ex)
		}
		if n, err := e.Reconcile(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("second reconcile: %d %v", n, err)
		}
		if evs, _ := st.ExceptionEvents(ctx, open("reconcile.unshipped")[0].ID); len(evs) != 1 {
			t.Fatalf("a second reconcile added to the open exception: %d events", len(evs))
		}
		timers, _ := st.SyncTimers(ctx, "shipment", "SH1")
		if len(timers) != 1 || timers[0].Status != "met" {
			t.Fatalf("invoice_after_delivery on SH1: %+v", timers)
		}

		// The trace of the PO: the order, its shipment and invoices, every message, the exceptions, in time order.
		tr, err := wsync.Trace(ctx, st, "PO1")
		if err != nil {
			t.Fatal(err)
		}
		var objs []string
		for _, o := range tr.Objects {
			objs = append(objs, o.Kind+"/"+o.Key+":"+o.State)
		}
		if !slices.Contains(objs, "order/PO1:invoiced") || !slices.Contains(objs, "shipment/SH1:invoiced") || !slices.Contains(objs, "invoice/INV1:invoiced") {
			t.Fatalf("trace objects %v", objs)
		}
		if len(tr.Messages) < 12 || len(tr.Exceptions) < 3 || !slices.Contains(tr.Systems, "acme") || !slices.Contains(tr.Systems, "cust") {
			t.Fatalf("trace: %d messages, %d exceptions, systems %v", len(tr.Messages), len(tr.Exceptions), tr.Systems)
		}
		for i := 1; i < len(tr.Timeline); i++ {
			if tr.Timeline[i].At.Before(tr.Timeline[i-1].At) {
				t.Fatalf("timeline out of order at %d", i)
			}
		}
		// The BOL finds the same story.
		if tb, _ := wsync.Trace(ctx, st, "BOL77"); len(tb.Objects) < 2 {
			t.Fatalf("trace by BOL: %v", tb.Objects)
		}
		if te, _ := wsync.Trace(ctx, st, "nothing-like-it"); !te.Empty() {
			t.Fatal("trace of an unknown key is not empty")
		}
	}, store.WithClock(now))
}

func TestUncorrelated(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := &wsync.Engine{Store: st, Rules: &wsync.Rules{}}
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound, RemoteName: "214.x12"}
		if err := st.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		d, _ := canonical.Decode([]byte(`{"type":"shipment_status","version":"1","events":[{"status":"delivered"}]}`))
		if err := e.Apply(ctx, m, 1, d); err != nil {
			t.Fatal(err)
		}
		ex, _ := st.ListExceptions(ctx, store.ExceptionFilter{Reason: "correlation"})
		if len(ex) != 1 || !strings.Contains(ex[0].Detail, "partner acme, file 214.x12: a shipment_status cannot correlate: the document has no shipment_id") {
			t.Fatalf("%+v", ex)
		}
	})
}

func TestRulesValidate(t *testing.T) {
	for _, c := range []struct {
		r    wsync.Rules
		want string
	}{
		{wsync.Rules{Ownership: map[string][]string{"orders": {"erp"}}}, `unknown business object "orders"`},
		{wsync.Rules{Routes: []wsync.Route{{Name: "x", On: "order.made", To: "a"}}}, `sync.routes[0].on: route x: "order.made" is not an event`},
		{wsync.Rules{Routes: []wsync.Route{{Name: "x", On: "order.created"}}}, `to is required`},
		{wsync.Rules{SLAs: []wsync.SLA{{Name: "s", After: "order.created", Expect: "shipment.shipped"}}}, `within must be positive`},
	} {
		if err := c.r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.r, err, c.want)
		}
	}
	if _, err := wsync.ParseTolerance("two percent"); err == nil {
		t.Error("bad tolerance accepted")
	}
}

func TestActions(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		x := &store.Exception{Reason: "route", Owner: "it", ObjectKind: "order", ObjectKey: "PO1", MessageID: "m-1", Detail: "cannot render"}
		if _, err := st.RaiseException(ctx, x); err != nil {
			t.Fatal(err)
		}
		var replayed []string
		replay := func(ctx context.Context, id string) (string, error) {
			replayed = append(replayed, id)
			return "processing re-run as job 7", nil
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "resolve", Actor: "anna", Comment: " ", Replay: replay}); err == nil || !strings.Contains(err.Error(), "a comment is required") {
			t.Fatalf("resolve without a comment: %v", err)
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "retry", Actor: "anna", Comment: "layout fixed", Replay: replay}); err != nil || len(replayed) != 1 || replayed[0] != "m-1" {
			t.Fatalf("retry: %v %v", err, replayed)
		}
		got, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "resolve", Actor: "anna", Comment: "re-sent after the layout fix", Replay: replay})
		if err != nil || got.Status != "resolved" {
			t.Fatalf("resolve: %v %+v", err, got)
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "replay", Actor: "anna", Comment: "", Replay: replay}); err == nil || !strings.Contains(err.Error(), "reopen it first") {
			t.Fatalf("replay of a resolved exception: %v", err)
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "escalate", Actor: "anna", Comment: "", Replay: replay}); err == nil || !strings.Contains(err.Error(), "unknown action") {
			t.Fatalf("unknown action: %v", err)
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "reopen", Actor: "bob", Comment: "carrier sent it again", Replay: replay}); err != nil {
			t.Fatal(err)
		}
		if _, err := wsync.Act(ctx, st, &wsync.ActParams{ID: x.ID, Action: "dismiss", Actor: "bob", Comment: "duplicate of a resolved case", Replay: replay}); err != nil {
			t.Fatal(err)
		}
		evs, _ := st.ExceptionEvents(ctx, x.ID)
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind+":"+e.Actor)
		}
		if strings.Join(kinds, ",") != "raised:wharf,retried:anna,resolved:anna,reopened:bob,dismissed:bob" {
			t.Fatalf("history %v", kinds)
		}
		if evs[1].Comment != "layout fixed (processing re-run as job 7)" {
			t.Fatalf("retry event %+v", evs[1])
		}
		audit, _ := st.AuditEvents(ctx, "anna", 10)
		if len(audit) != 2 || audit[0].Kind != "exception.resolve" || !strings.Contains(audit[0].Detail, "route, order PO1") {
			t.Fatalf("audit %+v", audit)
		}
	})
}

func hasEvents(evs []*store.SyncEvent, want ...string) bool {
	var got []string
	for _, e := range evs {
		got = append(got, e.Event)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func TestDigest(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Now()
		if txt, n, err := wsync.Digest(ctx, st, now); err != nil || n != 0 || !strings.Contains(txt, "No open exceptions.") {
			t.Fatalf("empty digest: %v %d %q", err, n, txt)
		}
		for _, x := range []*store.Exception{
			{Reason: "dispute", Owner: "operations", ObjectKind: "shipment", ObjectKey: "SH-1", PartnerID: "acme", Detail: "charges 1250.00, tendered 750.00"},
			{Reason: "sla.pod_after_delivery", Owner: "operations", ObjectKind: "shipment", ObjectKey: "SH-2", Detail: "no POD"},
			{Reason: "mapping", Owner: "it", ObjectKind: "message", ObjectKey: "m-1", PartnerID: "erp", Detail: "column 5 is not a number"},
		} {
			if _, err := st.RaiseException(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		closed := &store.Exception{Reason: "dispute", Owner: "operations", ObjectKey: "SH-9", Detail: "settled"}
		st.RaiseException(ctx, closed)
		st.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: closed.ID, Status: store.ExceptionResolved, Actor: "ann", Comment: "paid"})
		txt, n, err := wsync.Digest(ctx, st, now.Add(3*time.Hour+time.Minute))
		if err != nil || n != 3 {
			t.Fatalf("digest: %v %d", err, n)
		}
		for _, want := range []string{"3 open exception(s):", "operations dispute", "Owner it (1):", "Owner operations (2):",
			"- [dispute] shipment SH-1, 3h old", "partner acme", "charges 1250.00, tendered 750.00"} {
			if !strings.Contains(strings.Join(strings.Fields(txt), " "), strings.Join(strings.Fields(want), " ")) {
				t.Errorf("digest lacks %q:\n%s", want, txt)
			}
		}
		if strings.Contains(txt, "SH-9") {
			t.Errorf("a resolved exception is in the digest:\n%s", txt)
		}
	})
}

// TestRetryOfABigExport: a retried job of one export with more events than
// any one query returns still finds what it already applied (an earlier
// version looked through the message's events, capped at 10,000, and turned
// retried orders into "changed" ones).
func TestRetryOfABigExport(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := &wsync.Engine{Store: st, Rules: &wsync.Rules{}}
		m := &store.Message{PartnerID: "erp", Direction: store.Inbound, RemoteName: "orders.csv"}
		if err := st.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		// The first 10,001 orders of a big export, then SO-1.
		err := st.WithTx(ctx, func(tx store.Tx) error {
			for i := range 10001 {
				if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "order", Key: fmt.Sprintf("SO-%d", i+2), Event: "order.created", MessageID: m.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := canonical.Decode([]byte(`{"type":"order","version":"1","order_number":"SO-1"}`))
		if err := e.Apply(ctx, m, 1, d); err != nil {
			t.Fatal(err)
		}
		if err := e.Apply(ctx, m, 1, d); err != nil { // the retry
			t.Fatal(err)
		}
		evs, _ := st.SyncEvents(ctx, "order", "SO-1")
		if o, _ := st.GetSyncObject(ctx, "order", "SO-1"); o.State != "created" || len(evs) != 1 {
			t.Fatalf("retry changed the order: state %s, %d events", o.State, len(evs))
		}
	})
}

// TestDocumentsOfOneFile: each document of a message is applied once, by
// its position: a second status of the same shipment in the same file is
// applied too, and a retry of the file applies neither again.
func TestDocumentsOfOneFile(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		rules := &wsync.Rules{BillingRequiresPOD: true, Ownership: map[string][]string{"shipment_status": {"carrier"}}, Roles: map[string]string{"acme": "carrier"}}
		e := &wsync.Engine{Store: st, Rules: rules}
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound, RemoteName: "214s.x12"}
		if err := st.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		docs := []string{
			`{"type":"shipment_status","version":"1","shipment_id":"SH-1","events":[{"status":"in_transit"}]}`,
			`{"type":"shipment_status","version":"1","shipment_id":"SH-1","events":[{"status":"delivered","proof_of_delivery":"J CHEN"}]}`,
		}
		for attempt := range 2 {
			for i, doc := range docs {
				d, _ := canonical.Decode([]byte(doc))
				if err := e.Apply(ctx, m, i+1, d); err != nil {
					t.Fatalf("attempt %d, document %d: %v", attempt, i+1, err)
				}
			}
		}
		o, err := st.GetSyncObject(ctx, "shipment", "SH-1")
		if err != nil || o.State != "delivered" || !strings.Contains(o.Data, `"billing":"released"`) {
			t.Fatalf("shipment after both statuses: %v %+v", err, o)
		}
		evs, _ := st.SyncEvents(ctx, "shipment", "SH-1")
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Event)
		}
		if strings.Join(got, ",") != "shipment.status,shipment.status,shipment.delivered,shipment.pod,billing.released" {
			t.Fatalf("history (applied once each): %v", got)
		}

		// A refused update is applied when a retry comes after the owner rule changed.
		wms := &store.Message{PartnerID: "wms", Direction: store.Inbound, RemoteName: "214-from-wms.json"}
		if err := st.InsertMessage(ctx, wms); err != nil {
			t.Fatal(err)
		}
		d, _ := canonical.Decode([]byte(`{"type":"shipment_status","version":"1","shipment_id":"SH-2","events":[{"status":"in_transit"}]}`))
		for range 2 {
			if err := e.Apply(ctx, wms, 1, d); err != nil {
				t.Fatal(err)
			}
		}
		if evs, _ := st.SyncEvents(ctx, "shipment", "SH-2"); len(evs) != 1 || evs[0].Event != "refused" {
			t.Fatalf("refused (once): %+v", evs)
		}
		rules.Ownership["shipment_status"] = append(rules.Ownership["shipment_status"], "wms")
		if err := e.Apply(ctx, wms, 1, d); err != nil {
			t.Fatal(err)
		}
		if o, err := st.GetSyncObject(ctx, "shipment", "SH-2"); err != nil || o.State != "in_transit" {
			t.Fatalf("after the owner rule changed and a retry: %v %+v", err, o)
		}
	})
}

func hasDetail(ex []*store.Exception, want string) bool {
	for _, x := range ex {
		if strings.Contains(x.Detail, want) {
			return true
		}
	}
	return false
}
