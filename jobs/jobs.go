// Package jobs is Wharf's job runtime: River on the same database as the
// store (riversqlite or riverpgxv5, picked from the store's driver), cron
// schedules as River periodic jobs, and the catch-up of runs missed while no
// server was up.
//
// Work moves through jobs, never through in-memory hand-offs: a job is
// inserted in the same transaction as the rows it depends on (InsertTx with
// the store.Tx), so a crash either keeps both or neither. A new message's
// first processing is the exception that keeps the rule: its hand-off is a
// row of the store's processing queue, written with the message (queue.go).
//
// Lifecycle: New, then Register each worker, then Start; Stop lets running
// jobs finish (or returns them to the queue) before it returns. A Runtime
// that is never started can still insert jobs (the CLI does this).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Task is what a schedule runs. It must be idempotent: a run may be retried.
type Task func(ctx context.Context) error

// Schedule is a named cron schedule (in its time zone) that runs a task.
type Schedule struct {
	Name     string
	Schedule cron.Schedule
	Task     string // name of a task in Options.Tasks
}

// Options configure a Runtime.
type Options struct {
	Workers   int // concurrent jobs; default 300
	Logger    *slog.Logger
	Tasks     map[string]Task
	Schedules []Schedule
	// Metrics, when set, receives the job counters.
	Metrics prometheus.Registerer
	// Now is the clock for schedule slots and catch-up; the application
	// passes the one clock it gives every stage, tests a fixed one.
	Now func() time.Time
	// SingleWorker: no other process works jobs on this database (see Start).
	SingleWorker bool
	// InstanceID names this process among the instances on the database
	// (instances.go) and is River's client ID; default: host, PID and a
	// random suffix. Version is recorded with it.
	InstanceID, Version string
	// Foreground, when set, tells the processing queue when partners wait
	// for acknowledgments (SFTP uploads, AS2 messages, HTTP posts): it then
	// processes at most YieldWorkers messages at once (see queue.go).
	Foreground *foreground.Gauge
	// Heartbeat is how often the instance announces itself (default 5 s);
	// FailoverAfter is how long an instance may stay silent before a
	// survivor returns its running jobs to the queue (default 30 s).
	Heartbeat, FailoverAfter time.Duration
}

// Runtime owns the River client.
type Runtime struct {
	st      store.Store
	opts    Options
	log     *slog.Logger
	workers *river.Workers

	mu        sync.Mutex
	c         client
	started   bool
	startedAt time.Time // when Start ran: lost slots before it are start-up's to catch up
	self      store.Instance
	stopBeats func()
	beatsDone chan struct{}

	q atomic.Pointer[queue] // the processing queue (queue.go), nil without one

	jobsDone  *prometheus.CounterVec
	failovers prometheus.Counter
	yielding  prometheus.Gauge
}

// client hides River's transaction type parameter (*sql.Tx or pgx.Tx).
type client interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	stopAndCancel(ctx context.Context) error
	insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	insertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	list(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error)
	subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
}

type clientOf[TTx any] struct{ c *river.Client[TTx] }

func (c clientOf[TTx]) start(ctx context.Context) error { return c.c.Start(ctx) }
func (c clientOf[TTx]) stop(ctx context.Context) error  { return c.c.Stop(ctx) }
func (c clientOf[TTx]) stopAndCancel(ctx context.Context) error {
	return c.c.StopAndCancel(ctx)
}
func (c clientOf[TTx]) insert(ctx context.Context, a river.JobArgs, o *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return c.c.Insert(ctx, a, o)
}
func (c clientOf[TTx]) insertTx(ctx context.Context, tx store.Tx, a river.JobArgs, o *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	raw, ok := tx.Raw().(TTx)
	if !ok {
		return nil, fmt.Errorf("jobs: transaction of type %T does not belong to this database", tx.Raw())
	}
	return c.c.InsertTx(ctx, raw, a, o)
}
func (c clientOf[TTx]) list(ctx context.Context, p *river.JobListParams) (*river.JobListResult, error) {
	return c.c.JobList(ctx, p)
}
func (c clientOf[TTx]) subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return c.c.Subscribe(kinds...)
}

// Migrate applies River's own migrations to the store's database.
func Migrate(ctx context.Context, st store.Store) error {
	var err error
	switch h := st.Handle().(type) {
	case *sql.DB:
		err = migrateWith(ctx, riversqlite.New(h))
	case *pgxpool.Pool:
		err = migratePostgres(ctx, h)
	default:
		err = fmt.Errorf("unsupported database handle %T", h)
	}
	if err != nil {
		return fmt.Errorf("jobs: migrate %s: %w", st.Describe(), err)
	}
	return nil
}

// riverMigrateLock is the advisory lock that serialises River's migrations
// across instances starting at once (PostgreSQL's DDL is not safe to run
// twice concurrently: the second CREATE TYPE fails instead of waiting).
const riverMigrateLock = 0x57484152_52495652 // "WHARRIVR"

