package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// recordingProcessor writes the outcome (an event) with the completion it
// is given, as the processing stage does; it fails with err (and then
// records nothing) for its first fail calls, or blocks until its context
// ends when block is set.
type recordingProcessor struct {
	st      store.Store
	calls   atomic.Int32
	fail    int32
	err     error
	block   bool
	started chan string
	before  func(id string) // runs first, e.g. to take the claim away

	mu    sync.Mutex
	first map[string][]bool // per message, store.FirstRun of each call
}

func (p *recordingProcessor) Process(ctx context.Context, id string) error {
	n := p.calls.Add(1)
	p.mu.Lock()
	if p.first == nil {
		p.first = map[string][]bool{}
	}
	p.first[id] = append(p.first[id], store.FirstRun(ctx))
	p.mu.Unlock()
	if p.before != nil {
		p.before(id)
	}
	if p.started != nil {
		p.started <- id
	}
	if p.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if n <= p.fail {
		return p.err
	}
	return p.st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventValidated, Detail: "the outcome"}); err != nil {
			return err
		}
		if f := store.Final(ctx); f != nil {
			return f(ctx, tx)
		}
		return nil
	})
}

// firsts are store.FirstRun of each call for message id.
func (p *recordingProcessor) firsts(id string) []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.first[id])
}

// queued inserts n received messages whose processing is due, as the
// archive's commit does.
func queued(t *testing.T, st store.Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range n {
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "folder", RemoteName: fmt.Sprint(i), Status: lifecycle.StatusReceived}
		if err := st.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			return tx.QueueProcessing(ctx, m.ID)
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

func queueRuntime(st store.Store, p jobs.Processor, o jobs.Options) *jobs.Runtime {
	rt := jobs.New(st, o)
	jobs.Register(rt, &jobs.ProcessWorker{Store: st, Processor: p})
	rt.ProcessQueue(p)
	return rt
}

// startQueue starts a runtime working the processing queue with p
// (stopped when the test ends).
func startQueue(t *testing.T, st store.Store, p jobs.Processor, o jobs.Options) *jobs.Runtime {
	t.Helper()
	rt := queueRuntime(st, p, o)
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, rt) })
	return rt
}

// claimAs registers owner as an instance and claims up to 10 messages for it.
func claimAs(t *testing.T, st store.Store, owner string) []string {
	t.Helper()
	ctx := context.Background()
	if err := st.BeatInstance(ctx, &store.Instance{ID: owner, Host: "elsewhere", PID: 1}); err != nil {
		t.Fatal(err)
	}
	claims, err := st.ClaimProcessing(ctx, owner, 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(claims))
	for i, c := range claims {
		ids[i] = c.MessageID
	}
	return ids
}

func due(t *testing.T, st store.Store) int64 {
	t.Helper()
	n, err := st.ProcessingDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Each due message is processed once, its claim ends with its outcome, and
// no job is made for it.
func TestQueueProcessesEachMessageOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		before := queued(t, st, 150) // due before the start
		p := &recordingProcessor{st: st}
		rt := startQueue(t, st, p, jobs.Options{Workers: 8})
		after := queued(t, st, 50) // due while it runs; woken, not polled
		rt.Wake()
		waitFor(t, "every message processed", func() bool { return due(t, st) == 0 })
		if n := p.calls.Load(); n != 200 {
			t.Fatalf("processed %d times, want 200", n)
		}
		for _, id := range append(before, after...) {
			if evs, _ := st.Events(ctx, id); len(evs) != 1 {
				t.Fatalf("message %s: history %+v, want its one outcome", id, evs)
			}
			if f := p.firsts(id); !slices.Equal(f, []bool{true}) {
				t.Fatalf("message %s: first runs %v, want one call marked as the first", id, f)
			}
		}
		if js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind())); len(js) != 0 {
			t.Fatalf("%d processing jobs, want none", len(js))
		}
	})
}

