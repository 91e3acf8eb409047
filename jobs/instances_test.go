package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
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

type holdArgs struct{}

func (holdArgs) Kind() string { return "test_hold" }

// holdWorker runs its jobs on one instance: on the "crashed" one it holds
// the job until its context ends (a process that stopped answering), on
// the survivor it finishes at once.
type holdWorker struct {
	river.WorkerDefaults[holdArgs]
	hold    bool
	started chan struct{}
	done    *atomic.Int32
}

func (w *holdWorker) Work(ctx context.Context, j *river.Job[holdArgs]) error {
	if w.hold {
		close(w.started)
		<-ctx.Done()
		return ctx.Err()
	}
	w.done.Add(1)
	return nil
}

// An instance that stops beating while it runs a job: a survivor returns
// the job to the queue within its FailoverAfter (not after River's
// 15-minute stuck-job rescue), runs it, and removes the silent instance;
// the job is completed once, by the survivor.
func TestSilentInstanceJobsFailOver(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		_, res := holdingInstance(t, open)

		// Instance B judges A silent after 1 s.
		stB := open()
		var done atomic.Int32
		b := jobs.New(stB, jobs.Options{InstanceID: "inst-b", Heartbeat: 100 * time.Millisecond, FailoverAfter: time.Second})
		jobs.Register(b, &holdWorker{done: &done})
		began := time.Now()
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, b)
		waitFor(t, "the survivor to run the silent instance's job", func() bool { return done.Load() == 1 })
		if took := time.Since(began); took > 20*time.Second {
			t.Errorf("failover took %v", took)
		}
		var js []*rivertype.JobRow
		var err error
		waitFor(t, "the job to be recorded completed", func() bool {
			js, err = b.List(ctx, river.NewJobListParams().Kinds("test_hold").States(rivertype.JobStateCompleted))
			return err == nil && len(js) > 0
		})
		if len(js) != 1 || js[0].ID != res.Job.ID {
			t.Fatalf("completed jobs: %d, want the one job", len(js))
		}
		if by := js[0].AttemptedBy; len(by) != 2 || by[0] != "inst-a" || by[1] != "inst-b" {
			t.Errorf("attempted by %v, want inst-a then inst-b", by)
		}
		ins, err := stB.Instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != 1 || ins[0].ID != "inst-b" {
			t.Errorf("instances after the failover: %+v, want only inst-b", ins)
		}
		time.Sleep(300 * time.Millisecond) // more heartbeats of B: nothing is failed over twice
		if done.Load() != 1 {
			t.Errorf("the job ran %d times on the survivor", done.Load())
		}
	})
}

// Instances started at once on an empty database migrate River's tables
// one after the other (the second found "duplicate key value violates
// unique constraint pg_type_typname_nsp_index" without the lock).
func TestConcurrentMigrate(t *testing.T) {
	dsn := testenv.DSN(t, "Postgres") // SQLite has one writer: nothing runs at once
	const n = 4
	stores := make([]store.Store, n)
	for i := range stores {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	errs := make(chan error, n)
	for _, st := range stores {
		go func() { errs <- jobs.Migrate(context.Background(), st) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// crashAfterCommit records its outcome and completes the job in one
// transaction (store.Final), then fails as a process killed right after
// that commit would: the job must not run again.
type crashAfterCommit struct {
	st    store.Store
	calls atomic.Int32
}

func (p *crashAfterCommit) Process(ctx context.Context, id string) error {
	p.calls.Add(1)
	err := p.st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventValidated, Detail: "the outcome"}); err != nil {
			return err
		}
		if f := store.Final(ctx); f != nil {
			return f(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.New("killed after the outcome committed")
}

// The processing job completes in the stage's last transaction: after that
// commit nothing (an error, a crash) makes it run again and write its
// history twice (issue 22 #7).
func TestProcessingJobCompletesWithItsOutcome(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		proc := &crashAfterCommit{st: st}
		rt, m, _ := startProcessing(t, st, proc)
		waitFor(t, "the job to be completed", func() bool {
			js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind()).States(rivertype.JobStateCompleted))
			return len(js) == 1
		})
		time.Sleep(1500 * time.Millisecond) // River's first retry would come after about a second
		if n := proc.calls.Load(); n != 1 {
			t.Fatalf("the stage ran %d times, want once", n)
		}
		evs, _ := st.Events(ctx, m.ID)
		if len(evs) != 1 {
			t.Fatalf("history %+v, want the one outcome", evs)
		}
	})
}

