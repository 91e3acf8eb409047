package archive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/archive/blobtest"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

func s3Archive(t *testing.T, st store.Store, cfg archive.S3Config, spoolDir string) *archive.Archive {
	t.Helper()
	s3b, err := archive.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	spool, err := archive.NewSpool(spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.New(st, archive.Options{Blobs: s3b, Spool: spool})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func s3Config(env testenv.S3Env, prefix string) archive.S3Config {
	return archive.S3Config{Endpoint: env.Endpoint, Bucket: env.Bucket, Prefix: prefix, AccessKey: env.AccessKey, SecretKey: env.SecretKey, PartSize: 5 << 20}
}

// The suite finds out by this method that a store is under Object Lock.
var _ blobtest.Locker = (*archive.S3)(nil)

// TestS3BlobStore runs the blob store suite against each S3 server, and
// against MinIO with Object Lock (GOVERNANCE, so the bucket can be emptied
// afterwards), where Delete must be refused. One bucket per server, one
// prefix per subtest.
func TestS3BlobStore(t *testing.T) {
	servers := append(s3Servers, s3Server{"MinIOObjectLock", func(t *testing.T) testenv.S3Env { return testenv.MinIO(t, true) }})
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			env := srv.env(t)
			blobtest.Exercise(t, func(t *testing.T) archive.BlobStore {
				prefix := "blobtest/" + strings.ToLower(path.Base(t.Name()))
				cfg := s3Config(env, prefix)
				if srv.name == "MinIOObjectLock" {
					cfg.LockMode, cfg.LockFor = "GOVERNANCE", time.Hour
				}
				s, err := archive.NewS3(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { checkS3Blobs(t, env, prefix) })
				return s
			})
		})
	}
}

// checkS3Blobs: under its prefix, an S3 store holds blobs only, each under
// the sha256 of its bytes, and no unfinished multipart upload holding parts
// (which the server would keep, invisible and billed, until someone aborts
// it). An empty one is tolerated: a cancellation that cuts off the request
// creating an upload leaves it on versitygw when the server finishes the
// request after the store's clean-up looked (see S3.abortUploads); it holds
// no data.
func checkS3Blobs(t *testing.T, env testenv.S3Env, prefix string) {
	t.Helper()
	core := minio.Core{Client: env.Client}
	for u := range env.Client.ListIncompleteUploads(ctx, env.Bucket, prefix+"/", true) {
		if u.Err != nil {
			t.Errorf("listing multipart uploads: %v", u.Err)
			break
		}
		parts, err := core.ListObjectParts(ctx, env.Bucket, u.Key, u.UploadID, 0, 100)
		switch {
		case err != nil:
			t.Errorf("unfinished multipart upload of %s (id %s) left behind; listing its parts: %v", u.Key, u.UploadID, err)
		case len(parts.ObjectParts) > 0:
			t.Errorf("unfinished multipart upload of %s (id %s) left behind with %d parts", u.Key, u.UploadID, len(parts.ObjectParts))
		default:
			t.Logf("empty unfinished multipart upload of %s left behind (its creation was cancelled)", u.Key)
		}
		_ = core.AbortMultipartUpload(ctx, env.Bucket, u.Key, u.UploadID) // so the bucket can be removed
	}
	for o := range env.Client.ListObjects(ctx, env.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Errorf("listing objects: %v", o.Err)
			break
		}
		name := path.Base(o.Key)
		if want := prefix + "/sha256/" + name[:min(2, len(name))] + "/" + name; o.Key != want {
			t.Errorf("stray object %s", o.Key)
			continue
		}
		obj, err := env.Client.GetObject(ctx, env.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Errorf("get %s: %v", o.Key, err)
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, obj)
		obj.Close()
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || got != name {
			t.Errorf("object %s holds bytes with sha256 %s (%v)", o.Key, got, err)
		}
	}
}

func TestS3PutGetVerify(t *testing.T) {
	for _, srv := range s3Servers {
		t.Run(srv.name, func(t *testing.T) { testS3PutGetVerify(t, srv.env(t)) })
	}
}

