package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
)

// Drivers names the store drivers every store-backed test runs against.
var Drivers = []string{"SQLite", "Postgres"}

// DSN returns the address of a fresh, empty database of the driver: a
// SQLite file in the test's temporary folder, or a PostgreSQL schema.
func DSN(t testing.TB, driver string) string {
	t.Helper()
	if driver == "Postgres" {
		return Postgres(t)
	}
	return filepath.Join(t.TempDir(), "wharf.db")
}

// OpenStore opens a fresh store of the driver, closed when the test ends.
// A test that injects a clock into the code under test passes the same
// clock here (store.WithClock), so the store's own timestamps agree with it.
func OpenStore(t testing.TB, driver string, opts ...store.Option) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), DSN(t, driver), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// EachStore runs f as a subtest per driver, each with a fresh store opened
// with opts.
func EachStore(t *testing.T, f func(t *testing.T, st store.Store), opts ...store.Option) {
	for _, d := range Drivers {
		t.Run(d, func(t *testing.T) { f(t, OpenStore(t, d, opts...)) })
	}
}
