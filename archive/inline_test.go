package archive_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// onlyReader hides a reader's Len, as a network stream does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// blobFiles lists the blob files of a folder archive.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "sha256", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A folder archive keeps blobs up to InlineMax in the index: no file, no
// temporary file; Get, Verify and purges treat them as any blob.
func TestInlineBlobs(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		a, dir := newFSArchive(t, st, archive.Options{InlineMax: 64, Now: func() time.Time { return now }})
		small := strings.Repeat("s", 64)
		e := put(t, a, small, archive.Meta{Partner: "acme", RemoteName: "po.edi"})
		if want := "db:sha256/" + e.SHA256[:2] + "/" + e.SHA256; e.BlobRef != want || e.SHA256 != sum(small) || e.Size != 64 {
			t.Fatalf("entry %+v, want blob ref %q", e.Message, want)
		}
		if files, tmps := blobFiles(t, dir), tempFiles(t, dir); len(files) != 0 || len(tmps) != 0 {
			t.Fatalf("files for a blob the index keeps: %v %v", files, tmps)
		}
		if got := get(t, a, e.ID); got != small {
			t.Fatalf("get returned %q", got)
		}
		// One byte more is a file; a stream without Len, too, and the empty one.
		big := put(t, a, small+"b", archive.Meta{Partner: "acme"})
		if !strings.HasPrefix(big.BlobRef, "fs:") || len(blobFiles(t, dir)) != 1 || get(t, a, big.ID) != small+"b" {
			t.Fatalf("65 bytes: %q, files %v", big.BlobRef, blobFiles(t, dir))
		}
		streamed, err := a.Put(ctx, onlyReader{io.MultiReader(strings.NewReader("str"), strings.NewReader("eam"))}, archive.Meta{Partner: "acme"})
		if err != nil || !strings.HasPrefix(streamed.BlobRef, "db:") || get(t, a, streamed.ID) != "stream" {
			t.Fatalf("streamed: %v %+v", err, streamed)
		}
		bigStream, err := a.Put(ctx, onlyReader{strings.NewReader(strings.Repeat("B", 200))}, archive.Meta{Partner: "acme"})
		if err != nil || !strings.HasPrefix(bigStream.BlobRef, "fs:") || get(t, a, bigStream.ID) != strings.Repeat("B", 200) {
			t.Fatalf("streamed 200 bytes: %v %+v", err, bigStream)
		}
		empty := put(t, a, "", archive.Meta{Partner: "acme"})
		if !strings.HasPrefix(empty.BlobRef, "db:") || get(t, a, empty.ID) != "" {
			t.Fatalf("empty: %q", empty.BlobRef)
		}
		// A staged file is read, not linked; a sum that is not its bytes' is refused.
		staged := filepath.Join(t.TempDir(), "staged.edi")
		os.WriteFile(staged, []byte("staged"), 0o600)
		if _, err := a.PutHashedFile(ctx, staged, sum("other"), 6, archive.Meta{Partner: "acme"}); err == nil || !strings.Contains(err.Error(), "does not hold the bytes") {
			t.Fatalf("wrong sum: %v", err)
		}
		if _, err := a.PutHashedFile(ctx, staged, sum("staged"), 5, archive.Meta{Partner: "acme"}); err == nil || !strings.Contains(err.Error(), "not the 5 hashed") {
			t.Fatalf("wrong size: %v", err)
		}
		if _, err := a.PutHashedFile(ctx, staged, "ABC", 6, archive.Meta{Partner: "acme"}); err == nil || !strings.Contains(err.Error(), "not a hex sha256") {
			t.Fatalf("malformed sum: %v", err)
		}
		sf, err := a.PutHashedFile(ctx, staged, sum("staged"), 6, archive.Meta{Partner: "acme"})
		if err != nil || !strings.HasPrefix(sf.BlobRef, "db:") || get(t, a, sf.ID) != "staged" {
			t.Fatalf("staged: %v %+v", err, sf)
		}
		if _, err := os.Stat(staged); err != nil {
			t.Fatalf("the caller's file: %v", err)
		}
		// Same content, another partner: its own entry, one blob row.
		beta := put(t, a, small, archive.Meta{Partner: "beta"})
		if beta.BlobRef != e.BlobRef {
			t.Fatalf("shared content: %q %q", beta.BlobRef, e.BlobRef)
		}
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Entries != 7 {
			t.Fatalf("verify %+v %v", rep, err)
		}
		// Rows are immutable; a deleted one is a missing blob.
		key := strings.TrimPrefix(e.BlobRef, "db:")
		if err := tryExec(st, `UPDATE archive_blobs SET bytes = $1 WHERE key = $2`, []byte("forged"), key); err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("update of a blob: %v", err)
		}
		// An archive that keeps no blob in the index any more still reads them.
		fsb, err := archive.NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := archive.New(st, archive.Options{Blobs: fsb})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, b, e.ID); got != small {
			t.Fatalf("read by an archive with InlineMax 0: %q", got)
		}
		// A purge deletes the row with its last live entry only.
		if n, err := a.Purge(ctx, "acme", now.Add(time.Hour), "test"); err != nil || n != 6 {
			t.Fatalf("purge acme: %d %v", n, err)
		}
		if b, err := st.ArchiveBlob(ctx, key); err != nil || string(b) != small {
			t.Fatalf("blob shared with beta after acme's purge: %q %v", b, err)
		}
		if _, err := st.ArchiveBlob(ctx, strings.TrimPrefix(sf.BlobRef, "db:")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("staged blob after its purge: %v", err)
		}
		rawExec(t, st, `DELETE FROM archive_blobs WHERE key = $1`, key)
		rep, _ = a.Verify(ctx, archive.VerifyOptions{})
		if rep.OK() || !strings.Contains(rep.Problems[len(rep.Problems)-1].What, "missing") {
			t.Fatalf("deleted blob row: %+v", rep.Problems)
		}
	})
}

// Only a folder archive keeps blobs in the index.
func TestInlineNeedsAFolder(t *testing.T) {
	st := testenv.OpenStore(t, "sqlite")
	spool, err := archive.NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = archive.New(st, archive.Options{Blobs: otherStore{spool}, Spool: spool, InlineMax: 1024})
	if err == nil || !strings.Contains(err.Error(), "only a folder archive") {
		t.Fatalf("inline blobs in a store other than a folder: %v", err)
	}
}

// otherStore is a blob store that is not a folder archive's.
type otherStore struct{ archive.BlobStore }

// tryExec runs a statement in a transaction of its own and returns its error.
func tryExec(st store.Store, stmt string, args ...any) error {
	return st.WithTx(ctx, func(tx store.Tx) error {
		switch r := tx.Raw().(type) {
		case *sql.Tx:
			_, err := r.ExecContext(ctx, stmt, args...)
			return err
		case pgx.Tx:
			_, err := r.Exec(ctx, stmt, args...)
			return err
		}
		return fmt.Errorf("unknown tx %T", tx.Raw())
	})
}
