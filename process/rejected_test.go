package process_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/process"
)

// orderExport is a partner's CSV order export: one order per line, a
// freight charge in the third column.
var orderExport = mapping.LayoutSpec{Name: "orders", Format: "csv", Document: "order", Header: true,
	Records: []mapping.RecordSpec{{Fields: []mapping.FieldSpec{
		{Path: "order_number", Column: 1},
		{Path: "references[po]", Column: 2},
		{Path: "freight_charge", Column: 3, Type: "decimal"},
	}}}}

// rig is a processor over one partner's messages, with what it emitted,
// the WARN lines it logged, and a partner policy and layout a test changes
// between replays (as a configuration change does).
type rig struct {
	e       *flowtest.Env
	p       *process.Processor
	logs    strings.Builder
	emitted []canonical.Document
	policy  string // mapping policy: quarantine or reject
	layout  *mapping.RecordLayout
}

func newRig(t *testing.T, e *flowtest.Env) *rig {
	r := &rig{e: e, policy: "quarantine"}
	r.p = &process.Processor{Archive: e.Archive, Store: e.Store, Logger: slog.New(slog.NewTextHandler(&r.logs, nil)),
		Profile: func(partner string) *mapping.Profile {
			prof, err := mapping.NewProfile(mapping.ProfileSpec{Partner: partner, Policy: r.policy})
			if err != nil {
				t.Fatal(err)
			}
			return prof
		},
		Layout: func(string) *mapping.RecordLayout { return r.layout },
		Emit: func(_ context.Context, _ *store.Message, _ int, d canonical.Document) error {
			r.emitted = append(r.emitted, d)
			return nil
		}}
	return r
}

func (r *rig) put(t *testing.T, name, body string) string {
	t.Helper()
	en, err := r.e.Archive.Put(context.Background(), strings.NewReader(body), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: name})
	if err != nil {
		t.Fatal(err)
	}
	return en.ID
}

// process runs the stage and returns the message's status.
func (r *rig) process(t *testing.T, id string) lifecycle.Status {
	t.Helper()
	if err := r.p.Process(context.Background(), id); err != nil {
		t.Fatalf("process: %v (a file's content is an outcome, not a job failure)", err)
	}
	m, err := r.e.Store.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Status
}

// exceptions returns the message's exceptions with the given status.
func (r *rig) exceptions(t *testing.T, id, status string) []*store.Exception {
	t.Helper()
	xs, err := r.e.Store.ListExceptions(context.Background(), store.ExceptionFilter{Statuses: []string{status}, MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

// warned returns the WARN lines that name the file.
func (r *rig) warned(file string) []string {
	var out []string
	for _, l := range strings.Split(r.logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "file="+file) {
			out = append(out, l)
		}
	}
	return out
}

// An unrecognized file says what it is not and how it starts, raises one
// unrecognized exception (owner it) and logs one WARN line; once the
// partner's layout is configured, its replay processes it and resolves the
// exception.
func TestUnrecognizedFileSaysWhy(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		r := newRig(t, e)
		id := r.put(t, "inbound/orders.csv", "order,po,charge\nSO-1,PO-1,100.00\n")
		for range 2 { // a retried job or a replay: still one exception
			if st := r.process(t, id); st != lifecycle.StatusUnrecognized {
				t.Fatalf("status %s, want unrecognized", st)
			}
		}
		ev := events(t, e.Store, id)
		for _, want := range []string{"parsed: not X12", "partner acme has no mapping.layout", `it starts with "order,po,charge\nSO-1`, "exception: unrecognized (exception "} {
			if !strings.Contains(ev, want) {
				t.Errorf("history lacks %q:\n%s", want, ev)
			}
		}
		open := r.exceptions(t, id, store.ExceptionOpen)
		if len(open) != 1 || open[0].Reason != "unrecognized" || open[0].Owner != store.OwnerIT || !strings.Contains(open[0].Detail, "inbound/orders.csv") ||
			!strings.Contains(open[0].Detail, "mapping.layout") {
			t.Fatalf("open exceptions %+v, want one unrecognized naming the file and the fix", open)
		}
		if w := r.warned("inbound/orders.csv"); len(w) != 2 || !strings.Contains(w[0], "partner=acme") || !strings.Contains(w[0], "not X12") {
			t.Errorf("WARN lines %q, want one per run naming the partner, the file and why", w)
		}

		var err error
		if r.layout, err = mapping.NewRecordLayout(orderExport, mapping.DefaultProfile()); err != nil {
			t.Fatal(err)
		}
		if st := r.process(t, id); st != lifecycle.StatusProcessed {
			t.Fatalf("after the layout is configured: %s, want processed\n%s", st, events(t, e.Store, id))
		}
		if open := r.exceptions(t, id, store.ExceptionOpen); len(open) != 0 {
			t.Errorf("still open after the replay processed it: %+v", open)
		}
		if done := r.exceptions(t, id, store.ExceptionResolved); len(done) != 1 || done[0].Reason != "unrecognized" {
			t.Errorf("resolved: %+v, want the unrecognized exception", done)
		}
		if len(r.emitted) != 1 {
			t.Errorf("%d documents passed on, want 1", len(r.emitted))
		}
	})
}

