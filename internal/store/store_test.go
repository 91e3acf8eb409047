package store_test

import (
	"testing"

	"github.com/wharfedi/wharf/internal/store/storetest"
	"github.com/wharfedi/wharf/internal/testenv"
)

func TestSQLite(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) string { return testenv.DSN(t, "SQLite") })
}

func TestPostgres(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) string { return testenv.DSN(t, "Postgres") })
}
