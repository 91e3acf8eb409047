package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestWriterStats: the writer counts its commits, the transactions they
// held and the time it ran them.
func TestWriterStats(t *testing.T) {
	ctx := context.Background()
	st, err := openSQLite(ctx, filepath.Join(t.TempDir(), "wharf.db"),
		options{clock: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqliteStore)
	busy0, commits0, txs0 := s.WriterStats()
	for range 3 {
		if err := s.WithTx(ctx, func(tx Tx) error { _, err := tx.NextCounter(ctx, "p", "a"); return err }); err != nil {
			t.Fatal(err)
		}
	}
	busy, commits, txs := s.WriterStats()
	if commits-commits0 != 3 || txs-txs0 != 3 || busy <= busy0 {
		t.Fatalf("after 3 transactions one after the other: %d commits, %d transactions, busy %v -> %v", commits-commits0, txs-txs0, busy0, busy)
	}
}
