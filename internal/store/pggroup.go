package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgGroup is the PostgreSQL store's group commit: concurrent WithTx calls
// share a database transaction, each in a savepoint of its own, as on
// SQLite (group). PostgreSQL flushes concurrent commits together already;
// what a transaction of its own costs there is statements and round
// trips: its BEGIN and COMMIT, the COMMIT's wait, and one multi-row INSERT
// per table of its waiting rows (waitingRows), each a statement the server
// parses, plans and executes and both sides wake for. In a shared
// transaction the rows of all its calls become one INSERT per table, and
// one COMMIT ends them all.
//
// Up to pgLanes transactions run at once, each on its own connection
// with up to pgMaxGroup calls: a call that arrives while fewer are under
// way leads a lane at once (no wait when the store is not busy); the
// others queue and go with the next lane that frees. Nothing changes for
// a caller:
//
//   - WithTx returns only after the transaction holding its writes has
//     committed (or with the error that says it did not);
//   - a function that fails is rolled back to its savepoint, its waiting
//     rows and writes dropped, and its caller gets its error, while the
//     others commit;
//   - a function sees the writes of those that ran before it in its lane,
//     as it would had they committed just before.
//
// The calls' statements run without their callers' cancellation (pgx
// ends a connection whose statement is cancelled, and the connection
// holds the others' work); a caller whose context is done before its
// function starts gets the context's error. When the transaction itself
// fails (a waiting write of an earlier call fails, or the COMMIT), the
// callers whose functions ran in it get the error, and those that had not
// run yet run in the lane's next transaction.
//
// A transaction that takes a lock every writer waits for (the archive's
// hash chain) runs alone (Alone): in a lane it would hold the lock through
// the functions after it, and two lanes could wait for each other.
type pgGroup struct {
	s       *pgStore
	mu      sync.Mutex
	queue   []*groupCall
	leaders int

	// What the lanes did, for WriterStats.
	busy         atomic.Int64 // nanoseconds in run, summed over the lanes
	commits, txs atomic.Int64 // shared transactions, and the calls run in them
}

// WriterStats is what the lanes did since the store opened: the time they
// spent running shared transactions, summed (up to pgLanes times the
// clock's), how many shared transactions they ended, and how many calls
// those ran.
func (s *pgStore) WriterStats() (busy time.Duration, commits, txs int64) {
	g := s.group
	return time.Duration(g.busy.Load()), g.commits.Load(), g.txs.Load()
}

const (
	// pgLanes is how many shared transactions run at once: half the
	// smallest pool (openPostgres), the rest for reads and the job runtime.
	pgLanes = 4
	// pgMaxGroup bounds the calls of one transaction: a long one delays its
	// first caller, and PostgreSQL keeps the subtransactions of 64
	// savepoints (each call's, and the job runtime's inside it) in shared
	// memory, beyond which every snapshot taken meanwhile looks them up.
	pgMaxGroup = 32
)

// Alone returns a context whose WithTx on PostgreSQL runs in a
// transaction of its own, not in a shared one: for a transaction that
// takes a lock every writer waits for.
func Alone(ctx context.Context) context.Context { return context.WithValue(ctx, aloneKey{}, true) }

type aloneKey struct{}

func alone(ctx context.Context) bool { v, _ := ctx.Value(aloneKey{}).(bool); return v }

