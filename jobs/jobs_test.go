package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/jobs"
)

// eachDriver runs f against a fresh SQLite and a fresh PostgreSQL database.
// f gets a function that opens (another handle on) the same database, as a
// restarted server would.
func eachDriver(t *testing.T, f func(t *testing.T, open func() store.Store)) {
	for _, d := range testenv.Drivers {
		t.Run(d, func(t *testing.T) {
			dsn := testenv.DSN(t, d)
			open := func() store.Store {
				st, err := store.Open(context.Background(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				if err := jobs.Migrate(context.Background(), st); err != nil {
					t.Fatal(err)
				}
				return st
			}
			f(t, open)
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stop(t *testing.T, rt *jobs.Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A yearly schedule (1 January, 06:00 Berlin time) will not fire on its own
// during the test; the clock is moved instead.
func yearly(t *testing.T) cron.Schedule {
	s, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 0 6 1 1 *")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newYearRuntime runs the yearly schedule "new-year" on st, its task
// counting runs, on the clock *clock.
func newYearRuntime(t *testing.T, st store.Store, runs *atomic.Int32, clock *time.Time) *jobs.Runtime {
	return jobs.New(st, jobs.Options{
		Tasks:     map[string]jobs.Task{"count": func(context.Context) error { runs.Add(1); return nil }},
		Schedules: []jobs.Schedule{{Name: "new-year", Schedule: yearly(t), Task: "count"}},
		Now:       func() time.Time { return *clock },
	})
}

func TestMissedScheduleRunsOnceAfterRestart(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var runs atomic.Int32
		clock := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
		newRT := func(st store.Store) *jobs.Runtime { return newYearRuntime(t, st, &runs, &clock) }

		// First start: the schedule is new, nothing was missed.
		st := open()
		rt := newRT(st)
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		stop(t, rt)
		if n := runs.Load(); n != 0 {
			t.Fatalf("a brand-new schedule ran %d times at start", n)
		}

		// Down for six years: six 1 January slots missed. One run, not six.
		clock = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		rt = newRT(open())
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the catch-up run", func() bool { return runs.Load() >= 1 })
		all, err := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States(
			"available", "scheduled", "running", "retryable", "pending", "completed"))
		if err != nil {
			t.Fatal(err)
		}
		stop(t, rt)
		if n := runs.Load(); n != 1 || len(all) != 1 {
			t.Fatalf("after downtime: %d runs and %d jobs, want exactly 1", n, len(all))
		}
		last, _, _ := st.ScheduleLastRun(ctx, "new-year")
		if want := time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC); !last.Equal(want) { // 06:00 CET
			t.Fatalf("recorded slot %v, want the latest missed slot %v", last, want)
		}

		// Restart again with nothing missed since: no new job.
		rt = newRT(open())
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		all, _ = rt.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States(
			"available", "scheduled", "running", "retryable", "pending", "completed"))
		stop(t, rt)
		if len(all) != 1 {
			t.Fatalf("a restart with nothing missed inserted %d more jobs", len(all)-1)
		}
	})
}

func TestQueuedRunCoversMissedSlots(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		if err := st.RecordScheduleRun(ctx, "new-year", time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		opts := jobs.Options{
			Tasks:     map[string]jobs.Task{"noop": func(context.Context) error { return nil }},
			Schedules: []jobs.Schedule{{Name: "new-year", Schedule: yearly(t), Task: "noop"}},
			Now:       func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
		}
		// A run queued before the downtime, not yet worked.
		pre := jobs.New(st, opts)
		if _, err := pre.Insert(ctx, jobs.ScheduledArgs{Schedule: "new-year", Slot: time.Date(2021, 1, 1, 5, 0, 0, 0, time.UTC)}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		rt := jobs.New(st, opts)
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		all, err := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States("available", "scheduled", "running", "completed"))
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 {
			t.Fatalf("catch-up added a run although one was queued: %d jobs", len(all))
		}
	})
}

type recordArgs struct {
	MessageID string `json:"message_id"`
}

func (recordArgs) Kind() string { return "test_record" }

type recordWorker struct {
	river.WorkerDefaults[recordArgs]
	st store.Store
}

func (w *recordWorker) Work(ctx context.Context, j *river.Job[recordArgs]) error {
	return w.st.AppendEvent(ctx, &store.Event{MessageID: j.Args.MessageID, Kind: lifecycle.EventQueued})
}

func TestInsertTxSharesTheTransaction(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		rt := jobs.New(st, jobs.Options{})
		jobs.Register(rt, &recordWorker{st: st})

		// Rolled back: neither the row nor the job exists.
		boom := errors.New("boom")
		err := st.WithTx(ctx, func(tx store.Tx) error {
			m := &store.Message{PartnerID: "acme", Direction: store.Inbound}
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			if _, err := rt.InsertTx(ctx, tx, recordArgs{MessageID: m.ID}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if js, _ := rt.List(ctx, river.NewJobListParams().Kinds("test_record")); len(js) != 0 {
			t.Fatalf("a job survived its rolled-back transaction: %d", len(js))
		}

		// Committed: both exist, and the job runs against the row.
		var id string
		err = st.WithTx(ctx, func(tx store.Tx) error {
			m := &store.Message{PartnerID: "acme", Direction: store.Inbound}
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			id = m.ID
			_, err := rt.InsertTx(ctx, tx, recordArgs{MessageID: m.ID}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		waitFor(t, "the job to process the message", func() bool {
			evs, _ := st.Events(ctx, id)
			return len(evs) == 1
		})
	})
}

type failingProcessor struct {
	calls atomic.Int32
	err   error
}

func (p *failingProcessor) Process(ctx context.Context, id string) error {
	p.calls.Add(1)
	return p.err
}

// startProcessing inserts a received message and its processing job, and
// starts a runtime whose processing worker uses proc (stopped when the
// test ends).
func startProcessing(t *testing.T, st store.Store, proc jobs.Processor) (*jobs.Runtime, *store.Message, *rivertype.JobInsertResult) {
	t.Helper()
	ctx := context.Background()
	rt := jobs.New(st, jobs.Options{})
	jobs.Register(rt, &jobs.ProcessWorker{Store: st, Processor: proc})
	m := &store.Message{PartnerID: "acme", Direction: store.Inbound, Status: lifecycle.StatusReceived}
	if err := st.InsertMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	res, err := rt.Insert(ctx, jobs.ProcessArgs{MessageID: m.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, rt) })
	return rt, m, res
}

// A permanent failure (an error wrapping lifecycle.ErrPermanent) cancels the processing job after its first attempt; any other
// failure is retried.
func TestPermanentFailureIsCancelled(t *testing.T) {
	for _, c := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"wrapped ErrPermanent", fmt.Errorf("process m1: %w: the message is gone", lifecycle.ErrPermanent), true},
		{"lifecycle.Permanent", lifecycle.Permanent(errors.New("bad layout")), true},
		{"ErrPermanent and a cause", fmt.Errorf("%w: no route: %w", lifecycle.ErrPermanent, errors.New("partner erp has no webhook")), true},
		{"transient", errors.New("blob store unreachable"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachDriver(t, func(t *testing.T, open func() store.Store) {
				ctx := context.Background()
				st := open()
				proc := &failingProcessor{err: c.err}
				rt, _, res := startProcessing(t, st, proc)
				cancelled := func() []*rivertype.JobRow {
					js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind()).States(rivertype.JobStateCancelled))
					return js
				}
				if !c.permanent {
					// Retried (River's first backoff is about a second), never cancelled.
					waitFor(t, "the job to be retried", func() bool { return proc.calls.Load() >= 2 })
					if js := cancelled(); len(js) != 0 {
						t.Fatalf("a transient failure cancelled the job: %+v", js[0].Errors)
					}
					return
				}
				var j *rivertype.JobRow
				waitFor(t, "the job to be cancelled", func() bool {
					if js := cancelled(); len(js) == 1 {
						j = js[0]
					}
					return j != nil
				})
				if j.ID != res.Job.ID || j.Attempt != 1 || proc.calls.Load() != 1 {
					t.Fatalf("job %d (inserted %d): %s after %d attempt(s), processor called %d times; want one attempt",
						j.ID, res.Job.ID, j.State, j.Attempt, proc.calls.Load())
				}
				if len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Error, c.err.Error()) || !strings.Contains(j.Errors[0].Error, "permanent failure") {
					t.Fatalf("recorded errors %+v, want %q, marked permanent", j.Errors, c.err)
				}
			})
		})
	}
}

// A scheduled task's permanent failure cancels its run, too.
func TestPermanentScheduledTaskIsCancelled(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var runs atomic.Int32
		rt := jobs.New(open(), jobs.Options{
			Tasks: map[string]jobs.Task{"broken": func(context.Context) error {
				runs.Add(1)
				return lifecycle.Permanent(errors.New("the task's configuration is invalid"))
			}},
			Schedules: []jobs.Schedule{{Name: "new-year", Schedule: yearly(t), Task: "broken"}},
		})
		if _, err := rt.Insert(ctx, jobs.ScheduledArgs{Schedule: "new-year", Slot: time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)}, nil); err != nil {
			t.Fatal(err)
		}
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		waitFor(t, "the run to be cancelled", func() bool {
			js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States(rivertype.JobStateCancelled))
			return len(js) == 1 && js[0].Attempt == 1
		})
		if n := runs.Load(); n != 1 {
			t.Fatalf("the task ran %d times", n)
		}
	})
}
