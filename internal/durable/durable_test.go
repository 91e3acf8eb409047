package durable

import (
	"errors"
	"fmt"
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

// TestSyncFSShares: the file system flush keeps SyncDir's promise (each
// call is served by a flush that began after it) and shares flushes among
// concurrent callers; it reports a failed flush to every caller it served.
func TestSyncFSShares(t *testing.T) {
	if !CanSyncFS {
		if err := SyncFS(t.TempDir()); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("SyncFS without syncfs(2) = %v, want errors.ErrUnsupported", err)
		}
		t.Skip("no syncfs(2) on this system: SyncFS says so, checked above")
	}
	dir := t.TempDir()
	var begun atomic.Int64
	syncFS = func(path string) error {
		begun.Add(1)
		time.Sleep(2 * time.Millisecond)
		return syncfs(path)
	}
	defer func() { syncFS = syncfs }()
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x"), 0o600); err != nil {
				t.Error(err)
			}
			before := begun.Load()
			if err := SyncFS(dir); err != nil {
				t.Error(err)
			}
			if after := begun.Load(); after <= before {
				t.Errorf("SyncFS returned with no flush begun after the call (%d before, %d after)", before, after)
			}
		})
	}
	wg.Wait()
	if got := begun.Load(); got >= n || got < 1 {
		t.Errorf("%d concurrent calls made %d flushes; want them shared", n, got)
	}

	if err := SyncFS(filepath.Join(dir, "gone")); err == nil {
		t.Error("flush of a missing folder: no error")
	}
}