func testS3PutGetVerify(t *testing.T, env testenv.S3Env) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		prefix := "wharf/" + strings.ToLower(t.Name()[len(t.Name())-6:])
		a := s3Archive(t, st, s3Config(env, prefix), t.TempDir())
		small := put(t, a, "hello s3", archive.Meta{Partner: "acme"})
		// 12 MiB with 5 MiB parts: a multipart upload of three parts.
		big := make([]byte, 12<<20)
		rand.Read(big)
		e, err := a.Put(ctx, bytes.NewReader(big), archive.Meta{Partner: "acme", RemoteName: "big.bin"})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*archive.Entry{small, e} {
			if !strings.HasPrefix(x.BlobRef, "s3:sha256/") || x.Spooled() {
				t.Fatalf("blob ref %q", x.BlobRef)
			}
		}
		if get(t, a, small.ID) != "hello s3" || get(t, a, e.ID) != string(big) {
			t.Fatal("get returned other bytes")
		}
		info, err := env.Client.StatObject(ctx, env.Bucket, prefix+"/"+strings.TrimPrefix(e.BlobRef, "s3:"), minio.StatObjectOptions{})
		if err != nil || info.Size != int64(len(big)) {
			t.Fatalf("object in bucket: %v %v", info.Size, err)
		}
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Blobs != 2 {
			t.Fatalf("verify %+v %v", rep, err)
		}
		// An object altered or removed behind the archive's back is found.
		if _, err := env.Client.PutObject(ctx, env.Bucket, prefix+"/"+strings.TrimPrefix(small.BlobRef, "s3:"), strings.NewReader("HELLO s3"), 8, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		env.Client.RemoveObject(ctx, env.Bucket, prefix+"/"+strings.TrimPrefix(e.BlobRef, "s3:"), minio.RemoveObjectOptions{})
		rep, _ = a.Verify(ctx, archive.VerifyOptions{})
		if len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0].What, "does not match") || !strings.Contains(rep.Problems[1].What, "missing") {
			t.Fatalf("tampered bucket: %+v", rep.Problems)
		}
		if _, _, err := a.Get(ctx, e.ID); !errors.Is(err, archive.ErrBlobNotFound) {
			t.Fatalf("get of removed object: %v", err)
		}
	})
}

