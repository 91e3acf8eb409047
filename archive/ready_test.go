package archive_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/testenv"
)

// breakFolder makes dir unusable for new files even for root (a read-only
// mount or a full disk look the same to Ready): it becomes a plain file.
func breakFolder(t *testing.T, dir string) (repair func()) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadyProbesTheTemporaryFolderAndCaches(t *testing.T) {
	st := testenv.OpenStore(t, "SQLite")
	a, dir := newFSArchive(t, st, archive.Options{})
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("fresh archive not ready: %v", err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Fatalf("the probe left %v", left)
	}
	repair := breakFolder(t, filepath.Join(dir, ".tmp", "0"))
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("the answer is not reused within the TTL: %v", err)
	}
	defer archive.SetReadyTTL(time.Millisecond)()
	time.Sleep(2 * time.Millisecond)
	if err := a.Ready(ctx); err == nil {
		t.Fatal("ready with an unwritable temporary folder")
	}
	repair()
	time.Sleep(2 * time.Millisecond)
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("not ready again once writable: %v", err)
	}
}

// An S3 archive is ready while its spool is writable, even with S3 down.
func TestReadyS3FollowsTheSpool(t *testing.T) {
	defer archive.SetReadyTTL(0)()
	st := testenv.OpenStore(t, "SQLite")
	spoolDir := filepath.Join(t.TempDir(), "spool")
	a := s3Archive(t, st, archive.S3Config{Endpoint: "127.0.0.1:1", Bucket: "down"}, spoolDir)
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("S3 down but spool writable: %v", err)
	}
	breakFolder(t, filepath.Join(spoolDir, ".tmp", "0"))
	if err := a.Ready(ctx); err == nil {
		t.Fatal("ready with an unwritable spool")
	}
}
