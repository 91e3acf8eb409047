package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wharfedi/wharf/internal/testenv"
)

// BenchmarkNextCounters draws one partner's ISA13, GS06 and ST02 from
// many goroutines at once, as processing does for a partner's burst of
// files. On PostgreSQL, "one statement" is the draw as it was before
// countersPG: the upsert committed on its own, which holds the partner's
// counter rows through its flush to disk, so that draws take turns at the
// disk's pace.
//
//	go test ./internal/store -run '^$' -bench NextCounters -cpu 2
func BenchmarkNextCounters(b *testing.B) {
	const upsert = `INSERT INTO counters (partner_id, name, value) VALUES ($1, 'isa13', 1), ($1, 'gs06', 1), ($1, 'st02', 1)
		ON CONFLICT (partner_id, name) DO UPDATE SET value = counters.value + 1 RETURNING name, value`
	for _, driver := range []string{"SQLite", "Postgres"} {
		b.Run(driver, func(b *testing.B) {
			st := testenv.OpenStore(b, driver)
			ctx := context.Background()
			draws := map[string]func() error{"NextCounters": func() error {
				_, err := st.NextCounters(ctx, "acme", "isa13", "gs06", "st02")
				return err
			}}
			if pool, ok := st.Handle().(*pgxpool.Pool); ok {
				draws["one statement"] = func() error {
					rows, err := pool.Query(ctx, upsert, "acme")
					if err != nil {
						return err
					}
					rows.Close()
					return rows.Err()
				}
			}
			for _, name := range []string{"NextCounters", "one statement"} {
				draw, ok := draws[name]
				if !ok {
					continue
				}
				b.Run(name, func(b *testing.B) {
					b.SetParallelism(16) // goroutines per CPU, as many files in flight
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := draw(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}
