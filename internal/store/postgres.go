package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

type pgExecer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQ struct{ db pgExecer }

func (p pgQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := p.db.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (p pgQ) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	r, err := p.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p pgQ) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	return p.db.QueryRow(ctx, q, args...)
}

func pgTranslate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return ErrConflict
	}
	return err
}

type pgStore struct {
	queries
	pool  *pgxpool.Pool
	desc  string
	group *pgGroup
}

// RedactURL returns a PostgreSQL connection string without its password,
// for logs and messages. Both forms are handled: a postgres:// URL (the
// password in the user info and a password or sslpassword query parameter)
// and a libpq keyword/value string ("host=db user=wharf password=secret",
// quoted values included). A string that looks like either but cannot be
// read is replaced by a placeholder rather than echoed.
func RedactURL(dsn string) string {
	switch {
	case isPostgresURL(dsn):
		return redactURLForm(dsn)
	case looksKeywordDSN(dsn):
		return redactKeywordForm(dsn)
	case strings.Contains(dsn, "://"): // another scheme, named in a message
		return redactURLForm(dsn)
	case strings.Contains(dsn, "="):
		return redactKeywordForm(dsn)
	case strings.Contains(dsn, "@"): // user:password@host without a scheme
		return "(unparseable database URL)"
	}
	return dsn // a file path
}

func redactKeywordForm(dsn string) string {
	pairs, err := parseKeywordDSN(dsn)
	if err != nil || len(pairs) == 0 {
		return "(unparseable database connection string)"
	}
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if secretKey(p.key) {
			b.WriteString(dsn[last:p.start])
			b.WriteString("xxxxx")
			last = p.end
		}
	}
	b.WriteString(dsn[last:])
	return b.String()
}

func redactURLForm(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable database URL)"
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			raw, _, _ := strings.Cut(p, "=")
			if k, err := url.QueryUnescape(raw); err != nil || secretKey(k) {
				parts[i] = raw + "=xxxxx"
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	u.Fragment, u.RawFragment = "", "" // a password with a # in it, unescaped
	return u.Redacted()
}

// InspectDSN reports whether dsn names a PostgreSQL database (rather than
// a SQLite file) and whether it holds a password. A postgres:// or
// postgresql:// URL and a libpq keyword/value string whose first keyword is
// a connection parameter ("host=db user=wharf dbname=wharf") name
// PostgreSQL. err, never holding the password, says why a string of either
// form cannot be read.
func InspectDSN(dsn string) (postgres, password bool, err error) {
	switch {
	case isPostgresURL(dsn):
		u, err := url.Parse(dsn)
		if err != nil {
			return true, false, errors.New("not a valid URL")
		}
		_, password = u.User.Password()
		for k := range u.Query() {
			password = password || secretKey(k)
		}
		return true, password, nil
	case looksKeywordDSN(dsn):
		pairs, err := parseKeywordDSN(dsn)
		if err != nil {
			return true, false, err
		}
		for _, p := range pairs {
			password = password || secretKey(p.key)
		}
		return true, password, nil
	}
	return false, false, nil
}

func isPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func secretKey(k string) bool {
	return strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")
}

// libpqKeywords are the connection parameters a keyword/value string may
// start with (https://www.postgresql.org/docs/current/libpq-connect.html).
var libpqKeywords = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslsni": true, "sslnegotiation": true, "service": true, "target_session_attrs": true,
	"search_path": true, "pool_max_conns": true, "pool_min_conns": true,
}

// looksKeywordDSN reports whether s starts with "keyword=" for a libpq
// connection parameter (a SQLite file path does not).
func looksKeywordDSN(s string) bool {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	k, _, ok := strings.Cut(s, "=")
	return ok && libpqKeywords[strings.TrimRight(k, " \t\n\r\v\f")]
}

type dsnPair struct {
	key, value string
	start, end int // the value's span in the string, quotes included
}