// River's INFO lines (producer statistics, client started) are DEBUG in
// Wharf's log; its warnings stay warnings.
func TestRiverLogIsQuiet(t *testing.T) {
	var buf testenv.Buffer
	st := testenv.OpenStore(t, "SQLite")
	if err := jobs.Migrate(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	rt := jobs.New(st, jobs.Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop(t, rt)
	if strings.Contains(buf.String(), "component=river") {
		t.Fatalf("River logs at INFO:\n%s", buf.String())
	}
}

// A schedule slot the leader never queued (it stopped just before the
// slot) is caught up by a running instance a minute after it was due, once,
// without a restart (issue 18 #6).
func TestMissedSlotCaughtUpWithoutRestart(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var runs atomic.Int32
		var clock atomic.Pointer[time.Time]
		set := func(t time.Time) { clock.Store(&t) }
		set(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
		rt := jobs.New(open(), jobs.Options{
			Heartbeat: 50 * time.Millisecond,
			Tasks:     map[string]jobs.Task{"count": func(context.Context) error { runs.Add(1); return nil }},
			Schedules: []jobs.Schedule{{Name: "new-year", Schedule: yearly(t), Task: "count"}},
			Now:       func() time.Time { return *clock.Load() },
		})
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		// 06:00 Berlin passes (River's own timer, on real time, never
		// fires for it): within the minute a run may still be on its way...
		set(time.Date(2027, 1, 1, 5, 0, 30, 0, time.UTC))
		time.Sleep(300 * time.Millisecond)
		if n := runs.Load(); n != 0 {
			t.Fatalf("caught up %d times within the minute a run may still be queued in", n)
		}
		// ...after it, the slot is missed: one run.
		set(time.Date(2027, 1, 1, 5, 2, 0, 0, time.UTC))
		waitFor(t, "the missed slot's run", func() bool { return runs.Load() >= 1 })
		time.Sleep(300 * time.Millisecond) // more heartbeats: still one
		if n := runs.Load(); n != 1 {
			t.Fatalf("the missed slot ran %d times, want once", n)
		}
	})
}

// A killed run of this machine (same host name, its process gone) is
// failed over at the survivor's first beat, not after FailoverAfter: a
// single server restarted after a kill -9 resumes the jobs its earlier
// run held at once.
func TestDeadLocalInstanceFailsOverAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		stA, _ := holdingInstance(t, open)
		// A's row now names a process of this machine that has exited.
		gone := exec.Command("true")
		if err := gone.Run(); err != nil {
			t.Fatal(err)
		}
		host, _ := os.Hostname()
		if _, err := stA.RemoveInstance(ctx, "inst-a"); err != nil {
			t.Fatal(err)
		}
		if err := stA.BeatInstance(ctx, &store.Instance{ID: "inst-a", Host: host, PID: gone.Process.Pid}); err != nil {
			t.Fatal(err)
		}

		var done atomic.Int32
		b := jobs.New(open(), jobs.Options{InstanceID: "inst-b", Heartbeat: 100 * time.Millisecond, FailoverAfter: time.Hour})
		jobs.Register(b, &holdWorker{done: &done})
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, b)
		waitFor(t, "the survivor to run the dead run's job", func() bool { return done.Load() == 1 })
	})
}

type countingUploader struct{ runs atomic.Int32 }

func (u *countingUploader) UploadSpool(context.Context) (int, error) { u.runs.Add(1); return 0, nil }

