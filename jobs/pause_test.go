package jobs_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// A paused schedule's slots are skipped by every instance that works them
// (the pause is read from the database, not held by one process), and not
// caught up after downtime nor when resumed; an operator's run now still
// runs; resumed, its next slot runs.
func TestPausedScheduleIsSkippedEverywhere(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var runs atomic.Int32
		clock := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		newRT := func(st store.Store) *jobs.Runtime { return newYearRuntime(t, st, &runs, &clock) }
		st := open()
		// Last ran in 2020, so five 1 January slots were missed; but it is paused.
		if err := st.RecordScheduleRun(ctx, "new-year", time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if err := st.PauseSchedule(ctx, "new-year", "user:olga"); err != nil {
			t.Fatal(err)
		}
		a, b := newRT(st), newRT(open()) // two instances on one database
		for _, rt := range []*jobs.Runtime{a, b} {
			if err := rt.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer stop(t, rt)
		}
		done := func(n int) func() bool {
			return func() bool {
				js, err := a.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States("completed").First(100))
				return err == nil && len(js) >= n
			}
		}
		// Slots inserted as River's periodic enqueuer does, through both instances.
		for i, rt := range []*jobs.Runtime{a, b, a, b} {
			slot := time.Date(2027+i, 1, 1, 5, 0, 0, 0, time.UTC)
			if _, err := rt.Insert(ctx, jobs.ScheduledArgs{Schedule: "new-year", Slot: slot}, nil); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the paused slots to be worked", done(4))
		if n := runs.Load(); n != 0 {
			t.Fatalf("a paused schedule ran %d times", n)
		}
		all, _ := a.List(ctx, river.NewJobListParams().Kinds(jobs.ScheduledArgs{}.Kind()).States("available", "scheduled", "running", "retryable", "pending", "completed").First(100))
		if len(all) != 4 {
			t.Fatalf("%d scheduled jobs, want the 4 slots and no catch-up of the pause", len(all))
		}
		// Run now, paused or not.
		if _, err := b.Insert(ctx, jobs.ScheduledArgs{Schedule: "new-year", Slot: clock, Manual: true}, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the run by hand", done(5))
		if n := runs.Load(); n != 1 {
			t.Fatalf("run now of a paused schedule ran %d times, want 1", n)
		}
		// Resumed: the next slot runs.
		if err := st.ResumeSchedule(ctx, "new-year"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Insert(ctx, jobs.ScheduledArgs{Schedule: "new-year", Slot: time.Date(2031, 1, 1, 5, 0, 0, 0, time.UTC)}, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the slot after resuming", done(6))
		if n := runs.Load(); n != 2 {
			t.Fatalf("after resuming %d runs, want 2", n)
		}
	})
}