func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(riverMigrateLock)); err != nil {
		return fmt.Errorf("wait for another instance's migration: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(riverMigrateLock))
	return migrateWith(ctx, riverpgxv5.New(pool))
}

func migrateWith[TTx any](ctx context.Context, d riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// New returns a runtime on the store's database. Register workers before Start.
func New(st store.Store, opts Options) *Runtime {
	if opts.Workers <= 0 {
		opts.Workers = 300
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = defaultHeartbeat
	}
	if opts.FailoverAfter <= 0 {
		opts.FailoverAfter = DefaultFailoverAfter
	}
	host, _ := os.Hostname()
	if opts.InstanceID == "" {
		opts.InstanceID = fmt.Sprintf("%.60s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	rt := &Runtime{st: st, opts: opts, log: opts.Logger, workers: river.NewWorkers(),
		self: store.Instance{ID: opts.InstanceID, Host: host, PID: os.Getpid(), Version: opts.Version}}
	river.AddWorker(rt.workers, &scheduledWorker{rt: rt})
	rt.jobsDone = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_jobs_finished_total",
		Help: "Jobs finished, by kind and outcome (completed, failed, cancelled, discarded).",
	}, []string{"kind", "outcome"})
	rt.failovers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wharf_jobs_failed_over_total",
		Help: "Jobs this instance returned to the queue because the instance running them stopped beating.",
	})
	rt.yielding = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_processing_yielding",
		Help: "1 while the processing queue runs few messages at once because partners wait for acknowledgments (it catches up after them, or after 3 s of messages waiting).",
	})
	if opts.Metrics != nil {
		opts.Metrics.MustRegister(rt.jobsDone, rt.failovers, rt.yielding)
	}
	return rt
}

// Register adds a worker. It must be called before Start or any insert.
func Register[T river.JobArgs](rt *Runtime, w river.Worker[T]) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.c != nil {
		panic("jobs: Register after the client was created")
	}
	river.AddWorker(rt.workers, w)
}

func (rt *Runtime) client() (client, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.c != nil {
		return rt.c, nil
	}
	cfg := &river.Config{
		ID:           rt.self.ID,
		Logger:       slog.New(quieter{rt.log.With("component", "river").Handler()}),
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: rt.opts.Workers}},
		Workers:      rt.workers,
		PeriodicJobs: rt.periodicJobs(),
		JobTimeout:   10 * time.Minute,
		// A worker that finishes asks for more at once (River's default
		// waits 100 ms between fetches, which bounded a burst of small
		// files at about Workers jobs per 200 ms).
		FetchCooldown: 10 * time.Millisecond,
		MaxAttempts:   10,
		// The last resort for a job left running: a crashed instance's jobs
		// are returned within Options.FailoverAfter by the survivors
		// (instances.go), and on SQLite at start (requeueOrphans).
		RescueStuckJobsAfter: 15 * time.Minute,
		// Completed jobs are kept a week for operators; failures longer.
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
	}
	var err error
	switch h := rt.st.Handle().(type) {
	case *sql.DB:
		// SQLite has no LISTEN/NOTIFY: River polls, and a job inserted in
		// the caller's transaction waits for the next poll. A poll that
		// finds nothing writes nothing (no fsync), so it can be frequent:
		// each stage of the flow adds at most this much latency.
		cfg.FetchPollInterval = 50 * time.Millisecond
		var c *river.Client[*sql.Tx]
		c, err = river.NewClient(riversqlite.New(h), cfg)
		rt.c = clientOf[*sql.Tx]{c}
	case *pgxpool.Pool:
		var c *river.Client[pgx.Tx]
		c, err = river.NewClient(riverpgxv5.New(h), cfg)
		rt.c = clientOf[pgx.Tx]{c}
	default:
		err = fmt.Errorf("unsupported database handle %T", h)
	}
	if err != nil {
		rt.c = nil
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return rt.c, nil
}

// quieter passes River's log on one level down for INFO: its producer
// statistics and per-run schedule lines are chatter for an operator
// (issue 19 #8); warnings and errors stay what they are.
type quieter struct{ slog.Handler }

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.Handler.WithAttrs(as)} }
func (q quieter) WithGroup(n string) slog.Handler       { return quieter{q.Handler.WithGroup(n)} }

// InsertTx enqueues a job in the caller's transaction: it exists if and only
// if the transaction commits.
func (rt *Runtime) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	c, err := rt.client()
	if err != nil {
		return nil, err
	}
	res, err := c.insertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// Insert enqueues a job on its own.
func (rt *Runtime) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	c, err := rt.client()
	if err != nil {
		return nil, err
	}
	res, err := c.insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// List lists jobs (for operators and tests).
