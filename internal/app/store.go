package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
)

// PrepareData creates the data folder if needed and proves it is writable.
func PrepareData(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data folder %s: %v (choose another with --data or WHARF_DATA)", dir, UnwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data folder %s is not writable: %v (choose another with --data or WHARF_DATA)", dir, UnwrapPath(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// UnwrapPath drops the path an *fs.PathError repeats, for messages that
// name the path themselves.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// OpenStore opens the configured database: PostgreSQL when a URL is set,
// otherwise SQLite inside the data folder (created if needed).
func OpenStore(ctx context.Context, c *config.Config, opts ...store.Option) (store.Store, error) {
	dsn, err := c.DatabaseURL()
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		if err := PrepareData(c.Data); err != nil {
			return nil, err
		}
		dsn = c.SQLitePath()
	}
	st, err := store.Open(ctx, dsn, opts...)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// AbsPath is p made absolute when possible, for messages and logs.
func AbsPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Validate checks a loaded configuration against what the application
// knows beyond the file's own rules: the jobs a schedule can name, the sync
// routes and tolerances. Errors name the file, line and field.
func Validate(c *config.Config) error {
	return c.Validate(config.ValidateOptions{Jobs: TaskNames(), Sync: ValidateSync, Tolerance: ValidateTolerance})
}

// syncPartners upserts the partners declared in the config file; partners
// added with the CLI stay as they are.
func syncPartners(ctx context.Context, c *config.Config, st store.Store, log *slog.Logger) error {
	ps, err := c.StorePartners()
	if err != nil {
		return err
	}
	return st.WithTx(ctx, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.UpsertPartner(ctx, p); err != nil {
				return fmt.Errorf("config partner %s: %w", p.ID, err)
			}
		}
		if len(ps) > 0 {
			log.Info("partners from config applied", "count", len(ps))
		}
		return nil
	})
}

// lockData takes the data folder's server lock: one `wharf serve` per
// SQLite data folder (the CLI does not take it). The lock is released by
// the kernel when the process exits, however it exits.
func lockData(dir string) (release func(), err error) {
	path := filepath.Join(dir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %v", dir, UnwrapPath(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data folder %s is in use by another wharf serve (pid %s): stop it, or use another --data", dir, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("data folder %s: lock: %v", dir, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
