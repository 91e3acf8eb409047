package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// group is the SQLite store's group commit. SQLite has one writer and
// every commit is an fsync of the WAL (synchronous=FULL), so a flow that
// commits several times per message on many goroutines at once was bound
// by fsyncs, not by work. With group commit, concurrent WithTx calls share
// one database transaction: the first caller becomes the leader, runs its
// own function and those of every caller that queued meanwhile, each inside
// its own SAVEPOINT, and commits them all at once; N callers pay for one
// fsync instead of N. Nothing changes for a caller:
//
//   - WithTx returns only after the transaction holding its writes has
//     committed (or with the error that says it did not);
//   - a function that fails is rolled back to its savepoint and its caller
//     gets its error, while the others commit;
//   - a function sees the writes of those that ran before it in the batch,
//     as it would had they committed just before.
//
// The leader runs the others' functions on its goroutine; a panic in one
// is recovered there and raised again on its caller's goroutine. The
// statements of a batch run without the callers' cancellation (an
// interrupted SQLite write rolls back the whole transaction, which holds
// the others' work too): a caller whose context is done before its
// function starts gets the context's error and its function never runs.
type group struct {
	db      *sql.DB
	newTx   func(*sql.Tx) *sqliteTx
	mu      sync.Mutex
	queue   []*groupCall
	leading bool

	// What the writer did, for WriterStats.
	busy         atomic.Int64 // nanoseconds in run
	commits, txs atomic.Int64
}

// maxGroup bounds a batch: a long batch delays its first caller.
const maxGroup = 128

type groupCall struct {
	ctx   context.Context
	fn    func(Tx) error
	merge *Merge // instead of fn: item, written with the batch's other items for merge
	item  any
	err   error
	panic any
	done  chan struct{}
	ran   bool // run: written with an earlier call of its merge
}

// do runs c (its fn, or its item with the others of its merge) in a
// shared transaction and returns once it committed.
func (g *group) do(ctx context.Context, c *groupCall) error {
	c.done = make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.leading {
		g.leading = true
		for {
			batch := g.queue
			if len(batch) > maxGroup {
				batch = batch[:maxGroup]
			}
			g.queue = g.queue[len(batch):]
			if len(batch) == 0 {
				g.leading = false
				break
			}
			g.mu.Unlock()
			start := time.Now()
			g.run(batch)
			g.busy.Add(int64(time.Since(start)))
			g.commits.Add(1)
			g.txs.Add(int64(len(batch)))
			g.mu.Lock()
		}
	}
	g.mu.Unlock()
	<-c.done
	if c.panic != nil {
		panic(c.panic)
	}
	return c.err
}

// run commits one batch and tells each caller its outcome.
func (g *group) run(batch []*groupCall) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	fail := func(err error) {
		for _, c := range batch {
			if c.err == nil && c.panic == nil {
				c.err = err
			}
		}
	}
	// The transaction is the batch's, not one caller's: it must not end
	// with the context of whoever leads.
	tx, err := g.db.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", sqliteTranslate(err)))
		return
	}
	t := g.newTx(tx)
	abort := func(err error) { fail(err); _ = tx.Rollback() }
	wrote := false
	for i, c := range batch {
		if c.ran {
			continue
		}
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		if c.merge != nil {
			ok, err := g.runMerged(tx, t, batch[i:])
			if err != nil {
				abort(err)
				return
			}
			wrote = wrote || ok
			continue
		}
		ok, err := g.runOne(tx, t, c, c.fn)
		if err != nil {
			abort(err)
			return
		}
		wrote = wrote || ok
	}
	if !wrote {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("store: commit: %w", sqliteTranslate(err)))
	}
}

// runOne runs fn for c in a savepoint of its own, rolled back if fn fails
// (c.err, c.panic); ok tells that it wrote. err is the transaction's own
// failure, which takes the whole batch with it.
func (g *group) runOne(tx *sql.Tx, t *sqliteTx, c *groupCall, fn func(Tx) error) (ok bool, err error) {
	if _, err := tx.Exec("SAVEPOINT wharf_group"); err != nil {
		return false, fmt.Errorf("store: savepoint: %w", sqliteTranslate(err))
	}
	c.err, c.panic = call(fn, t)
	if err := t.end(c.err == nil && c.panic == nil); err != nil && c.err == nil && c.panic == nil {
		c.err = err // its waiting rows failed
	}
	ok = c.err == nil && c.panic == nil
	if !ok {
		if _, err := tx.Exec("ROLLBACK TO wharf_group"); err != nil {
			// The transaction itself is gone (SQLite rolls it back
			// whole on some errors): nothing of this batch commits.
			return false, fmt.Errorf("store: a write failed and took the shared transaction with it: %w", sqliteTranslate(err))
		}
	}
	if _, err := tx.Exec("RELEASE wharf_group"); err != nil {
		return false, fmt.Errorf("store: release savepoint: %w", sqliteTranslate(err))
	}
	return ok, nil
}

// runMerged writes the items of the first call of calls and of every later
// one for the same merge whose context is not done, with one Run in one
// savepoint; if it fails, each item again alone, each caller with its own
// outcome. It marks the calls it ran.
func (g *group) runMerged(tx *sql.Tx, t *sqliteTx, calls []*groupCall) (ok bool, err error) {
	m := calls[0].merge
	var cs []*groupCall
	var items []any
	for _, c := range calls {
		if c.ran || c.merge != m {
			continue
		}
		c.ran = true
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		cs = append(cs, c)
		items = append(items, c.item)
	}
	if len(cs) == 0 {
		return false, nil
	}
	ctx := context.WithoutCancel(cs[0].ctx)
	all := &groupCall{}
	ok, err = g.runOne(tx, t, all, func(t Tx) error { return m.Run(ctx, t, items) })
	if err != nil {
		// The transaction is gone: run gives every caller its error, not
		// the Run's, which may be one item's own.
		return false, err
	}
	if ok || len(cs) == 1 {
		for _, c := range cs {
			c.err, c.panic = all.err, all.panic
		}
		return ok, nil
	}
	for _, c := range cs {
		ok1, err := g.runOne(tx, t, c, func(t Tx) error { return m.Run(context.WithoutCancel(c.ctx), t, []any{c.item}) })
		if err != nil {
			return ok, err
		}
		ok = ok || ok1
	}
	return ok, nil
}

// call runs fn, turning a panic into a value to raise on its caller's goroutine.
func call(fn func(Tx) error, t Tx) (err error, p any) {
	defer func() {
		if r := recover(); r != nil {
			p = r
		}
	}()
	return fn(t), nil
}
