package store_test

import (
	"context"
	"testing"

	"github.com/wharfedi/wharf/internal/testenv"
)

// BenchmarkNextCounters draws one partner's ISA13, GS06 and ST02 from
// many goroutines at once, as processing does for a partner's burst of
// files. On PostgreSQL a durable draw holds the counters' rows through
// its commit's flush to disk, so draws take turns at the disk's pace;
// NextCountersForArchive commits without waiting for the flush.
//
//	go test ./internal/store -run '^$' -bench NextCounters -cpu 2
func BenchmarkNextCounters(b *testing.B) {
	for _, driver := range []string{"SQLite", "Postgres"} {
		b.Run(driver, func(b *testing.B) {
			st := testenv.OpenStore(b, driver)
			ctx := context.Background()
			for _, mode := range []struct {
				name string
				next func(context.Context, string, ...string) ([]int64, error)
			}{{"durable", st.NextCounters}, {"for-archive", st.NextCountersForArchive}} {
				b.Run(mode.name, func(b *testing.B) {
					b.SetParallelism(16) // goroutines per CPU, as many files in flight
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := mode.next(ctx, "acme", "isa13", "gs06", "st02"); err != nil {
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