// TestS3DownSpools: with S3 unreachable (or refusing), Put still succeeds
// durably into the local spool; the upload job moves the blobs once S3 is
// back, and the index follows where each blob lives.
func TestS3DownSpools(t *testing.T) {
	env := testenv.S3(t)
	forEachDB(t, func(t *testing.T, st store.Store) {
		spoolDir := t.TempDir()
		down := archive.S3Config{Endpoint: "127.0.0.1:1", Bucket: env.Bucket, AccessKey: "k", SecretKey: "x", MaxRetries: 1}
		a := s3Archive(t, st, down, spoolDir)
		e1 := put(t, a, "while down 1", archive.Meta{Partner: "acme"})
		e2 := put(t, a, "while down 2", archive.Meta{Partner: "acme"})
		dup := put(t, a, "while down 1", archive.Meta{Partner: "beta"})
		for _, e := range []*archive.Entry{e1, e2, dup} {
			if !e.Spooled() {
				t.Fatalf("blob ref %q, want spool:", e.BlobRef)
			}
		}
		if get(t, a, e1.ID) != "while down 1" {
			t.Fatal("get from spool")
		}
		if rep, _ := a.Verify(ctx, archive.VerifyOptions{}); !rep.OK() || rep.Blobs != 3 {
			t.Fatalf("verify with spooled blobs: %+v", rep)
		}
		if n, err := a.UploadSpool(ctx); n != 0 || err == nil {
			t.Fatalf("upload while down: %d %v", n, err)
		}
		// Wrong credentials are an S3 error too: Put spools.
		refused := s3Config(env, "p")
		refused.SecretKey = "wrong"
		if e := put(t, s3Archive(t, st, refused, spoolDir), "refused", archive.Meta{Partner: "acme"}); !e.Spooled() {
			t.Fatalf("put with refused credentials: %q", e.BlobRef)
		}
		// S3 is back.
		up := s3Archive(t, st, s3Config(env, "p"), spoolDir)
		n, err := up.UploadSpool(ctx)
		if err != nil || n != 4 {
			t.Fatalf("upload: %d %v", n, err)
		}
		if p, _ := up.SpoolPending(ctx, 10); p != 0 {
			t.Fatalf("still pending: %d", p)
		}
		for _, id := range []string{e1.ID, e2.ID, dup.ID} {
			e, _ := up.Entry(ctx, id)
			if !strings.HasPrefix(e.BlobRef, "s3:") {
				t.Fatalf("index still says %q", e.BlobRef)
			}
		}
		if get(t, up, dup.ID) != "while down 1" {
			t.Fatal("get after upload")
		}
		if left := countFiles(t, filepath.Join(spoolDir, "sha256")); left != 0 {
			t.Fatalf("%d spool files left after upload", left)
		}
		evs, _ := up.Events(ctx, e1.ID)
		if len(evs) != 2 || evs[1].Kind != "uploaded" {
			t.Fatalf("events %v", evs)
		}
		if rep, _ := up.Verify(ctx, archive.VerifyOptions{}); !rep.OK() || rep.Blobs != 4 {
			t.Fatalf("verify after upload: %+v", rep.Problems)
		}
	})
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// downBlobs is a blob store whose Puts fail while down is set, as an S3
// server this instance cannot reach: the fault injected, nothing faked.
type downBlobs struct {
	archive.BlobStore
	down atomic.Bool
}

func (d *downBlobs) Put(ctx context.Context, key, path string, size int64) error {
	if d.down.Load() {
		return errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	}
	return d.BlobStore.Put(ctx, key, path, size)
}

// Two instances share the index and the bucket but not their spools
// (issue 18): a blob spooled by A waits for A's upload. B cannot read it
// and says so with lifecycle.ErrWait (its jobs snooze, they do not fail),
// does not count it as its own pending upload, does not stop its own
// uploads at it, and its verify counts it as elsewhere, not broken. Once
// A uploads it, B reads it.
func TestSpoolsOfTwoInstances(t *testing.T) {
	env := testenv.S3(t)
	forEachDB(t, func(t *testing.T, st store.Store) {
		cfg := s3Config(env, "spools/"+strings.ToLower(st.Driver()))
		s3b, err := archive.NewS3(cfg)
		if err != nil {
			t.Fatal(err)
		}
		spoolA, _ := archive.NewSpool(t.TempDir())
		spoolB, _ := archive.NewSpool(t.TempDir())
		blobsA := &downBlobs{BlobStore: s3b}
		blobsA.down.Store(true)
		a, err := archive.New(st, archive.Options{Blobs: blobsA, Spool: spoolA})
		if err != nil {
			t.Fatal(err)
		}
		b, err := archive.New(st, archive.Options{Blobs: s3b, Spool: spoolB})
		if err != nil {
			t.Fatal(err)
		}
		e := put(t, a, "ISA*SPOOLED*BY*A*"+st.Driver(), archive.Meta{Partner: "acme"})
		if !e.Spooled() || strings.HasPrefix(e.BlobRef, "spool:sha256/") {
			t.Fatalf("blob ref %q: want spooled under A's spool's name", e.BlobRef)
		}
		if _, _, err := b.Get(ctx, e.ID); !lifecycle.IsWait(err) || !strings.Contains(err.Error(), "another instance") {
			t.Fatalf("B reads A's spooled blob: %v; want a wait naming another instance's spool", err)
		}
		if n, err := b.SpoolPending(ctx, 10); err != nil || n != 0 {
			t.Fatalf("B's pending uploads: %d %v; want 0 (the blob is A's)", n, err)
		}
		// B's own spooled blob uploads although A's comes first.
		eb := put(t, b, "ISA*B*"+st.Driver(), archive.Meta{Partner: "acme"})
		if !strings.HasPrefix(eb.BlobRef, "s3:") {
			t.Fatalf("B's put: %q", eb.BlobRef)
		}
		if n, err := b.UploadSpool(ctx); err != nil || n != 0 {
			t.Fatalf("B's spool upload: %d %v; want nothing to do and no error", n, err)
		}
		rep, err := b.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Elsewhere != 1 || rep.Blobs != 1 {
			t.Fatalf("B's verify: %+v %v; want OK with one blob elsewhere", rep, err)
		}
		if n, err := a.SpoolPending(ctx, 10); err != nil || n != 1 {
			t.Fatalf("A's pending uploads: %d %v", n, err)
		}
		blobsA.down.Store(false)
		if n, err := a.UploadSpool(ctx); err != nil || n != 1 {
			t.Fatalf("A's spool upload: %d %v", n, err)
		}
		if got := get(t, b, e.ID); got != "ISA*SPOOLED*BY*A*"+st.Driver() {
			t.Fatalf("B after A's upload: %q", got)
		}
	})
}
