package durable

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSyncDirShares checks both halves of SyncDir's promise with 64
// concurrent callers: each returns only after an fsync that began after
// its call, and they share far fewer fsyncs than one each.
func TestSyncDirShares(t *testing.T) {
	dir := t.TempDir()
	var begun atomic.Int64 // fsyncs begun, in order
	fsyncDir = func(path string) error {
		begun.Add(1)
		time.Sleep(2 * time.Millisecond) // a disk's fsync
		return syncDir(path)
	}
	defer func() { fsyncDir = syncDir }()

	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))), nil, 0o600); err != nil {
				t.Error(err)
			}
			before := begun.Load()
			if err := SyncDir(dir); err != nil {
				t.Error(err)
			}
			if after := begun.Load(); after <= before {
				t.Errorf("SyncDir returned with no fsync begun after the call (%d before, %d after)", before, after)
			}
		})
	}
	wg.Wait()
	if got := begun.Load(); got >= n || got < 1 {
		t.Errorf("%d concurrent calls made %d fsyncs; want them shared", n, got)
	}
	t.Logf("%d calls, %d fsyncs", n, begun.Load())
}

func TestSyncDirMissing(t *testing.T) {
	if err := SyncDir(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Fatal("fsync of a missing folder: no error")
	}
}
