package delivery_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
	"github.com/wharfedi/wharf/transports/folder"
)

var ctx = context.Background()

// pushed are the transports whose outbound messages get a delivery job.
var pushed = map[string]bool{"folder": true, "http": true}

// rig is a store, an archive whose commit hook enqueues deliveries, a
// running job runtime and an engine with a "folder" route into out/ and a
// "http" route whose behaviour the test sets.
type rig struct {
	*flowtest.Env
	rt     *jobs.Runtime
	eng    *delivery.Engine
	out    string
	remote func() error // the "http" route's outcome
}

func newRig(t *testing.T, db string) *rig {
	r := &rig{out: t.TempDir(), remote: func() error { return nil }}
	var rt *jobs.Runtime
	opts := archive.Options{OnCommit: func(ctx context.Context, tx store.Tx, e *archive.Entry) error {
		if e.Direction == store.Outbound && pushed[e.Transport] {
			_, err := rt.InsertTx(ctx, tx, jobs.DeliverArgs{MessageID: e.ID}, nil)
			return err
		}
		if e.Direction == store.Inbound {
			_, err := rt.InsertTx(ctx, tx, jobs.ProcessArgs{MessageID: e.ID}, nil)
			return err
		}
		return nil
	}}
	r.Env = flowtest.Open(t, db, opts, "erp")
	if err := jobs.Migrate(ctx, r.Store); err != nil {
		t.Fatal(err)
	}
	routes := &delivery.Registry{}
	routes.Register("folder", func(ctx context.Context, partner string) (delivery.Sender, error) {
		f, err := folder.New(r.out)
		if err != nil {
			return nil, err
		}
		return &delivery.PutSender{Transport: f, Where: "folder " + r.out}, nil
	})
	routes.Register("http", func(ctx context.Context, partner string) (delivery.Sender, error) {
		return delivery.SenderFunc(func(ctx context.Context, d *delivery.Delivery) (string, error) {
			return "posted", r.remote()
		}), nil
	})
	r.eng = &delivery.Engine{Archive: r.Archive, Store: r.Store, Routes: routes}
	rt = jobs.New(r.Store, jobs.Options{SingleWorker: db == "SQLite"})
	jobs.Register(rt, &jobs.DeliverWorker{Deliver: r.eng.Deliver})
	jobs.Register(rt, &jobs.ProcessWorker{Store: r.Store})
	r.rt = rt
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		rt.Stop(c)
	})
	return r
}

func (r *rig) waitStatus(t *testing.T, id string, status lifecycle.Status) *store.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := r.Store.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == status {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s: status %q, want %q", id, m.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) events(t *testing.T, id string) string {
	t.Helper()
	evs, err := r.Store.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(string(e.Kind) + ": " + e.Detail + "\n")
	}
	return b.String()
}

func forEachDB(t *testing.T, f func(t *testing.T, r *rig)) {
	for _, db := range flowtest.Databases {
		t.Run(db, func(t *testing.T) { f(t, newRig(t, db)) })
	}
}