// A blob spooled after the upload job finished gets a job of its own: a
// finished upload job does not count as the one waiting (it did for the
// rest of its minute, and that blob waited for the next one spooled).
func TestSpoolUploadAfterADrain(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		up := &countingUploader{}
		rt := jobs.New(open(), jobs.Options{})
		jobs.Register(rt, &jobs.SpoolUploadWorker{Archive: up})
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		for i := int32(1); i <= 2; i++ {
			res, err := rt.Insert(ctx, jobs.SpoolUploadArgs{}, jobs.SpoolUploadOpts)
			if err != nil {
				t.Fatal(err)
			}
			if res.UniqueSkippedAsDuplicate {
				t.Fatalf("upload job %d skipped as a duplicate of a finished one", i)
			}
			waitFor(t, "the upload to run", func() bool { return up.runs.Load() == i })
			waitFor(t, "the upload job to complete", func() bool {
				js, err := rt.List(ctx, river.NewJobListParams().Kinds("wharf_archive_spool_upload").States(rivertype.JobStateCompleted))
				return err == nil && len(js) == int(i)
			})
		}
	})
}

// A minute's cron whose slot was lost (its leader stopped just before it)
// while the next slot ran on time under a new leader: the last recorded
// run has moved past the lost slot, so only the heartbeat's look at the
// recent slots finds it. It runs once; the slots that ran are not run again.
func TestLostSlotFoundAfterALaterSlotRan(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		var clock atomic.Pointer[time.Time]
		set := func(t time.Time) { clock.Store(&t) }
		set(time.Date(2027, 3, 1, 12, 0, 30, 0, time.UTC))
		every, err := cron.ParseStandard("* * * * *")
		if err != nil {
			t.Fatal(err)
		}
		rt := jobs.New(open(), jobs.Options{
			Heartbeat: 50 * time.Millisecond,
			Tasks:     map[string]jobs.Task{"tick": func(ctx context.Context) error { return nil }},
			Schedules: []jobs.Schedule{{Name: "tick", Schedule: every, Task: "tick"}},
			Now:       func() time.Time { return *clock.Load() },
		})
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer stop(t, rt)
		// The 12:01 slot is lost; the new leader queues 12:02 on time.
		set(time.Date(2027, 3, 1, 12, 2, 5, 0, time.UTC))
		if _, err := rt.Insert(ctx, jobs.ScheduledArgs{Schedule: "tick", Slot: time.Date(2027, 3, 1, 12, 2, 0, 0, time.UTC)}, nil); err != nil {
			t.Fatal(err)
		}
		ran := func() map[string]int {
			js, err := rt.List(ctx, river.NewJobListParams().Kinds("wharf_scheduled").States(rivertype.JobStateCompleted))
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int{}
			for _, j := range js {
				var a jobs.ScheduledArgs
				if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
					t.Fatal(err)
				}
				out[a.Slot.UTC().Format(time.TimeOnly)]++
			}
			return out
		}
		waitFor(t, "the lost 12:01 slot and the 12:02 slot to run", func() bool {
			r := ran()
			return r["12:01:00"] == 1 && r["12:02:00"] == 1
		})
		time.Sleep(300 * time.Millisecond) // more heartbeats: nothing runs twice
		if r := ran(); len(r) != 2 || r["12:01:00"] != 1 || r["12:02:00"] != 1 {
			t.Fatalf("runs by slot %v, want 12:01 and 12:02 once each", r)
		}
	})
}

// holdingInstance starts instance "inst-a" holding one job: it beats once,
// at start, then never again (an hour), and with its one worker busy it
// fetches nothing more, like a process that stopped. Its store and the
// job are returned; it is stopped when the test ends.
func holdingInstance(t *testing.T, open func() store.Store) (store.Store, *rivertype.JobInsertResult) {
	t.Helper()
	ctx := context.Background()
	st := open()
	a := jobs.New(st, jobs.Options{InstanceID: "inst-a", Workers: 1, Heartbeat: time.Hour, FailoverAfter: time.Hour})
	started := make(chan struct{})
	jobs.Register(a, &holdWorker{hold: true, started: started})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // A's worker gives up when A stops; its late failure changes nothing
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_ = a.Stop(c)
	})
	res, err := a.Insert(ctx, holdArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("instance A never started the job")
	}
	return st, res
}