// parseKeywordDSN reads a libpq keyword/value connection string: pairs
// separated by white space, white space allowed around "=", a value quoted
// with single quotes or not, backslash escaping the next character.
func parseKeywordDSN(s string) ([]dsnPair, error) {
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	var out []dsnPair
	for i := 0; ; {
		for i < len(s) && space(s[i]) {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		k := i
		for i < len(s) && s[i] != '=' && !space(s[i]) {
			i++
		}
		key := s[k:i]
		for i < len(s) && space(s[i]) {
			i++
		}
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, errors.New("not a keyword=value connection string")
		}
		i++
		for i < len(s) && space(s[i]) {
			i++
		}
		start := i
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				} else if s[i] == '\'' {
					closed = true
					i++
					break
				}
				v.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("the value of %s has no closing quote", key)
			}
		} else {
			for ; i < len(s) && !space(s[i]); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
			}
		}
		out = append(out, dsnPair{key: key, value: v.String(), start: start, end: i})
	}
}

func openPostgres(ctx context.Context, dsn string, o options) (Store, error) {
	desc := "postgres " + RedactURL(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", desc, errors.New("invalid connection string (expected postgres://USER[:PASSWORD]@HOST:PORT/DATABASE or host=HOST port=PORT user=USER dbname=DATABASE)"))
	}
	if err := applyHostaddr(dsn, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("store: %s: %w", desc, err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second // an unroutable host must not hang start-up
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", desc, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: cannot reach %s: %w", desc, err)
	}
	s := &pgStore{pool: pool, desc: desc}
	s.group = &pgGroup{s: s}
	s.queries = queries{q: pgQ{pool}, translate: pgTranslate, atomic: s.atomic, forUpdate: " FOR UPDATE", clock: o.clock, micros: pgMicros, draws: &draws{}}
	begin := func(ctx context.Context) (querier, func(bool) error, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return nil, nil, err
		}
		return pgQ{tx}, func(commit bool) error {
			if commit {
				return tx.Commit(ctx)
			}
			return tx.Rollback(ctx)
		}, nil
	}
	// The advisory lock serialises concurrent migrators on one database.
	if err := migrate(ctx, "postgres", begin, `SELECT pg_advisory_xact_lock(7253330718)`, pgTranslate); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// applyHostaddr gives libpq's hostaddr its meaning, which pgx does not
// know (it would send it to the server as a setting, which refuses it):
// the numeric address to connect to, without a name lookup. With a host
// too, the host still names the server (TLS verification); alone, it is
// the host.
func applyHostaddr(dsn string, c *pgx.ConnConfig) error {
	addr, ok := c.RuntimeParams["hostaddr"]
	if !ok {
		return nil
	}
	delete(c.RuntimeParams, "hostaddr")
	if strings.Contains(addr, ",") {
		return errors.New("hostaddr lists several addresses: Wharf takes one (or list the servers in host)")
	}
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("hostaddr %q is not a numeric IP address (a name goes in host)", addr)
	}
	if !dsnNamesHost(dsn) {
		c.Host = addr
		return nil
	}
	c.LookupFunc = func(context.Context, string) ([]string, error) { return []string{addr}, nil }
	return nil
}

// dsnNamesHost reports whether dsn gives a host (pgx puts a default in
// its place when it does not).
func dsnNamesHost(dsn string) bool {
	if isPostgresURL(dsn) {
		u, err := url.Parse(dsn)
		return err == nil && (u.Hostname() != "" || u.Query().Get("host") != "")
	}
	pairs, _ := parseKeywordDSN(dsn)
	for _, p := range pairs {
		if p.key == "host" && p.value != "" {
			return true
		}
	}
	return false
}

// poolBatcher returns the PostgreSQL pool behind q: q is the store's,
// outside any transaction.
func poolBatcher(q querier) (batchSender, bool) {
	if p, ok := q.(pgQ); ok {
		pool, ok := p.db.(*pgxpool.Pool)
		return pool, ok
	}
	return nil, false
}

