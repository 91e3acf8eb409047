package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// TestQueryPlans checks that the archive's lookups of messages by content
// are answered from the index messages_content, and the spooled messages
// from messages_spooled, on both databases, not by reading every message:
// the duplicate lookup runs for every file received, the count for every
// purge, the spool's look every 30 seconds. (PostgreSQL is told not to scan, as
// a test's few rows would make a scan its choice; the plan says whether
// the index can answer.)
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	sum := strings.Repeat("ab", 32)
	queries := []struct {
		name, sql, index string
		args             []any
	}{
		{"FirstWithContents", store.FirstWithContentsSQL, "messages_content", []any{"acme", sum, "beta", sum}},
		{"CountBlobRefs", store.CountBlobRefsSQL, "messages_content", []any{"sha256/ab/" + sum, sum}},
		{"MessagesWithBlobPrefix", store.SpooledSQL, "messages_spooled", []any{"spool:%"}},
	}
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		for _, q := range queries {
			var plan []string
			switch h := st.Handle().(type) {
			case *sql.DB:
				rows, err := h.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, detail)
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			case *pgxpool.Pool:
				tx, err := h.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
				rows, err := tx.Query(ctx, "EXPLAIN "+q.sql, q.args...)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var line string
					if err := rows.Scan(&line); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, line)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				_ = tx.Rollback(ctx)
			default:
				t.Fatalf("unknown store handle %T", h)
			}
			all := strings.Join(plan, "\n")
			if !strings.Contains(all, q.index) {
				t.Errorf("%s: the plan does not use %s:\n%s", q.name, q.index, all)
			}
			for _, line := range plan {
				line = strings.TrimSpace(line)
				sqliteScan := (strings.HasPrefix(line, "SCAN m ") || line == "SCAN m" || strings.HasPrefix(line, "SCAN messages")) && !strings.Contains(line, "USING")
				if sqliteScan || strings.Contains(line, "Seq Scan on messages") {
					t.Errorf("%s: the plan reads every message:\n%s", q.name, all)
				}
			}
		}
	})
}