// A failed first processing becomes a processing job, which River retries
// (a transient failure) or cancels (a permanent one) as any other.
func TestQueueFailureBecomesAJob(t *testing.T) {
	t.Run("transient", func(t *testing.T) {
		eachDriver(t, func(t *testing.T, open func() store.Store) {
			ctx := context.Background()
			st := open()
			ids := queued(t, st, 2)
			transient := &recordingProcessor{st: st, fail: 1, err: errors.New("blob store unreachable")}
			rt := startQueue(t, st, transient, jobs.Options{})
			waitFor(t, "the retry to record both outcomes", func() bool {
				a, _ := st.Events(ctx, ids[0])
				b, _ := st.Events(ctx, ids[1])
				return len(a)+len(b) == 2
			})
			if n := due(t, st); n != 0 {
				t.Fatalf("%d messages still due", n)
			}
			var js []*rivertype.JobRow
			waitFor(t, "the retry's job to complete", func() bool {
				js, _ = rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind()).States(rivertype.JobStateCompleted))
				return len(js) == 1
			})
			if n := transient.calls.Load(); n != 3 {
				t.Fatalf("processed %d times, want 3 (one failure, its retry, the other message)", n)
			}
			retried := ids[0]
			if len(transient.firsts(retried)) == 1 {
				retried = ids[1]
			}
			if f := transient.firsts(retried); !slices.Equal(f, []bool{true, false}) {
				t.Fatalf("the failed message's runs marked first: %v, want the queue's only, not the job's", f)
			}
		})
	})
	t.Run("permanent", func(t *testing.T) {
		eachDriver(t, func(t *testing.T, open func() store.Store) {
			ctx := context.Background()
			st := open()
			queued(t, st, 1)
			permanent := &recordingProcessor{st: st, fail: 99, err: fmt.Errorf("%w: the message is gone", lifecycle.ErrPermanent)}
			rt := startQueue(t, st, permanent, jobs.Options{})
			waitFor(t, "the job to be cancelled", func() bool {
				js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind()).States(rivertype.JobStateCancelled))
				return len(js) == 1
			})
			if n := permanent.calls.Load(); n != 2 {
				t.Fatalf("processed %d times, want 2 (the queue's attempt, the job's)", n)
			}
		})
	})
}

// A stop returns the claims it did not finish; the next start processes them.
func TestQueueStopReturnsUnfinishedClaims(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		ids := queued(t, st, 1)
		blocked := &recordingProcessor{st: st, block: true, started: make(chan string, 1)}
		a := queueRuntime(st, blocked, jobs.Options{})
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		<-blocked.started
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_ = a.Stop(c) // gives up on the blocked processing
		if left := claimAs(t, st, "someone"); len(left) != 1 || left[0] != ids[0] {
			t.Fatalf("after the stop the queue holds %v, want the unfinished %v", left, ids)
		}
	})
}

// A lone SQLite server (SingleWorker) returns the claims of its crashed
// predecessor at start; a survivor returns a silent instance's claims.
func TestQueueClaimsOfAGoneInstanceReturn(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		ids := queued(t, st, 3)
		// inst-a announced itself, claimed and stopped beating.
		if got := claimAs(t, st, "inst-a"); len(got) != 3 {
			t.Fatalf("claim: %v", got)
		}
		p := &recordingProcessor{st: st}
		o := jobs.Options{SingleWorker: true}
		if st.Driver() != "sqlite" {
			o = jobs.Options{InstanceID: "inst-b", Heartbeat: 50 * time.Millisecond, FailoverAfter: 300 * time.Millisecond}
		}
		startQueue(t, st, p, o)
		waitFor(t, "the gone instance's messages processed", func() bool { return due(t, st) == 0 })
		for _, id := range ids {
			if evs, _ := st.Events(ctx, id); len(evs) != 1 {
				t.Fatalf("message %s: history %+v, want its one outcome", id, evs)
			}
			if f := p.firsts(id); !slices.Equal(f, []bool{false}) {
				t.Fatalf("message %s: runs marked first %v, want none: another instance held it before", id, f)
			}
		}
	})
}

