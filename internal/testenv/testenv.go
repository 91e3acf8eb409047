// Package testenv gives tests the real services they need (PostgreSQL now;
// S3, OpenSSH and the AS2 peers as their issues land), isolated per test.
//
// When a service is missing a test skips with a message naming what to
// start, unless CI=true, where it fails: CI must run every test.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// InCI reports whether tests run under CI (CI=true), where missing services fail tests.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test (or fails it in CI) because a service is absent.
func Missing(t testing.TB, service, howToStart string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required in CI but unavailable: %v\n(to start it: %s)", service, err, howToStart)
	}
	t.Skipf("skipping: %s unavailable (%v); to run this test: %s", service, err, howToStart)
}

// DefaultPostgresURL is used when WHARF_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresAdminURL returns the URL of the PostgreSQL server tests may create schemas in.
func PostgresAdminURL() string {
	if u := os.Getenv("WHARF_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

const pgHint = "start PostgreSQL on 127.0.0.1:5432 with trust auth, or set WHARF_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB"

// Postgres creates a fresh schema for this test and returns a database URL
// whose search_path selects it. The schema is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		Missing(t, "PostgreSQL", pgHint, err)
		return ""
	}
	defer conn.Close(ctx)
	schema := "wharf_test_" + randHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testenv: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("testenv: drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(admin, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
