package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

type sqlExecer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// sqliteQ adapts database/sql to the querier; times become unix microseconds.
type sqliteQ struct{ db sqlExecer }

func sqliteArgs(args []any) []any {
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			args[i] = t.UnixMicro()
		}
	}
	return args
}

func (s sqliteQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := s.db.ExecContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (s sqliteQ) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	r, err := s.db.QueryContext(ctx, q, sqliteArgs(args)...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (s sqliteQ) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return s.db.QueryRowContext(ctx, q, sqliteArgs(args)...)
}

// sqliteTxQ is the querier of a transaction: it prepares each statement
// once per transaction and reuses it, so a transaction that repeats its
// statements (a group commit of the archive records the same five for each
// entry) parses them once, not once per call. Parsing was a tenth of the
// CPU time of archiving small files. The statements close with the
// transaction.
type sqliteTxQ struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	rows  waitingRows // the current caller's (group.runOne)
	err   error       // a failed flush of waiting rows, reported at the end of the caller's function
}

func (s *sqliteTxQ) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[q] = st
	return st, nil
}

// cacheable: one statement (a string of several runs through Exec). A
// semicolon inside a comment or a quoted string does not end a statement:
// River's job completion on SQLite carries one in a comment, and taking it
// for two statements had its every call parsed anew (40 % of the folder
// flow's CPU).
func cacheable(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return true
			}
			i += j
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return true
			}
			i += j + 3
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := strings.IndexByte(q[i+1:], end) // a doubled quote is two strings, same end
			if j < 0 {
				return true
			}
			i += j + 1
		case c == ';':
			return strings.TrimSpace(stripComments(q[i+1:])) == ""
		}
	}
	return true
}

// stripComments drops the comments of the rest of a statement string.
func stripComments(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		switch {
		case strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j
		case strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			i += j + 3
		case q[i] == ';':
		default:
			b.WriteByte(q[i])
		}
	}
	return b.String()
}

// on returns the querier to run q with: its prepared statement, or the
// transaction itself for a string of several statements.
func (s *sqliteTxQ) on(ctx context.Context, q string) (sqliteQ, error) {
	if !cacheable(q) {
		return sqliteQ{s.tx}, nil
	}
	st, err := s.stmt(ctx, q)
	return sqliteQ{stmtExecer{st}}, err
}

// The statements of a transaction run to their end even when the
// caller's context is done: an interrupted SQLite write rolls back the
// whole transaction, which the group commit shares with other callers.

func (s *sqliteTxQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	ctx = context.WithoutCancel(ctx)
	if err := s.flushRows(ctx, q); err != nil {
		return 0, err
	}
	x, err := s.on(ctx, q)
	if err != nil {
		return 0, err
	}
	return x.exec(ctx, q, args...)
}

func (s *sqliteTxQ) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	ctx = context.WithoutCancel(ctx)
	if err := s.flushRows(ctx, q); err != nil {
		return nil, err
	}
	x, err := s.on(ctx, q)
	if err != nil {
		return nil, err
	}
	return x.query(ctx, q, args...)
}

func (s *sqliteTxQ) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	ctx = context.WithoutCancel(ctx)
	if err := s.flushRows(ctx, q); err != nil {
		return errRow{err}
	}
	x, err := s.on(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return x.queryRow(ctx, q, args...)
}

// stmtExecer runs a prepared statement; the query text is already in it.
type stmtExecer struct{ st *sql.Stmt }

func (e stmtExecer) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return e.st.ExecContext(ctx, args...)
}

func (e stmtExecer) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return e.st.QueryContext(ctx, args...)
}

func (e stmtExecer) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return e.st.QueryRowContext(ctx, args...)
}

// errRow is a row whose query failed before it ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func sqliteTranslate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return ErrConflict
		}
	}
	return err
}

type sqliteStore struct {
	queries
	db    *sql.DB
	rdb   *sql.DB // readers (see groupQ)
	path  string
	group group
}