// countersPG runs NextCounters' statement on the pool in one round trip,
// and returns once the draw is durable, as any write does, without holding
// the partner's counter rows through the flush to disk. The rows are one
// hot spot: every acknowledgment for the partner increments them, and a
// draw committed on its own held them until its WAL flush, so the draws
// took turns at the disk's pace. Here the increment commits in a
// transaction that does not wait for its flush (SET LOCAL
// synchronous_commit), which releases the rows at once; a second
// transaction, which waits, flushes the write-ahead log up to its own
// commit, the increment's included (the log is flushed in order); it
// writes nothing, but txid_current() gives it a transaction ID, without
// which its commit would write and flush no record. Concurrent draws
// share those flushes. A failure anywhere (a crash before the flush, a
// lost connection) returns an error, and the numbers are not used: a gap,
// never a repeat.
func countersPG(ctx context.Context, sb batchSender, q string, args []any, read func(rowsIter) error) error {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit TO OFF`)
	b.Queue(q, args...)
	b.Queue(`COMMIT`)
	b.Queue(`SELECT txid_current()`) // the batch's implicit transaction, committed (and flushed) at its end
	br := sb.SendBatch(ctx, b)
	var err error
	exec := func() {
		if err == nil {
			_, err = br.Exec()
		}
	}
	exec() // BEGIN
	exec() // SET LOCAL
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			err = read(rows)
		}
	}
	exec() // COMMIT
	exec() // txid_current()
	if cerr := br.Close(); err == nil {
		err = cerr // the flushing transaction's commit
	}
	return err
}

func (s *pgStore) atomic(ctx context.Context, fn func(*queries) error) error {
	return s.WithTx(ctx, func(tx Tx) error { return fn(&tx.(*pgTx).queries) })
}

type pgTx struct {
	queries
	tq *pgTxQ
}

// Raw is the transaction for the job runtime's statements (River's
// pgx.Tx), which go to the server after the ones waiting in the
// transaction, its BEGIN first.
func (t *pgTx) Raw() any {
	_ = t.tq.flush(context.Background()) // an error is kept: the commit reports it
	return connTx{conn: t.tq.conn, detached: t.tq.shared}
}

func (s *pgStore) newTx(c *pgx.Conn) *pgTx {
	t := &pgTx{tq: &pgTxQ{conn: c, failedAt: -1}}
	t.tq.later = []laterStmt{{label: "store: begin", sql: "BEGIN"}}
	t.queries = queries{q: t.tq, translate: pgTranslate, forUpdate: " FOR UPDATE", clock: s.queries.clock, micros: pgMicros}
	t.queries.atomic = func(ctx context.Context, fn func(*queries) error) error { return fn(&t.queries) }
	return t
}

func (s *pgStore) WithTx(ctx context.Context, fn func(Tx) error) error {
	if !alone(ctx) {
		return s.group.do(ctx, &groupCall{ctx: ctx, fn: fn})
	}
	return s.withOwnTx(ctx, fn)
}

func (s *pgStore) withOwnTx(ctx context.Context, fn func(Tx) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", pgTranslate(err))
	}
	// The connection goes back to the pool after the transaction ended,
	// whichever way; one still in a transaction (the rollback failed too)
	// is closed by the pool instead.
	defer c.Release()
	t := s.newTx(c.Conn())
	if err := fn(t); err != nil {
		t.tq.rollback(ctx)
		return err
	}
	if err := t.tq.commit(ctx); err != nil {
		t.tq.rollback(ctx)
		return err
	}
	return nil
}

// pgTxQ is the querier of a PostgreSQL transaction. A write whose answer
// nobody needs (queries.execLater: keys, references, history, outbox
// events, records that insert or do nothing) waits in it, and goes to the
// server in one pgx batch with the transaction's next statement, or with
// its COMMIT: a round trip saved for each. The BEGIN itself waits so, and
// a transaction that sends nothing costs no round trip at all. Every
// statement sees the writes before it, as the waiting ones go first. A
// waiting write that fails fails the statement it went with, named in the
// error, and the transaction, as it would have failed it alone.
//
// Rows of insertLater wait longer (waitingRows).
type pgTxQ struct {
	conn  *pgx.Conn
	later []laterStmt
	rows  waitingRows
	begun bool  // the BEGIN went to the server
	err   error // a failed flush for Raw, reported by the next statement or the commit

	// In a transaction shared by several calls (pgGroup):
	shared   bool  // statements run without their caller's cancellation
	sent     int   // statements sent so far, the BEGIN first
	failedAt int   // the place of the waiting write that failed (-1: none)
	failErr  error // its error
}

// ctx is the context a statement of the transaction runs with.
func (p *pgTxQ) ctx(ctx context.Context) context.Context { return detach(ctx, p.shared) }

// detach is ctx without its cancellation when the statement is a shared
// transaction's (pgGroup).
func detach(ctx context.Context, shared bool) context.Context {
	if shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// due moves the waiting rows that statement q may see (every one when q
// is "") to the waiting writes, as multi-row INSERTs.
func (p *pgTxQ) due(q string) {
	p.later = append(p.later, p.rows.take(q)...)
}

type laterStmt struct {
	label, sql string
	args       []any
}

// send sends the waiting writes and then q (when not ""), and reads the
// writes' results: the batch is left to read q's.
func (p *pgTxQ) send(ctx context.Context, q string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	for _, l := range p.later {
		b.Queue(l.sql, l.args...)
	}
	if q != "" {
		b.Queue(q, args...)
	}
	later := p.later
	p.later = nil
	p.begun = true
	base := p.sent
	p.sent += b.Len()
	br := p.conn.SendBatch(p.ctx(ctx), b)
	for i, l := range later {
		if _, err := br.Exec(); err != nil {
			br.Close()
			err = fmt.Errorf("%s: %w", l.label, err)
			if p.failedAt < 0 {
				p.failedAt, p.failErr = base+i, err
			}
			return nil, err
		}
	}
	return br, nil
}

// commit sends the waiting writes and the COMMIT in one batch: the
// transaction's last round trip is its commit's (its only one, for a
// transaction that had nothing to wait for; none for one that sent nothing).
func (p *pgTxQ) commit(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	p.due("")
	if !p.begun && len(p.later) == 1 { // only the BEGIN waits: nothing was written or read
		p.later = nil
		return nil
	}
	br, err := p.send(ctx, "COMMIT", nil)
	if err != nil {
		return err // named by the write that failed
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && tag.String() == "ROLLBACK" {
		// PostgreSQL answers the COMMIT of a transaction a statement
		// failed in with a rollback, and no error: the function went past
		// that statement's error.
		err = errors.New("a statement of the transaction failed, so PostgreSQL rolled it back")
	}
	if err != nil {
		return fmt.Errorf("store: commit: %w", pgTranslate(err))
	}
	return nil
}

// rollback ends a transaction that failed: what waits is dropped, and what
// the server holds is rolled back (after a failed COMMIT it holds nothing,
// and the ROLLBACK only draws a warning).
func (p *pgTxQ) rollback(ctx context.Context) {
	p.later = nil
	p.rows.drop()
	if p.begun {
		_, _ = p.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
}

// flush sends the waiting writes, rows included.
func (p *pgTxQ) flush(ctx context.Context) error {
	p.due("")
	if p.err != nil || len(p.later) == 0 {
		return p.err
	}
	br, err := p.send(ctx, "", nil)
	if err == nil {
		err = br.Close()
	}
	p.err = err
	return err
}

func (p *pgTxQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	p.due(q)
	if p.err != nil {
		return 0, p.err
	}
	if len(p.later) == 0 {
		p.sent++
		return pgQ{p.conn}.exec(p.ctx(ctx), q, args...)
	}
	br, err := p.send(ctx, q, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (p *pgTxQ) query(ctx context.Context, q string, args ...any) (rowsIter, error) {
	p.due(q)
	if p.err != nil {
		return nil, p.err
	}
	if len(p.later) == 0 {
		p.sent++
		return pgQ{p.conn}.query(p.ctx(ctx), q, args...)
	}
	br, err := p.send(ctx, q, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{rows, br}, nil
}

func (p *pgTxQ) queryRow(ctx context.Context, q string, args ...any) rowScanner {
	p.due(q)
	if p.err != nil {
		return errRow{p.err}
	}
	if len(p.later) == 0 {
		p.sent++
		return pgQ{p.conn}.queryRow(p.ctx(ctx), q, args...)
	}
	br, err := p.send(ctx, q, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

// batchRow is the row of a batch's last statement.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchRows are the rows of a batch's last statement: closing them ends
// the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// connTx is a transaction of the store as the pgx.Tx River's driver runs
// its statements in (InsertTx, JobCompleteTx): the connection, already in
// the transaction WithTx began and ends. Begin makes a savepoint inside
// it; the transaction itself is not River's to commit or roll back.
type connTx struct {
	conn     *pgx.Conn
	detached bool // a shared transaction's: its statements run without their caller's cancellation
}

func (t connTx) ctx(ctx context.Context) context.Context { return detach(ctx, t.detached) }

var errNotRivers = errors.New("store: the transaction is the store's: WithTx commits or rolls it back")

func (t connTx) Begin(ctx context.Context) (pgx.Tx, error) { return newSavepoint(t.ctx(ctx), t, 1) }
func (t connTx) Commit(context.Context) error              { return errNotRivers }
func (t connTx) Rollback(context.Context) error            { return errNotRivers }
func (t connTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return t.conn.CopyFrom(t.ctx(ctx), table, cols, src)
}
func (t connTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(t.ctx(ctx), b)
}
func (t connTx) LargeObjects() pgx.LargeObjects { panic("store: large objects are not used") }
func (t connTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Prepare(t.ctx(ctx), name, sql)
}
func (t connTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.conn.Exec(t.ctx(ctx), sql, args...)
}
func (t connTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.conn.Query(t.ctx(ctx), sql, args...)
}
func (t connTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.conn.QueryRow(t.ctx(ctx), sql, args...)
}
func (t connTx) Conn() *pgx.Conn { return t.conn }

// savepoint is a transaction nested in a connTx (River's Begin on it).
type savepoint struct {
	connTx
	depth  int
	closed bool
}

func newSavepoint(ctx context.Context, t connTx, depth int) (*savepoint, error) {
	if _, err := t.conn.Exec(ctx, fmt.Sprintf("SAVEPOINT wharf_sp_%d", depth)); err != nil {
		return nil, err
	}
	return &savepoint{connTx: t, depth: depth}, nil
}

func (s *savepoint) Begin(ctx context.Context) (pgx.Tx, error) {
	return newSavepoint(s.ctx(ctx), s.connTx, s.depth+1)
}

func (s *savepoint) Commit(ctx context.Context) error   { return s.end(ctx, "RELEASE SAVEPOINT") }
func (s *savepoint) Rollback(ctx context.Context) error { return s.end(ctx, "ROLLBACK TO SAVEPOINT") }

// end releases or rolls back the savepoint, once.
func (s *savepoint) end(ctx context.Context, verb string) error {
	if s.closed {
		return pgx.ErrTxClosed
	}
	s.closed = true
	_, err := s.conn.Exec(s.ctx(ctx), fmt.Sprintf("%s wharf_sp_%d", verb, s.depth))
	return err
}

func (s *pgStore) Driver() string                 { return "postgres" }
func (s *pgStore) Handle() any                    { return s.pool }
func (s *pgStore) Describe() string               { return s.desc }
func (s *pgStore) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }
func (s *pgStore) Close() error                   { s.pool.Close(); return nil }

func (s *pgStore) Maintain(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("store: maintain %s: %w", s.desc, err)
	}
	return nil
}

// pgMicros is a timestamptz as unix microseconds.
const pgMicros = "CAST(EXTRACT(EPOCH FROM %s) * 1000000 AS BIGINT)"

var (
	_ pgx.Tx = connTx{}
	_ pgx.Tx = (*savepoint)(nil)
)