// An instance failed over while it processed (a long pause) finds the
// message claimed by another one when it records the outcome: its outcome
// rolls back, and it neither records a history nor hands the message to a
// job; the new owner's claim stays.
func TestQueueTakenOverMessageIsLeftToItsNewOwner(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		ctx := context.Background()
		st := open()
		ids := queued(t, st, 1)
		p := &recordingProcessor{st: st}
		rt := queueRuntime(st, p, jobs.Options{InstanceID: "inst-a"})
		p.before = func(id string) {
			if err := st.BeatInstance(ctx, &store.Instance{ID: "inst-b"}); err != nil {
				t.Error(err)
			}
			if _, err := st.ReleaseProcessing(ctx, "inst-a"); err != nil { // inst-b failed inst-a over
				t.Error(err)
			}
			if got, err := st.ClaimProcessing(ctx, "inst-b", 10); err != nil || len(got) != 1 {
				t.Errorf("inst-b claims %v %v", got, err)
			}
		}
		if err := rt.Start(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the processing to run", func() bool { return p.calls.Load() == 1 })
		stop(t, rt)
		if evs, _ := st.Events(ctx, ids[0]); len(evs) != 0 {
			t.Fatalf("the instance that lost the claim recorded %+v", evs)
		}
		if owner, err := st.ProcessingOwner(ctx, ids[0]); err != nil || owner != "inst-b" {
			t.Fatalf("claim held by %q (%v), want inst-b", owner, err)
		}
		if js, _ := rt.List(ctx, river.NewJobListParams().Kinds(jobs.ProcessArgs{}.Kind())); len(js) != 0 {
			t.Fatalf("%d processing jobs, want none", len(js))
		}
	})
}

// gatedProcessor holds each processing until release is closed, counting
// how many run at once.
type gatedProcessor struct {
	st      store.Store
	release chan struct{}
	running atomic.Int32
	started atomic.Int32
	most    atomic.Int32
}

func (p *gatedProcessor) Process(ctx context.Context, id string) error {
	n := p.running.Add(1)
	defer p.running.Add(-1)
	p.started.Add(1)
	for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
	}
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.st.WithTx(ctx, func(tx store.Tx) error { return store.Final(ctx)(ctx, tx) })
}

// settable is a clock a test moves.
type settable struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settable) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settable) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// yielding starts a queue of 10 workers with six messages due while a
// partner uploads (end ends the upload), YieldWorkers at 2 for the test,
// and returns once two messages are processing.
func yielding(t *testing.T, st store.Store) (clk *settable, end func(), p *gatedProcessor) {
	t.Helper()
	was := jobs.YieldWorkers
	jobs.YieldWorkers = 2
	t.Cleanup(func() { jobs.YieldWorkers = was })
	clk = &settable{t: time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)}
	fg := foreground.New(clk.now)
	end = fg.Begin()
	queued(t, st, 6)
	p = &gatedProcessor{st: st, release: make(chan struct{})}
	startQueue(t, st, p, jobs.Options{Workers: 10, Foreground: fg})
	waitFor(t, "two messages processing", func() bool { return p.started.Load() == 2 })
	return clk, end, p
}

// settled waits a while for the queue to take more than it may: its loop
// looks again at least every foreground.Linger while it yields.
func settled() { time.Sleep(3 * foreground.Linger) }

// While a sender waits for an acknowledgment, the queue processes at most
// YieldWorkers messages at once; once the senders are gone (Linger after
// the last), it takes every worker again.
func TestQueueYieldsWhileSendersWait(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		st := open()
		clk, end, p := yielding(t, st)
		settled()
		if n := p.started.Load(); n != 2 {
			t.Fatalf("%d messages processing while a sender waits, want 2 (YieldWorkers)", n)
		}
		end()
		clk.add(foreground.Linger)
		waitFor(t, "every message processing once the sender is gone", func() bool { return p.started.Load() == 6 })
		close(p.release)
		waitFor(t, "every message processed", func() bool { return due(t, st) == 0 })
		if m := p.most.Load(); m != 6 {
			t.Fatalf("at most %d at once, want 6", m)
		}
	})
}

// A stream of uploads that never stops does not starve processing: after
// YieldAtMost with messages waiting, the queue takes its workers back.
func TestQueueYieldsAtMostSoLong(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() store.Store) {
		st := open()
		clk, end, p := yielding(t, st)
		defer end() // the partner uploads all along
		clk.add(jobs.YieldAtMost - time.Millisecond)
		settled()
		if n := p.started.Load(); n != 2 {
			t.Fatalf("%d messages processing before YieldAtMost, want 2", n)
		}
		clk.add(time.Millisecond)
		waitFor(t, "every message processing after YieldAtMost", func() bool { return p.started.Load() == 6 })
		close(p.release)
		waitFor(t, "every message processed", func() bool { return due(t, st) == 0 })
	})
}
