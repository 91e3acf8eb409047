package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationsFS embed.FS

// Open opens the database named by dsn and applies pending migrations.
// A postgres:// or postgresql:// URL, or a libpq keyword/value string
// ("host=db user=wharf dbname=wharf"), selects PostgreSQL; anything else is
// the path of a SQLite database file.
func Open(ctx context.Context, dsn string, opts ...Option) (Store, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if pg, _, _ := InspectDSN(dsn); pg {
		return openPostgres(ctx, dsn, o)
	}
	return openSQLite(ctx, dsn, o)
}

// Option configures Open.
type Option func(*options)

type options struct {
	clock func() time.Time
}

// WithClock makes the store take every timestamp it writes itself
// (received_at, updated_at, created_at, event and exception times, token
// use) from now instead of the wall clock. The application passes the one
// clock it gives every stage, so a decision made with an injected clock
// (the sync engine's SLA and reconciliation cut-offs, the processor's
// acknowledgment deadlines) compares times from the same source. The
// database's own now() is never used for domain timestamps.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.clock = now }
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(driver string) ([]migration, error) {
	dir := path.Join("migrations", driver)
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %s/%s: name must be NNNN_description.sql", driver, name)
		}
		b, err := migrationsFS.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	// Versions increase; a gap is a number reserved for work on another
	// branch (each version is applied on its own, so a reserved migration
	// that lands later is still applied to databases that already have the
	// later ones).
	for i, m := range out {
		if m.version < 1 || (i > 0 && m.version == out[i-1].version) {
			return nil, fmt.Errorf("store: migrations of %s: version %d used twice or invalid (%s)", driver, m.version, m.name)
		}
	}
	return out, nil
}

// migrate applies each pending migration in its own transaction, recording
// its version in the same transaction. lock serialises concurrent migrators
// (a second process starting at the same time).
func migrate(ctx context.Context, driver string, begin func(ctx context.Context) (querier, func(bool) error, error), lock string, translate func(error) error) error {
	ms, err := loadMigrations(driver)
	if err != nil {
		return err
	}
	for _, m := range ms {
		q, end, err := begin(ctx)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", translate(err))
		}
		done, err := func() (bool, error) {
			if lock != "" {
				if _, err := q.exec(ctx, lock); err != nil {
					return false, err
				}
			}
			if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS wharf_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
				return false, err
			}
			var n int
			if err := q.queryRow(ctx, `SELECT count(*) FROM wharf_schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return false, err
			}
			if n > 0 {
				return true, nil
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return false, fmt.Errorf("%s: %w", m.name, err)
			}
			_, err := q.exec(ctx, `INSERT INTO wharf_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return false, err
		}()
		if err != nil {
			_ = end(false)
			return fmt.Errorf("store: migrate %s: %w", driver, translate(err))
		}
		if err := end(!done); err != nil {
			return fmt.Errorf("store: migrate %s: commit %s: %w", driver, m.name, translate(err))
		}
	}
	// A database written by a newer Wharf must not be used by an older one.
	q, end, err := begin(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", translate(err))
	}
	defer end(false)
	var maxV int
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM wharf_schema_migrations`).Scan(&maxV); err != nil {
		return fmt.Errorf("store: migrate: %w", translate(err))
	}
	if known := ms[len(ms)-1].version; maxV > known {
		return fmt.Errorf("store: database schema is version %d but this wharf knows only up to %d: upgrade wharf", maxV, known)
	}
	return nil
}