func (rt *Runtime) List(ctx context.Context, p *river.JobListParams) ([]*rivertype.JobRow, error) {
	c, err := rt.client()
	if err != nil {
		return nil, err
	}
	res, err := c.list(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	return res.Jobs, nil
}

// Options.SingleWorker says this process is the only one working jobs on
// the database (SQLite, guarded by the server's data-folder lock): jobs left
// "running" by a crash are then requeued at start instead of waiting for
// River's stuck-job rescue.

// Start catches up missed schedules, then starts working jobs.
func (rt *Runtime) Start(ctx context.Context) error {
	c, err := rt.client()
	if err != nil {
		return err
	}
	if rt.opts.SingleWorker {
		if err := rt.requeueOrphans(ctx); err != nil {
			return err
		}
	}
	rt.startedAt = rt.opts.Now().UTC()
	if err := rt.catchUp(ctx); err != nil {
		return err
	}
	// Announce this instance before it fetches a job, and watch the others.
	rt.beat(ctx)
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	rt.stopBeats, rt.beatsDone = stopBeats, make(chan struct{})
	go rt.heartbeats(beatCtx, rt.beatsDone)
	events, cancel := c.subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	go func() {
		defer cancel()
		for ev := range events {
			if ev == nil || ev.Job == nil {
				continue
			}
			outcome := string(ev.Kind)
			switch {
			case ev.Kind == river.EventKindJobCompleted:
				outcome = "completed"
			case ev.Kind == river.EventKindJobCancelled:
				outcome = "cancelled"
			case ev.Job.State == rivertype.JobStateDiscarded:
				outcome = "discarded"
			default:
				outcome = "failed"
			}
			rt.jobsDone.WithLabelValues(ev.Job.Kind, outcome).Inc()
		}
	}()
	if err := c.start(ctx); err != nil {
		rt.endBeats(ctx)
		return fmt.Errorf("jobs: start: %w", err)
	}
	if q := rt.q.Load(); q != nil {
		q.start()
	}
	rt.mu.Lock()
	rt.started = true
	rt.mu.Unlock()
	return nil
}

// Stop stops fetching new jobs and waits for running ones until ctx is
// done; then it cancels those still running, which River retries later.
func (rt *Runtime) Stop(ctx context.Context) error {
	rt.mu.Lock()
	c, started := rt.c, rt.started
	rt.started = false
	rt.mu.Unlock()
	if !started {
		return nil
	}
	if q := rt.q.Load(); q != nil {
		q.halt(ctx)
	}
	err := c.stop(ctx)
	if err == nil {
		rt.endBeats(ctx)
		return nil
	}
	defer rt.endBeats(ctx)
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err2 := c.stopAndCancel(hard); err2 != nil && !errors.Is(err2, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w (then: %v)", err, err2)
	}
	return fmt.Errorf("jobs: stop: running jobs were cancelled and will be retried: %w", err)
}

// endBeats stops the heartbeats and removes this instance: it ran its
// jobs to the end (or they were cancelled and River retries them).
func (rt *Runtime) endBeats(ctx context.Context) {
	if rt.stopBeats == nil {
		return
	}
	rt.stopBeats()
	<-rt.beatsDone
	rt.stopBeats = nil
	if _, err := rt.st.RemoveInstance(context.WithoutCancel(ctx), rt.self.ID); err != nil {
		rt.log.Warn("jobs: remove this instance", "instance", rt.self.ID, "err", err)
	}
}

// InstanceID is this runtime's instance (and River client) ID.
func (rt *Runtime) InstanceID() string { return rt.self.ID }

// requeueOrphans makes jobs a crashed process left "running" available
// again. Only valid when no other process works jobs (SingleWorker).
func (rt *Runtime) requeueOrphans(ctx context.Context) error {
	db, ok := rt.st.Handle().(*sql.DB)
	if !ok {
		return nil
	}
	res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("jobs: requeue jobs left running by a crash: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		rt.log.Warn("requeued jobs left running by an earlier crash", "jobs", n)
	}
	n, err := rt.st.ReleaseProcessing(ctx, "")
	if err != nil {
		return fmt.Errorf("jobs: return processing claims left by a crash: %w", err)
	}
	if n > 0 {
		rt.log.Warn("returned messages claimed for processing before an earlier crash to the queue", "messages", n)
	}
	return nil
}

// cancelPermanent turns a permanent failure (lifecycle.ErrPermanent) into a
// cancelled job: retrying it cannot help, so it is not retried; and work
// that must wait (lifecycle.ErrWait) into a snoozed job. Other errors are
// returned as they are, for River to retry with backoff.
func cancelPermanent(err error) error {
	var cancelled *rivertype.JobCancelError
	if err == nil || errors.As(err, &cancelled) {
		return err
	}
	if lifecycle.IsPermanent(err) {
		return river.JobCancel(err)
	}
	if lifecycle.IsWait(err) {
		return river.JobSnooze(WaitSnooze)
	}
	return err
}

// WaitSnooze is how long a job whose work must wait (lifecycle.ErrWait)
// sleeps before it looks again; snoozes use up no attempts.
const WaitSnooze = 15 * time.Second