// A CSV file with a bad line under the partner's reject policy is
// rejected: no document of it is passed on (not even the good line before
// the bad one), its mapped event says where and why, one rejected
// exception and one WARN line. Under quarantine, its replay passes the good
// documents on, sets the bad one aside (a mapping exception) and resolves
// the rejection.
func TestMappingRejectedFileSaysWhy(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		r := newRig(t, e)
		var err error
		if r.layout, err = mapping.NewRecordLayout(orderExport, mapping.DefaultProfile()); err != nil {
			t.Fatal(err)
		}
		r.policy = "reject"
		id := r.put(t, "inbound/orders.csv", "order,po,charge\nSO-1,PO-1,100.00\nSO-2,PO-2,lots\nSO-3,PO-3,5.00\n")
		if st := r.process(t, id); st != lifecycle.StatusRejected {
			t.Fatalf("status %s, want rejected\n%s", st, events(t, e.Store, id))
		}
		if len(r.emitted) != 0 {
			t.Errorf("%d documents of a rejected file were passed on", len(r.emitted))
		}
		ev := events(t, e.Store, id)
		for _, want := range []string{"mapped: mapping rejected the file (policy reject): 1 error(s); no documents passed on",
			`error: order at line 3 (line 3, column 3 (freight_charge)): invalid value: "lots": not a decimal number`, "exception: rejected (exception "} {
			if !strings.Contains(ev, want) {
				t.Errorf("history lacks %q:\n%s", want, ev)
			}
		}
		open := r.exceptions(t, id, store.ExceptionOpen)
		if len(open) != 1 || open[0].Reason != "rejected" || !strings.Contains(open[0].Detail, "policy reject") || !strings.Contains(open[0].Detail, "line 3") {
			t.Fatalf("open exceptions %+v, want one rejected exception saying why", open)
		}
		if w := r.warned("inbound/orders.csv"); len(w) != 1 || !strings.Contains(w[0], "rejected by mapping") || !strings.Contains(w[0], "partner=acme") {
			t.Errorf("WARN lines %q", w)
		}

		r.policy = "quarantine"
		if st := r.process(t, id); st != lifecycle.StatusProcessed {
			t.Fatalf("replay under quarantine: %s, want processed\n%s", st, events(t, e.Store, id))
		}
		if len(r.emitted) != 2 {
			t.Errorf("%d documents passed on under quarantine, want the 2 good ones", len(r.emitted))
		}
		open = r.exceptions(t, id, store.ExceptionOpen)
		if len(open) != 1 || open[0].Reason != "mapping" {
			t.Errorf("open exceptions after the replay: %+v, want the set-aside line only", open)
		}
		if done := r.exceptions(t, id, store.ExceptionResolved); len(done) != 1 || done[0].Reason != "rejected" {
			t.Errorf("resolved: %+v, want the rejection", done)
		}
	})
}

// Canonical JSON with a document that is not JSON is rejected with the
// position and the parser's reason, not retried as a failed job; a
// document that is JSON but not canonical is set aside.
func TestCanonicalJSONRejectedSaysWhy(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		r := newRig(t, e)
		good := `{"type":"invoice","version":"1","invoice_number":"INV-1","currency":"USD","total":"10.00"}`
		id := r.put(t, "invoice.json", good+"\n{\"type\": \"invoice\", oops}\n"+good+"\n")
		if st := r.process(t, id); st != lifecycle.StatusRejected {
			t.Fatalf("status %s, want rejected\n%s", st, events(t, e.Store, id))
		}
		ev := events(t, e.Store, id)
		for _, want := range []string{"the 1 document(s) before the first were passed on", "error: document 2 (line 2): input cannot be read: not JSON"} {
			if !strings.Contains(ev, want) {
				t.Errorf("history lacks %q:\n%s", want, ev)
			}
		}
		if open := r.exceptions(t, id, store.ExceptionOpen); len(open) != 1 || open[0].Reason != "rejected" {
			t.Errorf("open exceptions %+v, want one rejected", open)
		}
		if w := r.warned("invoice.json"); len(w) != 1 {
			t.Errorf("WARN lines %q, want one", w)
		}
	})
}