// do runs c.fn in a shared transaction and returns once it committed.
func (g *pgGroup) do(ctx context.Context, c *groupCall) error {
	c.done = make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := g.leaders < pgLanes
	if lead {
		g.leaders++
	}
	g.mu.Unlock()
	if lead {
		g.lead(c)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		// Still queued: it leaves the queue, its function never run.
		g.mu.Lock()
		if i := slices.Index(g.queue, c); i >= 0 {
			g.queue = slices.Delete(g.queue, i, i+1)
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		<-c.done // under way: its outcome comes
	}
	if c.panic != nil {
		panic(c.panic)
	}
	return c.err
}

// lead runs batches from the queue in a lane until the queue is empty,
// or until mine is done: its caller returns, and a goroutine leads on in
// the lane if calls wait.
func (g *pgGroup) lead(mine *groupCall) {
	for {
		g.mu.Lock()
		batch := g.queue
		if len(batch) > pgMaxGroup {
			batch = batch[:pgMaxGroup]
		}
		g.queue = g.queue[len(batch):]
		if len(batch) == 0 {
			g.leaders--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		start := time.Now()
		g.run(batch)
		g.busy.Add(int64(time.Since(start)))
		if mine == nil {
			continue
		}
		select {
		case <-mine.done:
			go g.lead(nil)
			return
		default:
		}
	}
}

// run commits one batch and tells each caller its outcome.
func (g *pgGroup) run(batch []*groupCall) {
	defer func() {
		// A panic of the store's own (the functions' are their callers'):
		// the calls without an outcome get it as their error.
		if r := recover(); r != nil {
			for _, c := range batch {
				if c.err == nil && c.panic == nil {
					c.err = fmt.Errorf("store: shared transaction: %v", r)
				}
			}
		}
		for _, c := range batch {
			close(c.done)
		}
	}()
	// The transaction is the batch's, not one caller's: it must not end
	// with the context of whoever leads.
	ctx := context.Background()
	var conn *pgxpool.Conn
	defer func() {
		if conn != nil {
			conn.Release()
		}
	}()
	for rest := batch; len(rest) > 0; {
		if conn != nil {
			if pc := conn.Conn().PgConn(); pc.IsClosed() || pc.IsBusy() || pc.TxStatus() != 'I' {
				// Lost, or still in the last transaction (its rollback
				// failed): the pool closes it.
				conn.Release()
				conn = nil
			}
		}
		if conn == nil {
			var err error
			if conn, err = g.s.pool.Acquire(ctx); err != nil {
				for _, c := range rest {
					c.err = fmt.Errorf("store: begin: %w", pgTranslate(err))
				}
				return
			}
		}
		ran, err := g.runTx(g.s.newTx(conn.Conn()), rest)
		g.commits.Add(1)
		g.txs.Add(int64(ran))
		if err != nil {
			for _, c := range rest[:ran] {
				if c.err == nil && c.panic == nil {
					c.err = err
				}
			}
		}
		rest = rest[ran:]
	}
}

// runTx runs the calls of batch in one transaction until one takes the
// transaction down, and commits. It returns how many calls it ran (all,
// unless the transaction failed) and the transaction's error, which
// those of them that succeeded get.
func (g *pgGroup) runTx(t *pgTx, batch []*groupCall) (ran int, err error) {
	ctx := context.Background()
	t.tq.shared = true
	for i, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			continue
		}
		if err := t.tq.call(t, c); err != nil {
			t.tq.rollback(ctx)
			return i + 1, err
		}
	}
	if err := t.tq.commit(ctx); err != nil {
		t.tq.rollback(ctx)
		return len(batch), err
	}
	return len(batch), nil
}

// groupSavepoint is the savepoint of each call of a shared transaction.
const groupSavepoint = "wharf_group"

// call runs c.fn in tx, in a savepoint sent with its first statement, and
// undoes it when it fails (c.err, c.panic). err is the transaction's own
// failure: a write of an earlier call failed in a batch with this one's,
// or rolling back to the savepoint failed.
func (p *pgTxQ) call(t *pgTx, c *groupCall) error {
	sp := p.sent + len(p.later) // the savepoint's place in what is sent
	p.later = append(p.later, laterStmt{label: "store: savepoint", sql: "SAVEPOINT " + groupSavepoint})
	rows := p.rows.snapshot()
	c.err, c.panic = call(c.fn, t)
	if c.err == nil && c.panic == nil {
		// A failed statement the function went past fails it too.
		c.err = cmp.Or(p.err, p.failErr)
	}
	if c.err == nil && c.panic == nil {
		if p.sent <= sp {
			// Nothing of it went to the server, so nothing of it failed
			// there: its writes wait without a savepoint of their own.
			p.later = slices.Delete(p.later, sp-p.sent, sp-p.sent+1)
			return nil
		}
		p.later = append(p.later, laterStmt{label: "store: release savepoint", sql: "RELEASE SAVEPOINT " + groupSavepoint})
		return nil
	}
	if p.failedAt >= 0 && p.failedAt < sp {
		// An earlier call's waiting write failed before this savepoint:
		// the transaction is gone, and the earlier savepoints with it.
		return p.failErr
	}
	// Undo the call: what it left waiting is dropped, the rows that
	// waited before it wait again, and what it sent is rolled back.
	p.rows.restore(rows)
	p.err, p.failedAt, p.failErr = nil, -1, nil
	if p.sent <= sp { // nothing of it went to the server
		p.later = p.later[:sp-p.sent]
		return nil
	}
	p.later = nil // all sent after the savepoint: this call's
	// One simple query (pgx sends a statement without arguments so): a
	// batch would first ask the server to prepare its statements, which
	// a transaction that a failed statement aborted refuses.
	p.sent += 2
	if _, err := p.conn.Exec(context.Background(), "ROLLBACK TO SAVEPOINT "+groupSavepoint+"; RELEASE SAVEPOINT "+groupSavepoint); err != nil {
		return fmt.Errorf("store: a write failed and took the shared transaction with it: %w", pgTranslate(err))
	}
	return nil
}
