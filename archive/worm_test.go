package archive_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// s3Server is an S3 server the S3 tests run against, with a fresh bucket
// (without Object Lock) per test.
type s3Server struct {
	name string
	env  func(t *testing.T) testenv.S3Env
}

// s3Servers: versitygw (CI's S3 server since the S3 issue) and MinIO (what
// docker-compose users run).
var s3Servers = []s3Server{
	{"versitygw", func(t *testing.T) testenv.S3Env { return testenv.S3(t) }},
	{"MinIO", func(t *testing.T) testenv.S3Env { return testenv.MinIO(t, false) }},
}

// logBuffer collects an archive's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestWORMMinIO: with lock=COMPLIANCE or GOVERNANCE and a bucket created
// with Object Lock, every blob is stored with the configured retention, the
// server refuses to delete it, Get and verify work as usual, and a retention
// purge writes its tombstone while the blob stays (with an event and a log
// line saying so).
func TestWORMMinIO(t *testing.T) {
	for _, mode := range []string{"COMPLIANCE", "GOVERNANCE"} {
		t.Run(mode, func(t *testing.T) {
			env := testenv.MinIO(t, true)
			forEachDB(t, func(t *testing.T, st store.Store) {
				prefix := "worm/" + strings.ToLower(st.Driver())
				cfg := s3Config(env, prefix)
				// An hour: far longer than the test, so the lock is certainly
				// in force when the test tries to delete.
				cfg.LockMode, cfg.LockFor = mode, time.Hour
				s3b, err := archive.NewS3(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := s3b.CheckLock(ctx); err != nil {
					t.Fatalf("check lock on a bucket with Object Lock: %v", err)
				}
				spool, err := archive.NewSpool(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				logs := &logBuffer{}
				a, err := archive.New(st, archive.Options{Blobs: s3b, Spool: spool,
					Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				if err != nil {
					t.Fatal(err)
				}

				content := "ISA*WORM*" + mode + "*" + st.Driver()
				before := time.Now()
				e := put(t, a, content, archive.Meta{Partner: "acme", ReceivedAt: before.Add(-90 * 24 * time.Hour)})
				after := time.Now()
				if !strings.HasPrefix(e.BlobRef, "s3:") {
					t.Fatalf("blob ref %q: want s3: (not spooled)", e.BlobRef)
				}
				obj := prefix + "/" + strings.TrimPrefix(e.BlobRef, "s3:")

				// The object carries the retention: the mode, and upload time + LockFor
				// (the date travels with second precision).
				gotMode, until, err := env.Client.GetObjectRetention(ctx, env.Bucket, obj, "")
				if err != nil {
					t.Fatalf("object retention: %v", err)
				}
				if gotMode == nil || string(*gotMode) != mode {
					t.Fatalf("retention mode %v, want %s", gotMode, mode)
				}
				lo, hi := before.Add(time.Hour).Truncate(time.Second), after.Add(time.Hour)
				if until == nil || until.Before(lo) || until.After(hi) {
					t.Fatalf("retain until %v, want between %v and %v", until, lo, hi)
				}
				info, err := env.Client.StatObject(ctx, env.Bucket, obj, minio.StatObjectOptions{})
				if err != nil || info.VersionID == "" {
					t.Fatalf("stat: version %q, %v", info.VersionID, err)
				}

				// Deleting the version is refused by the server (GOVERNANCE too,
				// without the bypass privilege and header)...
				err = env.Client.RemoveObject(ctx, env.Bucket, obj, minio.RemoveObjectOptions{VersionID: info.VersionID})
				if err == nil {
					t.Fatalf("server deleted a %s-locked version", mode)
				}
				t.Logf("delete of the locked version refused: %v", err)
				// ... and so is the archive's own delete, which says why.
				blobs := archive.BlobStore(s3b)
				err = blobs.Delete(ctx, strings.TrimPrefix(e.BlobRef, "s3:"))
				if !errors.Is(err, archive.ErrLocked) || !strings.Contains(err.Error(), mode) {
					t.Fatalf("archive delete of a locked blob: %v", err)
				}
				if _, err := env.Client.StatObject(ctx, env.Bucket, obj, minio.StatObjectOptions{VersionID: info.VersionID}); err != nil {
					t.Fatalf("locked version gone: %v", err)
				}

				// Get returns the bytes; verify re-hashes the blob and passes.
				if got := get(t, a, e.ID); got != content {
					t.Fatalf("get: %q", got)
				}
				rep, err := a.Verify(ctx, archive.VerifyOptions{})
				if err != nil || !rep.OK() || rep.Blobs != 1 {
					t.Fatalf("verify: %+v %v", rep, err)
				}

				// Overwriting cannot replace the locked bytes: the bucket is
				// versioned, a PUT adds a version. Verify sees the new current
				// version does not match; the original version is intact.
				if _, err := env.Client.PutObject(ctx, env.Bucket, obj, strings.NewReader("forged"), 6, minio.PutObjectOptions{}); err != nil {
					t.Fatal(err)
				}
				rep, _ = a.Verify(ctx, archive.VerifyOptions{})
				if rep.OK() || !strings.Contains(rep.Problems[0].What, "does not match") {
					t.Fatalf("verify after an overwrite: %+v", rep.Problems)
				}
				orig, err := env.Client.GetObject(ctx, env.Bucket, obj, minio.GetObjectOptions{VersionID: info.VersionID})
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				_, err = b.ReadFrom(orig)
				orig.Close()
				if err != nil || b.String() != content {
					t.Fatalf("locked version after an overwrite: %q %v", b.String(), err)
				}
				// The forged version has no retention: remove it, and verify passes again.
				forged, err := env.Client.StatObject(ctx, env.Bucket, obj, minio.StatObjectOptions{})
				if err != nil || forged.VersionID == info.VersionID {
					t.Fatalf("forged version: %q %v", forged.VersionID, err)
				}
				if err := env.Client.RemoveObject(ctx, env.Bucket, obj, minio.RemoveObjectOptions{VersionID: forged.VersionID}); err != nil {
					t.Fatal(err)
				}
				if rep, _ := a.Verify(ctx, archive.VerifyOptions{}); !rep.OK() {
					t.Fatalf("verify after removing the forged version: %+v", rep.Problems)
				}

				// A retention purge: the tombstone is written and the chain
				// verifies; the blob stays, with an event and a log line saying so.
				n, err := a.Purge(ctx, "acme", time.Now().Add(-30*24*time.Hour), "retention test")
				if err != nil || n != 1 {
					t.Fatalf("purge: %d %v", n, err)
				}
				if _, _, err := a.Get(ctx, e.ID); !errors.Is(err, archive.ErrPurged) {
					t.Fatalf("get after purge: %v", err)
				}
				rep, err = a.Verify(ctx, archive.VerifyOptions{})
				if err != nil || !rep.OK() || rep.Tombstones != 1 || rep.Entries != 1 {
					t.Fatalf("verify after purge: %+v %v", rep, err)
				}
				evs, err := a.Events(ctx, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				kinds := []string{}
				for _, ev := range evs {
					kinds = append(kinds, string(ev.Kind))
				}
				last := evs[len(evs)-1]
				if !strings.HasSuffix(strings.Join(kinds, ","), ",purged,blob_kept") ||
					!strings.Contains(last.Detail, "Object Lock") || !strings.Contains(last.Detail, mode) {
					t.Fatalf("events after purge: %v; last %q", kinds, last.Detail)
				}
				if l := logs.String(); !strings.Contains(l, "blob kept under Object Lock") || !strings.Contains(l, e.ID) {
					t.Fatalf("no log line about the kept blob:\n%s", l)
				}
				after2, err := env.Client.StatObject(ctx, env.Bucket, obj, minio.StatObjectOptions{})
				if err != nil || after2.VersionID != info.VersionID || after2.Size != int64(len(content)) {
					t.Fatalf("blob after purge: version %q size %d, %v", after2.VersionID, after2.Size, err)
				}
			})
		})
	}
}

// TestWORMKeptBlobDeletedAfterRetention: a purge under Object Lock keeps
// the blob and remembers until when; the retention job deletes it once the
// date has passed (every version, as a blob_deleted event on the entry),
// not before, and leaves alone a kept blob that a newer entry uses again.
func TestWORMKeptBlobDeletedAfterRetention(t *testing.T) {
	// MinIO keeps versions under Object Lock; versitygw's posix backend
	// does not and refuses the delete itself (its retention is then read
	// from the object's headers: its GetObjectRetention answer does not
	// parse).
	for _, srv := range []s3Server{
		{"MinIO", func(t *testing.T) testenv.S3Env { return testenv.MinIO(t, true) }},
		{"versitygw", func(t *testing.T) testenv.S3Env { return testenv.S3Locked(t) }},
	} {
		t.Run(srv.name, func(t *testing.T) { keptBlobDeletedAfterRetention(t, srv.env(t)) })
	}
}

func keptBlobDeletedAfterRetention(t *testing.T, env testenv.S3Env) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		prefix := "kept/" + strings.ToLower(st.Driver())
		cfg := s3Config(env, prefix)
		cfg.LockMode, cfg.LockFor = "COMPLIANCE", 3*time.Second
		s3b, err := archive.NewS3(cfg)
		if err != nil {
			t.Fatal(err)
		}
		spool, err := archive.NewSpool(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		a, err := archive.New(st, archive.Options{Blobs: s3b, Spool: spool})
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-90 * 24 * time.Hour)
		gone := put(t, a, "ISA*KEPT*"+st.Driver(), archive.Meta{Partner: "acme", ReceivedAt: old})
		again := put(t, a, "ISA*AGAIN*"+st.Driver(), archive.Meta{Partner: "acme", ReceivedAt: old})
		if n, err := a.Purge(ctx, "acme", time.Now().Add(-30*24*time.Hour), "retention test"); err != nil || n != 2 {
			t.Fatalf("purge: %d %v", n, err)
		}
		obj := func(e *archive.Entry) string { return prefix + "/" + strings.TrimPrefix(e.BlobRef, "s3:") }
		versions := func(e *archive.Entry) int {
			n := 0
			for o := range env.Client.ListObjects(ctx, env.Bucket, minio.ListObjectsOptions{Prefix: obj(e), WithVersions: true}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				n++
			}
			return n
		}
		// The purge recorded why the blob stays: the mode and the date.
		if evs, err := a.Events(ctx, gone.ID); err != nil || len(evs) == 0 || evs[len(evs)-1].Kind != "blob_kept" ||
			!strings.Contains(evs[len(evs)-1].Detail, "COMPLIANCE until "+time.Now().UTC().Format("2006-01-02")) {
			t.Fatalf("purge of a locked blob: last event %+v, %v; want blob_kept naming COMPLIANCE and the date", evs[len(evs)-1], err)
		}
		// Before the date: nothing is due, the blobs stay.
		if n, err := a.DeleteKeptBlobs(ctx); err != nil || n != 0 {
			t.Fatalf("before the retention date: deleted %d, %v", n, err)
		}
		if versions(gone) != 1 || versions(again) != 1 {
			t.Fatalf("kept blobs gone before their date")
		}
		// The same content as the second arrives again: its blob is in use.
		reput := put(t, a, "ISA*AGAIN*"+st.Driver(), archive.Meta{Partner: "acme"})
		if !strings.HasPrefix(reput.BlobRef, "s3:") { // not spooled: the locked object is the blob
			t.Fatalf("the same content again under Object Lock: blob ref %q, want s3:", reput.BlobRef)
		}
		time.Sleep(4500 * time.Millisecond) // past the 3 s retention (the date has second precision)
		if n, err := a.DeleteKeptBlobs(ctx); err != nil || n != 1 {
			t.Fatalf("after the retention date: deleted %d, %v", n, err)
		}
		if v := versions(gone); v != 0 {
			t.Fatalf("expired blob: %d versions left", v)
		}
		if got := get(t, a, reput.ID); got != "ISA*AGAIN*"+st.Driver() {
			t.Fatalf("blob in use again: %q", got)
		}
		evs, err := a.Events(ctx, gone.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ev := range evs {
			kinds = append(kinds, string(ev.Kind))
		}
		if !strings.HasSuffix(strings.Join(kinds, ","), ",purged,blob_kept,blob_deleted") || !strings.Contains(evs[len(evs)-1].Detail, "retention date") {
			t.Fatalf("events: %v", kinds)
		}
		// Nothing is left to do, and the chain still verifies.
		if n, err := a.DeleteKeptBlobs(ctx); err != nil || n != 0 {
			t.Fatalf("second run: deleted %d, %v", n, err)
		}
		if rep, err := a.Verify(ctx, archive.VerifyOptions{}); err != nil || !rep.OK() || rep.Tombstones != 2 {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}

// TestWORMBucketWithoutObjectLock: lock=... configured on a bucket created
// without Object Lock fails loudly, at the check wharf runs when it opens
// the archive and at the first Put, with an error saying to create the
// bucket with Object Lock. The Put does not spool: no retry would heal it.
func TestWORMBucketWithoutObjectLock(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) {
			env := srv.env(t)
			forEachDB(t, func(t *testing.T, st store.Store) {
				cfg := s3Config(env, "nolock")
				cfg.LockMode, cfg.LockFor = "COMPLIANCE", time.Hour
				s3b, err := archive.NewS3(cfg)
				if err != nil {
					t.Fatal(err)
				}
				err = s3b.CheckLock(ctx)
				if !errors.Is(err, archive.ErrNoObjectLock) || !strings.Contains(err.Error(), "--with-lock") {
					t.Fatalf("check lock on a bucket without Object Lock: %v", err)
				}
				spoolDir := t.TempDir()
				a := s3Archive(t, st, cfg, spoolDir)
				_, err = a.Put(ctx, strings.NewReader("must not be archived unlocked"), archive.Meta{Partner: "acme"})
				if !errors.Is(err, archive.ErrNoObjectLock) || !strings.Contains(err.Error(), "create the bucket") {
					t.Fatalf("put into a bucket without Object Lock: %v", err)
				}
				t.Logf("put refused: %v", err)
				if n := countFiles(t, filepath.Join(spoolDir, "sha256")); n != 0 {
					t.Fatalf("%d blobs spooled", n)
				}
				if es, err := a.Search(ctx, store.MessageFilter{}); err != nil || len(es) != 0 {
					t.Fatalf("entries recorded: %d %v", len(es), err)
				}
				// MinIO refuses the upload before storing anything. versitygw
				// v1.8.0 (posix) answers with the same error but has stored the
				// object, without a lock: an unreferenced blob, as after any
				// failed Put, which the index never points to.
				for o := range env.Client.ListObjects(ctx, env.Bucket, minio.ListObjectsOptions{Prefix: "nolock/", Recursive: true}) {
					if srv.name == "MinIO" {
						t.Fatalf("object in the bucket: %q %v", o.Key, o.Err)
					}
					t.Logf("%s kept the refused object %q (unreferenced)", srv.name, o.Key)
				}
			})
		})
	}
}

// TestS3PurgeDeletesBlob: a purge deletes the blob for real, also in a
// versioned bucket (one with Object Lock, used without lock=): every version
// goes, not hidden behind a delete marker.
func TestS3PurgeDeletesBlob(t *testing.T) {
	servers := append(s3Servers, s3Server{"MinIOVersioned", func(t *testing.T) testenv.S3Env { return testenv.MinIO(t, true) }})
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			env := srv.env(t)
			forEachDB(t, func(t *testing.T, st store.Store) {
				prefix := "purge/" + strings.ToLower(st.Driver())
				a := s3Archive(t, st, s3Config(env, prefix), t.TempDir())
				old := time.Now().Add(-90 * 24 * time.Hour)
				e := put(t, a, "to be purged", archive.Meta{Partner: "acme", ReceivedAt: old})
				obj := prefix + "/" + strings.TrimPrefix(e.BlobRef, "s3:")
				// A second PUT of the same key: in a versioned bucket, a second version.
				if _, err := env.Client.PutObject(ctx, env.Bucket, obj, strings.NewReader("to be purged"), 12, minio.PutObjectOptions{}); err != nil {
					t.Fatal(err)
				}
				if n, err := a.Purge(ctx, "acme", time.Now().Add(-30*24*time.Hour), "test"); err != nil || n != 1 {
					t.Fatalf("purge: %d %v", n, err)
				}
				if rep, err := a.Verify(ctx, archive.VerifyOptions{}); err != nil || !rep.OK() || rep.Tombstones != 1 {
					t.Fatalf("verify after purge: %+v %v", rep, err)
				}
				for o := range env.Client.ListObjects(ctx, env.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true, WithVersions: srv.name == "MinIOVersioned"}) {
					t.Fatalf("left in the bucket: %q version %q delete marker %v (%v)", o.Key, o.VersionID, o.IsDeleteMarker, o.Err)
				}
				evs, _ := a.Events(ctx, e.ID)
				if evs[len(evs)-1].Kind != "purged" {
					t.Fatalf("last event %q", evs[len(evs)-1].Kind)
				}
			})
		})
	}
}
