package jobs

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// The processing queue: a new message's first processing does not go
// through a River job. The archive marks the message due in the
// transaction that records it (store.QueueProcessing); the queue claims
// due messages a batch at a time (one statement for the batch) and the
// stage's last transaction ends the claim with the outcome. A job cost a
// file an insert, a fetch and two completions, each a statement on
// SQLite's one writer (a third of its time in a burst of small files).
//
// Only the first attempt runs here. A processing that fails is handed to
// an ordinary processing job (ProcessArgs) in one transaction that ends
// the claim, so retries, backoff, the attempts and the dead end are
// River's, as for every other job. A claim belongs to a live instance:
// a survivor that fails a silent instance over returns its claims
// (instances.go), a lone SQLite server returns them at start, and a clean
// stop returns the claims it did not finish.

// queueBatch is the most messages claimed in one statement.
const queueBatch = 64

// While partners wait for acknowledgments (Options.Foreground), the queue
// processes at most YieldWorkers messages at once instead of every worker,
// so that the receives they wait for get the processors and SQLite's one
// writer: processing is CPU work and most of the writer's transactions,
// and a file's CLOSE OK waits for both. On 2 cores, 2,000 SFTP uploads
// from 8 clients ran at 0.44x-0.77x of sshd with every worker processing,
// and at 0.76x-1.15x with 6 per core, every file processed 1.1-1.5 s after
// the last upload; 4 per core uploaded a little faster but finished
// processing up to 2 s after it (docs/benchmarks.md, "SFTP"). The
// messages still due are claimed as soon as the partners are gone
// (foreground.Linger after the last receive), or when the queue has had
// messages waiting for YieldAtMost without a pause: then it takes its
// workers back until it has caught up, so a stream of uploads that never
// stops slows processing down for that long at most, never starves it.
var (
	YieldWorkers = 6 * runtime.GOMAXPROCS(0)
	YieldAtMost  = 3 * time.Second
)

// queue works the store's processing queue for one Runtime.
type queue struct {
	rt   *Runtime
	proc Processor
	wake chan struct{}
	poll time.Duration

	stop    context.CancelFunc // stops claiming
	abort   context.CancelFunc // cancels the running processing
	stopped chan struct{}
	running sync.WaitGroup
}

// ProcessQueue has the runtime work the store's processing queue with p
// (the processor ProcessWorker runs for retries and replays), at most
// Options.Workers messages at once. Call it before Start.
func (rt *Runtime) ProcessQueue(p Processor) {
	poll := time.Second // PostgreSQL: other instances' messages; this one's wake it
	if rt.st.Driver() == "sqlite" {
		poll = 250 * time.Millisecond
	}
	rt.q.Store(&queue{rt: rt, proc: p, wake: make(chan struct{}, 1), poll: poll})
}

// Wake tells the processing queue that messages became due (the archive's
// commit): it claims them now instead of at its next poll.
func (rt *Runtime) Wake() {
	if q := rt.q.Load(); q != nil {
		q.kick()
	}
}

