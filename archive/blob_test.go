package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/archive/blobtest"
	"github.com/wharfedi/wharf/internal/durable"
	"github.com/wharfedi/wharf/internal/flowtest"
)

// The suite finds the filesystem store's temporary folder by this method.
var _ blobtest.TempDirer = (*archive.FS)(nil)

func TestFSBlobStore(t *testing.T) {
	blobtest.Exercise(t, func(t *testing.T) archive.BlobStore {
		dir := t.TempDir()
		s, err := archive.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { checkFSBlobs(t, dir) })
		return s
	})
}

func TestSpoolBlobStore(t *testing.T) {
	blobtest.Exercise(t, func(t *testing.T) archive.BlobStore {
		dir := t.TempDir()
		s, err := archive.NewSpool(dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Kind() != "spool" {
			t.Fatalf("spool kind %q", s.Kind())
		}
		t.Cleanup(func() { checkFSBlobs(t, dir) })
		return s
	})
}

// checkFSBlobs: outside its .tmp folder, a filesystem store holds blobs
// only, each under the sha256 of its bytes (no leftovers of failed or
// concurrent Puts).
func checkFSBlobs(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == ".tmp" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == ".spool-id" { // a spool's name (NewSpool)
			return nil
		}
		name := filepath.Base(p)
		if want := filepath.Join("sha256", name[:min(2, len(name))], name); rel != want && !strings.HasSuffix(rel, string(filepath.Separator)+want) {
			t.Errorf("stray file %s in the blob folder", rel)
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != name {
			t.Errorf("blob %s holds bytes with sha256 %s", rel, got)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A folder archive shares flushes of its file system where the system has
// syncfs, unless told to fsync each file; either way a Put's blob is there
// and reads back.
func TestFolderArchiveFlushOrFsyncEach(t *testing.T) {
	for _, each := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync_each=%v", each), func(t *testing.T) {
			a := flowtest.Open(t, "SQLite", archive.Options{FsyncEach: each}, "acme").Archive
			if want := durable.CanSyncFS && !each; (a.Flush() != "") != want {
				t.Fatalf("flush %q, want a flush: %v", a.Flush(), want)
			}
			e, err := a.Put(context.Background(), strings.NewReader("ISA*00~"), archive.Meta{Partner: "acme", Transport: "folder", RemoteName: "a.edi"})
			if err != nil {
				t.Fatal(err)
			}
			rc, _, err := a.Get(context.Background(), e.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(b) != "ISA*00~" {
				t.Fatalf("read back %q, %v", b, err)
			}
		})
	}
}

// A crash between a small blob's link and the flush of its group commit may
// leave a torn file under the blob's name (no index row points to it): the
// next Put of that content finds it by its hash, replaces it, and reads
// back the right bytes.
func TestTornSmallBlobReplaced(t *testing.T) {
	dir := t.TempDir()
	blobs, err := archive.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := flowtest.Open(t, "SQLite", archive.Options{Blobs: blobs}, "acme").Archive
	body := "ISA*00*torn~"
	hexSum := sum(body)
	p := filepath.Join(dir, "sha256", hexSum[:2], hexSum)
	os.MkdirAll(filepath.Dir(p), 0o750)
	if err := os.WriteFile(p, make([]byte, len(body)), 0o640); err != nil { // the same size, zeros
		t.Fatal(err)
	}
	e := put(t, a, body, archive.Meta{Partner: "acme", Transport: "folder", RemoteName: "a.edi"})
	if b := get(t, a, e.ID); b != body {
		t.Fatalf("read back %q; want the content, not the torn blob", b)
	}
}