// A file X12 validation rejected, replayed after the configuration
// changed so that it passes, is processed and its x12_rejected exception
// resolved; replayed while still broken, it keeps one exception.
func TestX12RejectionResolvedByReplay(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		r := newRig(t, e)
		strict := true
		r.p.Policy = func(string) process.Policy { return process.Policy{Strict: strict} }
		// A 3-character ST02: an error when strict, a warning otherwise.
		body := strings.Replace(strings.Replace(load204, "ST*204*0001~", "ST*204*001~", 1), "SE*9*0001~", "SE*9*001~", 1)
		id := r.put(t, "inbound/load.edi", body)
		for range 2 {
			if st := r.process(t, id); st != lifecycle.StatusRejected {
				t.Fatalf("strict: %s, want rejected\n%s", st, events(t, e.Store, id))
			}
		}
		if open := r.exceptions(t, id, store.ExceptionOpen); len(open) != 1 || open[0].Reason != "x12_rejected" {
			t.Fatalf("open exceptions %+v, want one x12_rejected", open)
		}
		strict = false
		if st := r.process(t, id); st != lifecycle.StatusProcessed {
			t.Fatalf("lenient: %s, want processed\n%s", st, events(t, e.Store, id))
		}
		if open := r.exceptions(t, id, store.ExceptionOpen); len(open) != 0 {
			t.Errorf("open after the replay processed it: %+v", open)
		}
		done := r.exceptions(t, id, store.ExceptionResolved)
		if len(done) != 1 || done[0].Reason != "x12_rejected" {
			t.Errorf("resolved: %+v", done)
		}
	})
}

// An outbound X12 message delivery gave up on before processing recorded
// its groups awaits no acknowledgment: no awaiting_ack event, its groups
// not sent, never overdue; once its replay is delivered (the store's
// RearmSentGroups, as the delivery engine calls it), they are awaited
// again from then.
func TestDeadLetterAwaitsNoAcknowledgment(t *testing.T) {
	var clock time.Time
	now := func() time.Time { return clock }
	flowtest.ForEachDB(t, archive.Options{Now: now}, []string{"acme"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		clock = time.Date(2026, 7, 16, 12, 0, 0, 0, time.UTC)
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Now: now,
			Policy: func(string) process.Policy { return process.Policy{AckTimeout: 4 * time.Hour} }}
		en, err := e.Archive.Put(ctx, strings.NewReader(load204), archive.Meta{Partner: "acme", Direction: store.Outbound, Transport: "http", RemoteName: "load.edi"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Store.SetMessageStatus(ctx, en.ID, lifecycle.StatusDeadLetter); err != nil {
			t.Fatal(err)
		}
		if err := p.Process(ctx, en.ID); err != nil {
			t.Fatal(err)
		}
		if ev := events(t, e.Store, en.ID); strings.Contains(ev, "awaiting_ack") {
			t.Errorf("a dead letter awaits an acknowledgment:\n%s", ev)
		}
		gs, err := e.Store.SentGroupsByGS06(ctx, "acme", "77")
		if err != nil || len(gs) != 1 || gs[0].AckStatus != lifecycle.AckNotSent {
			t.Fatalf("the dead letter's group: %+v %v", gs, err)
		}
		m, _ := e.Store.GetMessage(ctx, en.ID)
		if m.Format != "x12" || strings.Join(m.DocTypes, ",") != "204" {
			t.Errorf("format %q %v, want x12 [204]", m.Format, m.DocTypes)
		}
		clock = clock.Add(10 * time.Hour)
		if n, err := p.CheckOverdue(ctx); n != 0 || err != nil {
			t.Fatalf("overdue: %d %v, want none for what never left", n, err)
		}
		if err := e.Store.RearmSentGroups(ctx, en.ID); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(3 * time.Hour)
		if n, err := p.CheckOverdue(ctx); n != 0 || err != nil {
			t.Fatalf("overdue 3 hours after the replay was delivered: %d %v", n, err)
		}
		clock = clock.Add(2 * time.Hour)
		if n, err := p.CheckOverdue(ctx); n != 1 || err != nil {
			t.Fatalf("overdue 5 hours after the replay was delivered: %d %v, want its group", n, err)
		}
	})
}