func (q *queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// start runs the queue until stop.
func (q *queue) start() {
	claimCtx, stop := context.WithCancel(context.Background())
	workCtx, abort := context.WithCancel(context.Background())
	q.stop, q.abort, q.stopped = stop, abort, make(chan struct{})
	go q.loop(claimCtx, workCtx)
}

// halt stops claiming, lets running processing finish until ctx is done
// (then cancels it), and returns the claims left unfinished to the queue.
func (q *queue) halt(ctx context.Context) {
	if q.stopped == nil {
		return // registered after Start: it never ran
	}
	q.stop()
	select {
	case <-q.stopped:
	case <-ctx.Done():
		q.abort()
		<-q.stopped
	}
	q.abort()
	if n, err := q.rt.st.ReleaseProcessing(context.WithoutCancel(ctx), q.rt.self.ID); err != nil {
		q.rt.log.Warn("jobs: return unfinished processing claims to the queue", "err", err)
	} else if n > 0 {
		q.rt.log.Info("processing claims returned to the queue at stop", "messages", n)
	}
}

func (q *queue) loop(claimCtx, workCtx context.Context) {
	defer close(q.stopped)
	defer q.running.Wait()
	slots := make(chan struct{}, q.rt.opts.Workers)
	tick := time.NewTicker(q.poll)
	defer tick.Stop()
	defer q.rt.yielding.Set(0)
	linger := time.NewTimer(foreground.Linger)
	linger.Stop()
	defer linger.Stop()
	fg := q.rt.opts.Foreground
	caughtUp := fg.Now() // the last claim that found nothing more due
	failures := 0
	for {
		limit := cap(slots)
		yielding := fg.Busy() && limit > YieldWorkers && fg.Now().Sub(caughtUp) < YieldAtMost
		if yielding {
			limit = YieldWorkers
			q.rt.yielding.Set(1)
		} else {
			q.rt.yielding.Set(0)
		}
		want := min(limit-len(slots), queueBatch)
		var claims []store.ProcessingClaim
		if want > 0 {
			var err error
			claims, err = q.rt.st.ClaimProcessing(claimCtx, q.rt.self.ID, want)
			if err != nil && claimCtx.Err() == nil {
				failures++
				if failures == 1 || failures%60 == 0 {
					q.rt.log.Warn("jobs: claim messages to process", "err", err, "failures", failures)
				}
			} else {
				failures = 0
			}
			if err == nil && len(claims) < want {
				caughtUp = fg.Now()
			}
		}
		for _, c := range claims {
			slots <- struct{}{}
			q.running.Go(func() {
				defer func() { <-slots; q.kick() }()
				q.work(workCtx, c)
			})
		}
		if len(claims) > 0 && len(claims) == want {
			continue // more may be due
		}
		var again <-chan time.Time // yielding: look again when the partners may be gone
		if yielding {
			linger.Reset(max(time.Millisecond, min(fg.BusyFor(), YieldAtMost-fg.Now().Sub(caughtUp))))
			again = linger.C
		}
		select {
		case <-claimCtx.Done():
			return
		case <-q.wake:
		case <-tick.C:
		case <-again:
		}
	}
}

// work runs the first processing of a claimed message; a failure goes to a
// processing job. The first run of a claim never returned to the queue is
// the message's first processing (store.WithFirstRun).
func (q *queue) work(ctx context.Context, c store.ProcessingClaim) {
	st, self, id := q.rt.st, q.rt.self.ID, c.MessageID
	for first := c.First; ; first = false {
		wctx := store.WithFinal(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ProcessingDone(ctx, id, self) })
		if first {
			wctx = store.WithFirstRun(wctx)
		}
		err := q.proc.Process(wctx, id)
		if err == nil {
			q.rt.jobsDone.WithLabelValues(ProcessArgs{}.Kind(), "completed").Inc()
			return
		}
		if ctx.Err() != nil {
			return // stopping: halt returns the claim to the queue
		}
		delay := time.Second // River's first retry comes about as soon
		if lifecycle.IsWait(err) {
			delay = WaitSnooze
		}
		at := time.Now().Add(delay) // River schedules by the wall clock
		herr := st.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.ProcessingDone(ctx, id, self); err != nil {
				return err
			}
			_, err := q.rt.InsertTx(ctx, tx, ProcessArgs{MessageID: id}, &river.InsertOpts{ScheduledAt: at})
			return err
		})
		if herr == nil {
			q.rt.jobsDone.WithLabelValues(ProcessArgs{}.Kind(), "failed").Inc()
			q.rt.log.Warn("processing failed; it is retried as a job", "message", id, "err", err)
			return
		}
		if errors.Is(herr, store.ErrConflict) {
			// This instance was failed over while it worked (a long pause)
			// and another one has the message now: its outcome rolled back
			// (the final's ProcessingDone refused it), and so did this.
			q.rt.log.Warn("processing given up: another instance took the message over", "message", id, "err", err)
			return
		}
		// The database is unreachable: try the message again later (its
		// claim stays with this instance meanwhile).
		q.rt.log.Warn("processing failed and could not be handed to a job; trying again in 5 s", "message", id, "err", err, "handoff", herr)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}
