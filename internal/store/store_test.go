package store_test

import (
	"path/filepath"
	"testing"

	"github.com/wharfedi/wharf/internal/store/storetest"
	"github.com/wharfedi/wharf/internal/testenv"
)

func TestSQLite(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "wharf.db") })
}

func TestPostgres(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) string { return testenv.Postgres(t) })
}
