package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"

	"modernc.org/sqlite"
)

// The SQLite store's connection keeps the statements it runs prepared.
// modernc's driver prepares (parses) every statement of every call anew,
// and its parser, translated from C, cost a quarter of the CPU of the
// folder flow: Wharf's own queries and River's (fetching, inserting and
// completing jobs) repeat the same few dozen statements for every message.
// The cache sits below database/sql, in the driver's connection, so that
// every user of the *sql.DB (the store, River, migrations) gains and no
// caller can wait on a second connection for a prepare (the store has
// one).
//
// A cached statement serves one call at a time: while rows of it are open
// (a query run again inside the loop that reads its rows), the second call
// prepares a statement of its own. Strings of several statements are not
// cached (the driver runs them one after the other).

func init() { sql.Register("wharf-sqlite", cachingDriver{&sqlite.Driver{}}) }

type cachingDriver struct{ d driver.Driver }

func (d cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &cachingConn{c: c, stmts: map[string]*cachedStmt{}}, nil
}

// maxCachedStmts bounds the cache; queries built with varying text (IN
// lists of any length) would otherwise grow it without end.
const maxCachedStmts = 512

type cachingConn struct {
	c     driver.Conn
	mu    sync.Mutex // database/sql uses a connection from one goroutine at a time; rows may close from another
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st   driver.Stmt
	busy bool // rows of it are open
}

var (
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
	_ driver.NamedValueChecker  = (*cachingConn)(nil)
	_ driver.StmtExecContext    = (*heldStmt)(nil)
	_ driver.StmtQueryContext   = (*heldStmt)(nil)
)

// take returns the statement to run query with and done, which gives it
// back: the cached statement (prepared on first use, busy until done), or
// one prepared for this call when the cache is full (done closes it). A
// nil statement means: run query on the driver directly (a string of
// several statements, or its cached statement busy).
func (c *cachingConn) take(ctx context.Context, query string) (driver.Stmt, func(), error) {
	c.mu.Lock()
	cs, ok := c.stmts[query]
	if ok {
		busy := cs.busy
		cs.busy = true
		c.mu.Unlock()
		if busy {
			return nil, nil, nil
		}
		return cs.st, func() { c.release(cs) }, nil
	}
	c.mu.Unlock()
	// Only a statement not cached yet is scanned (River's are kilobytes
	// long, and every call scanned them).
	if !cacheable(query) {
		return nil, nil, nil
	}
	st, err := c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stmts) >= maxCachedStmts {
		for q, old := range c.stmts { // evict an idle one, any
			if !old.busy {
				old.st.Close()
				delete(c.stmts, q)
				break
			}
		}
	}
	if len(c.stmts) >= maxCachedStmts { // every one busy: this one is for this call
		return st, func() { st.Close() }, nil
	}
	cs = &cachedStmt{st: st, busy: true}
	c.stmts[query] = cs
	return st, func() { c.release(cs) }, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, done, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.c.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	defer done()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, done, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.c.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	r, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		done()
		return nil, err
	}
	return &heldRows{Rows: r, done: done}, nil
}

// heldRows gives the statement back when its rows close. (It hides the
// driver's optional column-type methods: neither Wharf nor River asks for
// Rows.ColumnTypes.)
type heldRows struct {
	driver.Rows
	done func()
	once sync.Once
}

func (r *heldRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.done)
	return err
}

// PrepareContext (database/sql's Prepare, and statements in transactions
// that callers prepare themselves) hands out the cached statement too; it
// is given back when the caller closes it.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, done, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	}
	return &heldStmt{Stmt: st, done: done}, nil
}

// heldStmt is a cached statement lent to a caller: closing it gives it back.
type heldStmt struct {
	driver.Stmt
	done func()
	once sync.Once
}

func (s *heldStmt) Close() error { s.once.Do(s.done); return nil }
func (s *heldStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}
func (s *heldStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) Close() error {
	c.mu.Lock()
	for q, cs := range c.stmts {
		cs.st.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.c.Close()
}

func (c *cachingConn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.c.(driver.ConnBeginTx).BeginTx(ctx, o)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.c.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

// CheckNamedValue accepts what the driver binds (its default conversion).
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