// TestSubmitDelivers: a submitted document is archived, its delivery job
// runs, the file lands in the folder and the message says delivered; a
// retried Submit with the same idempotency key archives nothing new.
func TestSubmitDelivers(t *testing.T) {
	forEachDB(t, func(t *testing.T, r *rig) {
		o := delivery.Outbound{Partner: "erp", Transport: "folder", Name: "INV-1.json", IdempotencyKey: "invoice:INV-1"}
		id, err := r.eng.Submit(ctx, o, body(`{"invoice":"INV-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		r.waitStatus(t, id, lifecycle.StatusDelivered)
		b, err := os.ReadFile(filepath.Join(r.out, "INV-1.json"))
		if err != nil || string(b) != `{"invoice":"INV-1"}` {
			t.Fatalf("delivered file: %q %v", b, err)
		}
		again, err := r.eng.Submit(ctx, o, func() (io.Reader, error) {
			t.Fatal("a retried submit rendered its document again")
			return nil, nil
		})
		if err != nil || again != id {
			t.Fatalf("a retried submit must find the first: %s %v", again, err)
		}
		if ev := r.events(t, id); !strings.Contains(ev, "delivered: attempt 1 over folder") {
			t.Fatalf("history:\n%s", ev)
		}
	})
}

// TestPermanentFailureDeadLettersAtOnce: a refusal (a 4xx) is not retried:
// the message is dead-lettered with the reason on its first attempt.
func TestPermanentFailureDeadLettersAtOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, r *rig) {
		r.remote = func() error { return errors.Join(errors.New("http: 422 Unprocessable Entity"), transports.ErrRejected) }
		id, err := r.eng.Submit(ctx, delivery.Outbound{Partner: "erp", Transport: "http", Name: "x.json"}, body("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.waitStatus(t, id, lifecycle.StatusDeadLetter)
		ev := r.events(t, id)
		if !strings.Contains(ev, "dead_letter: not delivered over http: permanent failure") || !strings.Contains(ev, "422") || strings.Contains(ev, "attempt_failed") {
			t.Fatalf("history:\n%s", ev)
		}
		// The dead letter is one exception in the queue, with the reason and what to do.
		ex, err := r.Store.ListExceptions(ctx, store.ExceptionFilter{MessageID: id})
		if err != nil || len(ex) != 1 || ex[0].Reason != "delivery" || ex[0].PartnerID != "erp" || !strings.Contains(ex[0].Detail, "422") ||
			!strings.Contains(ex[0].Detail, "replay") {
			t.Fatalf("dead-letter exception: %v %+v", err, ex)
		}
	})
}

// TestTransientFailureThenLastAttempt: a transient failure is recorded and
// returned for a retry; on the last attempt it dead-letters with the reason.
func TestTransientFailureThenLastAttempt(t *testing.T) {
	r := newRig(t, "SQLite")
	r.remote = func() error { return errors.New("http: 503 Service Unavailable") }
	// Archived without the hook's job (transport "http-test" is not pushed), then attempted by hand.
	e, err := r.Archive.Put(ctx, strings.NewReader("{}"), archive.Meta{Partner: "erp", Direction: store.Outbound, Transport: "http-test"})
	if err != nil {
		t.Fatal(err)
	}
	r.eng.Routes.Register("http-test", func(ctx context.Context, partner string) (delivery.Sender, error) {
		return delivery.SenderFunc(func(ctx context.Context, d *delivery.Delivery) (string, error) { return "", r.remote() }), nil
	})
	err = r.eng.Deliver(jobs.WithAttempt(ctx, jobs.Attempt{N: 3, Max: 10}), e.ID)
	if err == nil || delivery.Permanent(err) {
		t.Fatalf("attempt 3 of 10 must be retried: %v", err)
	}
	if m, _ := r.Store.GetMessage(ctx, e.ID); m.Status == lifecycle.StatusDeadLetter {
		t.Fatal("dead-lettered too early")
	}
	err = r.eng.Deliver(jobs.WithAttempt(ctx, jobs.Attempt{N: 10, Max: 10}), e.ID)
	if !delivery.Permanent(err) {
		t.Fatalf("the last attempt must dead-letter: %v", err)
	}
	m, _ := r.Store.GetMessage(ctx, e.ID)
	ev := r.events(t, e.ID)
	if m.Status != lifecycle.StatusDeadLetter || !strings.Contains(ev, "attempt_failed: attempt 3 of 10") || !strings.Contains(ev, "no attempts left (10 of 10)") || !strings.Contains(ev, "503") {
		t.Fatalf("status %s, history:\n%s", m.Status, ev)
	}
	// A dead letter is not sent again by a stray job.
	r.remote = func() error { t.Error("a dead-lettered message was sent"); return nil }
	if err := r.eng.Deliver(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
}

// TestReplay: a dead-lettered outbound message is delivered again as the
// same message: replayed while its route still fails, it is dead-lettered
// again under the same exception (no new message, exception or stuck
// document); replayed once the route works, it is delivered and its
// exception resolved. A delivered message is re-sent as a new message
// linked to it, not flagged a duplicate. An inbound one is processed again.
func TestReplay(t *testing.T) {
	forEachDB(t, func(t *testing.T, r *rig) {
		r.remote = func() error { return transports.ErrRejected }
		id, err := r.eng.Submit(ctx, delivery.Outbound{Partner: "erp", Transport: "http", Name: "asn.json"}, body(`{"asn":1}`))
		if err != nil {
			t.Fatal(err)
		}
		r.waitStatus(t, id, lifecycle.StatusDeadLetter)
		exception := func() *store.Exception {
			t.Helper()
			xs, err := r.Store.ListExceptions(ctx, store.ExceptionFilter{Reason: "delivery", Statuses: []string{store.ExceptionOpen, store.ExceptionResolved}})
			if err != nil || len(xs) != 1 || xs[0].MessageID != id {
				t.Fatalf("delivery exceptions: %+v %v, want the dead letter's one", xs, err)
			}
			return xs[0]
		}
		x := exception()
		for range 2 { // replayed while the route still fails
			rep, err := delivery.Replay(ctx, r.Archive, r.rt, id)
			if err != nil {
				t.Fatal(err)
			}
			if rep.NewID != "" || rep.Job == 0 || !rep.Rerun() || len(rep.Linked) != 1 || rep.Linked[0] != x.ID {
				t.Fatalf("replay of a dead letter: %+v, want its delivery re-run, linked to exception %s", rep, x.ID)
			}
			r.waitStatus(t, id, lifecycle.StatusDeadLetter)
		}
		if n, err := r.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: "erp", Direction: store.Outbound}); err != nil || len(n) != 1 {
			t.Fatalf("outbound messages after two failed replays: %d %v, want the one", len(n), err)
		}
		if got := exception(); got.ID != x.ID || got.Status != store.ExceptionOpen {
			t.Fatalf("the exception after failed replays: %+v", got)
		}
		xevs, _ := r.Store.ExceptionEvents(ctx, x.ID)
		var kinds []string
		for _, e := range xevs {
			kinds = append(kinds, e.Kind)
		}
		if strings.Join(kinds, ",") != "raised,replayed,repeated,replayed,repeated" {
			t.Fatalf("the exception's history %v, want each replay and each repeat", kinds)
		}
		if ev := r.events(t, id); strings.Count(ev, "replayed: delivery re-run from the archived bytes") != 2 || strings.Count(ev, "dead_letter:") != 3 {
			t.Fatalf("the dead letter's history:\n%s", ev)
		}

		sent := make(chan string, 2)
		r.eng.Routes.Register("http", func(ctx context.Context, partner string) (delivery.Sender, error) {
			return delivery.SenderFunc(func(ctx context.Context, d *delivery.Delivery) (string, error) {
				rc, err := d.Open(ctx)
				if err != nil {
					return "", err
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				if err != nil {
					return "", err
				}
				sent <- string(b)
				return "posted", nil
			}), nil
		})
		// Replayed once the route works: delivered, the exception resolved.
		if _, err := delivery.Replay(ctx, r.Archive, r.rt, id); err != nil {
			t.Fatal(err)
		}
		r.waitStatus(t, id, lifecycle.StatusDelivered)
		if b := <-sent; b != `{"asn":1}` {
			t.Fatalf("sent %q", b)
		}
		if got := exception(); got.Status != store.ExceptionResolved {
			t.Fatalf("the dead letter's exception after its delivered replay: %+v", got)
		}
		xevs, _ = r.Store.ExceptionEvents(ctx, x.ID)
		if last := xevs[len(xevs)-1]; last.Kind != "resolved" || last.Actor != "wharf" || !strings.Contains(last.Comment, "delivered when its delivery was replayed") {
			t.Fatalf("resolution %+v", last)
		}

		// A delivered message replayed: sent again as a new message, a
		// replay of it, not a duplicate.
		rep, err := delivery.Replay(ctx, r.Archive, r.rt, id)
		if err != nil || rep.NewID == "" || rep.Rerun() {
			t.Fatalf("replay of a delivered message: %+v %v", rep, err)
		}
		m := r.waitStatus(t, rep.NewID, lifecycle.StatusDelivered)
		if m.ParentID != id || <-sent != `{"asn":1}` {
			t.Fatalf("re-send: parent %q", m.ParentID)
		}
		e, err := r.Archive.Entry(ctx, rep.NewID)
		if err != nil || e.DuplicateOf != "" || strings.Contains(r.events(t, rep.NewID), "duplicate") {
			t.Fatalf("the re-send is labelled a duplicate: %+v %v\n%s", e, err, r.events(t, rep.NewID))
		}
		if ev := r.events(t, id); !strings.Contains(ev, "replayed: re-sent as message "+rep.NewID) {
			t.Fatalf("original's history:\n%s", ev)
		}

		in, err := r.Gateway.Receive(ctx, transports.Incoming{Partner: "erp", Transport: "folder", RemoteName: "PO.csv"}, strings.NewReader("po"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err = delivery.Replay(ctx, r.Archive, r.rt, in)
		if err != nil || rep.Job == 0 || rep.NewID != "" {
			t.Fatalf("inbound replay: %+v %v", rep, err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(r.events(t, in), "queued:") < 2 { // the first run and the replay's
			if time.Now().After(deadline) {
				t.Fatalf("the replay's processing job did not run:\n%s", r.events(t, in))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ev := r.events(t, in); !strings.Contains(ev, "replayed: processing re-run") {
			t.Fatalf("inbound history:\n%s", ev)
		}
	})
}

// settler records its own outcome (as AS2 does with its MDN).
type settler struct {
	st     store.Store
	status lifecycle.Status
}

func (s *settler) SettlesItself() {}

func (s *settler) Send(ctx context.Context, d *delivery.Delivery) (string, error) {
	return "posted", s.st.SetMessageStatus(ctx, d.MessageID, s.status)
}

// TestSettlerKeepsItsOutcome: a Settler's outcome stands (the engine does
// not overwrite it with delivered); its errors still go through the
// engine's retries and dead letters.
func TestSettlerKeepsItsOutcome(t *testing.T) {
	forEachDB(t, func(t *testing.T, r *rig) {
		s := &settler{st: r.Store, status: "awaiting_mdn"}
		r.eng.Routes.Register("manual", func(ctx context.Context, partner string) (delivery.Sender, error) { return s, nil })
		id, err := r.eng.Submit(ctx, delivery.Outbound{Partner: "erp", Transport: "manual", Name: "x.edi"}, body("x"))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.eng.Deliver(ctx, id); err != nil {
			t.Fatal(err)
		}
		if m, _ := r.Store.GetMessage(ctx, id); m.Status != "awaiting_mdn" {
			t.Fatalf("status %q, want the settler's awaiting_mdn", m.Status)
		}
		if ev := r.events(t, id); strings.Contains(ev, "delivered") {
			t.Fatalf("the engine recorded delivered over the settler:\n%s", ev)
		}
		r.eng.Routes.Register("manual", func(ctx context.Context, partner string) (delivery.Sender, error) {
			return nil, transports.ErrRejected
		})
		if err := r.eng.Deliver(ctx, id); !errors.Is(err, lifecycle.ErrPermanent) {
			t.Fatalf("permanent error: %v", err)
		}
		r.waitStatus(t, id, lifecycle.StatusDeadLetter)
	})
}

// body is a Submit body that renders s.
func body(s string) func() (io.Reader, error) {
	return func() (io.Reader, error) { return strings.NewReader(s), nil }
}
