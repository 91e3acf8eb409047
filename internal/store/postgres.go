package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
	pool *pgxpool.Pool
	desc string
}

// RedactURL returns a database URL without its password, for logs and messages.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable database URL)"
	}
	return u.Redacted()
}

func openPostgres(ctx context.Context, dsn string, o options) (Store, error) {
	desc := "postgres " + RedactURL(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", desc, errors.New("invalid URL (expected postgres://USER[:PASSWORD]@HOST:PORT/DATABASE)"))
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
	s.queries = queries{q: pgQ{pool}, translate: pgTranslate, atomic: s.atomic, forUpdate: " FOR UPDATE", clock: o.clock}
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

func (s *pgStore) atomic(ctx context.Context, fn func(*queries) error) error {
	return s.WithTx(ctx, func(tx Tx) error { return fn(&tx.(*pgTx).queries) })
}

type pgTx struct {
	queries
	tx pgx.Tx
}

func (t *pgTx) Raw() any { return t.tx }

func (s *pgStore) WithTx(ctx context.Context, fn func(Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", pgTranslate(err))
	}
	t := &pgTx{tx: tx}
	t.queries = queries{q: pgQ{tx}, translate: pgTranslate, forUpdate: " FOR UPDATE", clock: s.queries.clock}
	t.queries.atomic = func(ctx context.Context, fn func(*queries) error) error { return fn(&t.queries) }
	if err := fn(t); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", pgTranslate(err))
	}
	return nil
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