// openSQLite opens (creating if needed) the SQLite database at path in WAL
// mode. Transactions begin IMMEDIATE so that a writer never has to upgrade a
// read lock, and a busy timeout lets a second process (the CLI while the
// server runs) wait its turn instead of failing.
func openSQLite(ctx context.Context, path string, o options) (Store, error) {
	if path == "" {
		return nil, fmt.Errorf("store: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("store: database folder %s: %w", dir, err)
		}
	}
	v := url.Values{}
	v.Add("_pragma", "busy_timeout(15000)")
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "synchronous(FULL)")
	v.Add("_pragma", "foreign_keys(1)")
	// Savepoints (one per transaction of a group commit) and statements
	// keep the pages they change in a journal of their own so they can
	// roll back alone; in a temporary file that was a write(2) of every
	// page a savepoint first touched, a sixth of the CPU of a burst.
	// In memory it is a copy.
	v.Add("_pragma", "temp_store(MEMORY)")
	v.Set("_txlock", "immediate")
	db, err := sql.Open("wharf-sqlite", "file:"+path+"?"+v.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// SQLite allows one writer at a time; River's SQLite driver recommends a
	// single connection, and so does our own use of transactions.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// Readers: a pool beside the writer (WAL lets them read while it
	// writes), query_only so that nothing can write through it.
	r := url.Values{}
	r.Add("_pragma", "busy_timeout(15000)")
	r.Add("_pragma", "query_only(1)")
	rdb, err := sql.Open("wharf-sqlite", "file:"+path+"?"+r.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	s := &sqliteStore{db: db, rdb: rdb, path: path}
	// Writes outside a transaction join the group commit too; reads go
	// straight to the database.
	s.queries = queries{q: groupQ{sqliteQ: sqliteQ{db}, read: sqliteQ{rdb}, s: s}, translate: sqliteTranslate, atomic: s.atomic, clock: o.clock, draws: &draws{}}
	s.group = group{db: db, newTx: s.newTx}
	begin := func(ctx context.Context) (querier, func(bool) error, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		return sqliteQ{tx}, func(commit bool) error {
			if commit {
				return tx.Commit()
			}
			return tx.Rollback()
		}, nil
	}
	if err := migrate(ctx, "sqlite", begin, "", sqliteTranslate); err != nil {
		rdb.Close()
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteStore) atomic(ctx context.Context, fn func(*queries) error) error {
	return s.WithTx(ctx, func(tx Tx) error { return fn(&tx.(*sqliteTx).queries) })
}

type sqliteTx struct {
	queries
	tx *sql.Tx
	tq *sqliteTxQ
}

// Raw is the transaction for the job runtime's statements, which see the
// waiting rows (a failed flush fails the caller's function at its end).
func (t *sqliteTx) Raw() any {
	_ = t.tq.flushRows(context.Background(), "") // an error is kept for end
	return t.tx
}

// end ends the current caller's writes: its waiting rows are written when
// ok (its function succeeded), dropped otherwise. It returns what failed.
func (t *sqliteTx) end(ok bool) error {
	q := t.tq
	err := q.err
	if ok && err == nil {
		err = q.flushRows(context.Background(), "")
	}
	q.err = nil // the next caller's function starts clean
	q.rows.drop()
	return err
}

// WithTx runs fn in a transaction that concurrent callers may share (see
// group): it returns once fn's writes committed, or with fn's error and
// none of them.
func (s *sqliteStore) WithTx(ctx context.Context, fn func(Tx) error) error {
	return s.group.do(ctx, &groupCall{ctx: ctx, fn: fn})
}

// WithTxMerged writes item with the other calls for m of the same group
// commit (Merger).
func (s *sqliteStore) WithTxMerged(ctx context.Context, m *Merge, item any) error {
	return s.group.do(ctx, &groupCall{ctx: ctx, merge: m, item: item})
}

func (s *sqliteStore) newTx(tx *sql.Tx) *sqliteTx {
	t := &sqliteTx{tx: tx, tq: &sqliteTxQ{tx: tx}}
	t.queries = queries{q: t.tq, translate: sqliteTranslate, clock: s.queries.clock}
	t.queries.atomic = func(ctx context.Context, fn func(*queries) error) error { return fn(&t.queries) }
	return t
}

// groupQ is the store's querier outside transactions: a write is a
// transaction of its own in the group commit.
type groupQ struct {
	sqliteQ         // the writer's connection
	read    sqliteQ // the readers' pool
	s       *sqliteStore
}

// isRead tells a statement that only reads (a SELECT) from one that
// writes (INSERT ... RETURNING, UPDATE ... RETURNING).
func isRead(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// Reads outside a transaction go to the readers' pool: in WAL mode they
// run beside the writer, on another core, instead of queueing for the one
// writer connection behind every commit. They see what has committed.
func (g groupQ) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	if isRead(q) {
		return g.read.query(ctx, q, args...)
	}
	return g.sqliteQ.query(ctx, q, args...)
}

// queryRow of a write (an INSERT or UPDATE ... RETURNING) joins the group
// commit like exec; the row is scanned inside the transaction.
func (g groupQ) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	if isRead(q) {
		return g.read.queryRow(ctx, q, args...)
	}
	return groupRow{g: g, ctx: ctx, q: q, args: args}
}

type groupRow struct {
	g    groupQ
	ctx  context.Context
	q    string
	args []any
}

func (r groupRow) Scan(dest ...any) error {
	return r.g.s.WithTx(r.ctx, func(tx Tx) error {
		return tx.(*sqliteTx).queries.q.queryRow(r.ctx, r.q, r.args...).Scan(dest...)
	})
}

func (g groupQ) exec(ctx context.Context, q string, args ...any) (n int64, err error) {
	err = g.s.WithTx(ctx, func(tx Tx) error {
		n, err = tx.(*sqliteTx).queries.q.exec(ctx, q, args...)
		return err
	})
	return n, err
}

func (s *sqliteStore) Driver() string                 { return "sqlite" }
func (s *sqliteStore) Handle() any                    { return s.db }
func (s *sqliteStore) Describe() string               { return "sqlite " + s.path }
func (s *sqliteStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }
func (s *sqliteStore) Close() error {
	s.rdb.Close()
	return s.db.Close()
}

// WriterStats is what SQLite's one writer did since the store opened: the
// time it ran transactions (the group commit's batches: their statements
// and their commits, the WAL's fsync included), how many batches it
// committed and how many WithTx calls they held. Busy time that grows as
// fast as the clock means the writer is what bounds Wharf's throughput.
func (s *sqliteStore) WriterStats() (busy time.Duration, commits, txs int64) {
	return time.Duration(s.group.busy.Load()), s.group.commits.Load(), s.group.txs.Load()
}

func (s *sqliteStore) Maintain(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);`); err != nil {
		return fmt.Errorf("store: maintain %s: %w", s.path, err)
	}
	return nil
}
