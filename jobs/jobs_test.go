package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"

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

func TestMissedScheduleRunsOnceAfterRestart(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var runs atomic.Int32
		clock := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
		newRT := func(st store.Store) *jobs.Runtime {
			return jobs.New(st, jobs.Options{
				Tasks:     map[string]jobs.Task{"count": func(context.Context) error { runs.Add(1); return nil }},
				Schedules: []jobs.Schedule{{Name: "new-year", Schedule: yearly(t), Task: "count"}},
				Now:       func() time.Time { return clock },
			})
		}

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
	return w.st.AppendEvent(ctx, &store.Event{MessageID: j.Args.MessageID, Kind: "processed"})
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
