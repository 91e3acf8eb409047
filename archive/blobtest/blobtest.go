// Package blobtest is the conformance suite every archive.BlobStore passes:
// the contract written on the interface, checked the way the archive uses
// it. Put then Open and Stat return the same bytes and size under a
// content-addressed key; a Put of an existing key is not an error; missing
// keys are archive.ErrBlobNotFound (and deleting one is not an error);
// Delete; a zero-byte and a 64 MiB blob (streamed from a generator, never
// held in memory); a Put that fails (cancelled context, a file shorter or
// longer than the size given, a missing file) stores nothing under the key,
// and a Put cancelled midway never leaves a partial blob; concurrent Puts of
// different and identical keys. A store with Object Lock (the optional
// Locked() bool capability, true) must refuse Delete with archive.ErrLocked
// and keep the blob. A store that implements TempDirer gets its source files
// written in that folder, as the archive does.
//
// A store's test calls Exercise with a function returning a fresh, empty
// store that no other test uses (its own folder, bucket or prefix). Checks
// only a store's own test can make (stray files, unfinished multipart
// uploads) belong in that function's t.Cleanup.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
)

// LargeSize is the size of the large blob (64 MiB; 8 MiB with -short).
func LargeSize() int64 {
	if testing.Short() {
		return 8 << 20
	}
	return 64 << 20
}

// TempDirer is a store whose Put needs its files in a particular folder:
// the filesystem store hard-links them, so they must be on its file system.
// The archive writes its temporary files there; so does the suite.
type TempDirer interface{ TempDir() string }

// Locker is a store that may keep blobs under Object Lock (WORM). When
// Locked reports true, the suite expects Delete to fail with
// archive.ErrLocked and the blob to stay.
type Locker interface{ Locked() bool }

// Exercise runs the suite. fresh returns a new, empty store for one subtest.
func Exercise(t *testing.T, fresh func(t *testing.T) archive.BlobStore) {
	ctx := context.Background()

	t.Run("PutOpenStat", func(t *testing.T) {
		s := fresh(t)
		if k := s.Kind(); k == "" || strings.Contains(k, ":") {
			t.Errorf("Kind() = %q: blob refs are KIND:KEY, so it must be non-empty without a colon", k)
		}
		if s.Describe() == "" {
			t.Error("Describe() is empty")
		}
		dir := sourceDir(t, s)
		for _, b := range []*blob{
			writeBytes(t, dir, []byte("ISA*00*          *00*          *ZZ*ACME~")),
			writeBytes(t, dir, nil), // an empty file is content too
			writeBytes(t, dir, bytes.Repeat([]byte{0, 0xff, '\n', '\r'}, 1000)),
		} {
			if err := s.Put(ctx, b.key, b.path, b.size); err != nil {
				t.Fatalf("put %d bytes: %v", b.size, err)
			}
			// Put must leave the caller's file alone (the archive may need it
			// again), and the blob must not depend on it: the archive removes
			// its temporary file right after Put.
			if got, err := os.ReadFile(b.path); err != nil || sha(got) != b.sum {
				t.Fatalf("put moved or changed its source file: %v", err)
			}
			if err := os.Remove(b.path); err != nil {
				t.Fatal(err)
			}
			b.check(t, ctx, s, "after put and removal of the source file")
		}
	})

	t.Run("PutExisting", func(t *testing.T) {
		s := fresh(t)
		dir := sourceDir(t, s)
		content := []byte("same content, same key")
		first := writeBytes(t, dir, content)
		if err := s.Put(ctx, first.key, first.path, first.size); err != nil {
			t.Fatal(err)
		}
		// Again from the same file (a retried spool upload), and from another
		// file with the same bytes (the same document received twice).
		second := writeBytes(t, dir, content)
		for _, p := range []string{first.path, second.path} {
			if err := s.Put(ctx, first.key, p, first.size); err != nil {
				t.Fatalf("put of an existing key: %v (keys name content: it must not be an error)", err)
			}
		}
		os.Remove(first.path)
		os.Remove(second.path)
		first.check(t, ctx, s, "after putting an existing key")
	})

	t.Run("NotFound", func(t *testing.T) {
		s := fresh(t)
		dir := sourceDir(t, s)
		there := writeBytes(t, dir, []byte("present"))
		if err := s.Put(ctx, there.key, there.path, there.size); err != nil {
			t.Fatal(err)
		}
		// One key beside an existing blob's folder, one in a folder no blob has made.
		beside := there.key[:len(there.key)-1] + flip(there.key[len(there.key)-1])
		for _, key := range []string{beside, keyOf(sha([]byte("never stored")))} {
			if _, err := s.Stat(ctx, key); !errors.Is(err, archive.ErrBlobNotFound) {
				t.Errorf("stat of missing %s: want ErrBlobNotFound, got %v", key, err)
			}
			if rc, err := s.Open(ctx, key); !errors.Is(err, archive.ErrBlobNotFound) {
				if err == nil {
					rc.Close()
				}
				t.Errorf("open of missing %s: want ErrBlobNotFound, got %v", key, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("delete of missing %s: want nil (deleting an absent blob is not an error), got %v", key, err)
			}
		}
		there.check(t, ctx, s, "after looking up missing neighbours")
	})

	t.Run("Delete", func(t *testing.T) {
		s := fresh(t)
		dir := sourceDir(t, s)
		gone := writeBytes(t, dir, []byte("to be deleted"))
		kept := writeBytes(t, dir, []byte("to be kept"))
		for _, b := range []*blob{gone, kept} {
			if err := s.Put(ctx, b.key, b.path, b.size); err != nil {
				t.Fatal(err)
			}
		}
		if l, ok := s.(Locker); ok && l.Locked() {
			// Object Lock: the server refuses, the blob stays, and the error
			// says so (the archive then writes a tombstone and keeps the blob).
			if err := s.Delete(ctx, gone.key); !errors.Is(err, archive.ErrLocked) {
				t.Fatalf("delete of a blob under Object Lock: want ErrLocked, got %v", err)
			}
			gone.check(t, ctx, s, "after a refused delete")
			return
		}
		if err := s.Delete(ctx, gone.key); err != nil {
			t.Fatal(err)
		}
		gone.absent(t, ctx, s, "after delete")
		kept.check(t, ctx, s, "after deleting another blob")
		if err := s.Delete(ctx, gone.key); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		// A purge may delete a blob that a concurrent Put then puts back.
		if err := s.Put(ctx, gone.key, gone.path, gone.size); err != nil {
			t.Fatalf("put after delete: %v", err)
		}
		gone.check(t, ctx, s, "put again after delete")
	})

	t.Run("Large", func(t *testing.T) {
		s := fresh(t)
		b := writeGenerated(t, sourceDir(t, s), 1, LargeSize())
		start := time.Now()
		if err := s.Put(ctx, b.key, b.path, b.size); err != nil {
			t.Fatal(err)
		}
		t.Logf("put of %d MiB took %v", b.size>>20, time.Since(start).Round(time.Millisecond))
		os.Remove(b.path)
		b.check(t, ctx, s, "large blob")
	})

	t.Run("Cancelled", func(t *testing.T) {
		s := fresh(t)
		dir := sourceDir(t, s)
		b := writeBytes(t, dir, []byte("never stored: cancelled before put"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Put(cctx, b.key, b.path, b.size); !errors.Is(err, context.Canceled) {
			t.Fatalf("put with a cancelled context: want context.Canceled, got %v", err)
		}
		b.absent(t, ctx, s, "after a put with a cancelled context")

		// Cancelled midway: whenever the cancellation lands, the key holds
		// nothing or the whole blob, never part of it. (A Put that fails may
		// still have stored the complete blob: the server finished just as
		// the client gave up. The archive records nothing then, and an
		// unreferenced complete blob is harmless.)
		const size = 16 << 20
		var cancelled, completed int
		for i, after := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 80 * time.Millisecond} {
			b := writeGenerated(t, dir, uint64(100+i), size)
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Put(cctx, b.key, b.path, b.size) }()
			time.Sleep(after)
			cancel()
			err := <-done
			what := fmt.Sprintf("put cancelled after %v (err %v)", after, err)
			if err == nil {
				completed++
				b.check(t, ctx, s, what)
			} else {
				cancelled++
				b.notPartial(t, ctx, s, what)
			}
			os.Remove(b.path)
		}
		t.Logf("puts cancelled midway: %d failed, %d had finished", cancelled, completed)
	})

	t.Run("BadSource", func(t *testing.T) {
		// Put reads a file the caller says has size bytes. A file that ends
		// early (the read fails midway) or goes on longer must fail the Put
		// and store nothing: a blob under a content address holds exactly
		// that content or does not exist.
		s := fresh(t)
		dir := sourceDir(t, s)
		content := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		b := writeBytes(t, dir, content)
		short := writeBytesAs(t, dir, content[:len(content)/2])
		long := writeBytesAs(t, dir, append(content[:len(content):len(content)], "trailing"...))
		for _, c := range []struct{ what, path string }{
			{"a file shorter than the size given", short},
			{"a file longer than the size given", long},
			{"a missing file", filepath.Join(dir, "no-such-file")},
		} {
			if err := s.Put(ctx, b.key, c.path, b.size); err == nil {
				t.Errorf("put of %s succeeded", c.what)
			}
			b.absent(t, ctx, s, "after a put of "+c.what)
		}
		// A failed Put must not get in the way of the retry.
		if err := s.Put(ctx, b.key, b.path, b.size); err != nil {
			t.Fatalf("put after failed puts: %v", err)
		}
		b.check(t, ctx, s, "put after failed puts")
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := fresh(t)
		dir := sourceDir(t, s)
		const n = 8
		var distinct []*blob
		for i := range 2 * n {
			distinct = append(distinct, writeGenerated(t, dir, uint64(1000+i), 256<<10+int64(i)))
		}
		shared := writeGenerated(t, dir, 2000, 3<<20)
		var copies []string // the same bytes in other files: the same document received n times at once
		for range n {
			copies = append(copies, writeBytesAs(t, dir, mustRead(t, shared.path)))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4*n)
		put := func(key, path string, size int64) {
			wg.Go(func() {
				if err := s.Put(ctx, key, path, size); err != nil {
					errs <- fmt.Errorf("put %s from %s: %w", key, filepath.Base(path), err)
				}
			})
		}
		for i := range n {
			put(distinct[2*i].key, distinct[2*i].path, distinct[2*i].size)
			put(shared.key, shared.path, shared.size) // one file, n Puts (concurrent spool uploads)
			put(shared.key, copies[i], shared.size)
			put(distinct[2*i+1].key, distinct[2*i+1].path, distinct[2*i+1].size)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, b := range append(distinct, shared) {
			b.check(t, ctx, s, "after concurrent puts")
		}
	})
}

// blob is a source file and the key, size and sha256 it must be stored as.
type blob struct {
	path, key, sum string
	size           int64
}

// check asserts the store holds exactly the blob: Stat says its size, and
// Open returns bytes of that size and sha256.
func (b *blob) check(t *testing.T, ctx context.Context, s archive.BlobStore, when string) {
	t.Helper()
	size, err := s.Stat(ctx, b.key)
	if err != nil {
		t.Fatalf("%s: stat %s: %v", when, b.key, err)
	}
	if size != b.size {
		t.Fatalf("%s: stat %s: size %d, want %d", when, b.key, size, b.size)
	}
	rc, err := s.Open(ctx, b.key)
	if err != nil {
		t.Fatalf("%s: open %s: %v", when, b.key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("%s: reading %s: %v after %d bytes", when, b.key, err, n)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != b.size || got != b.sum {
		t.Fatalf("%s: open %s returned %d bytes with sha256 %s, want %d bytes with %s", when, b.key, n, got, b.size, b.sum)
	}
}

// absent asserts the store has no blob under the key.
func (b *blob) absent(t *testing.T, ctx context.Context, s archive.BlobStore, when string) {
	t.Helper()
	if size, err := s.Stat(ctx, b.key); !errors.Is(err, archive.ErrBlobNotFound) {
		t.Fatalf("%s: stat %s: want ErrBlobNotFound, got size %d, err %v", when, b.key, size, err)
	}
	rc, err := s.Open(ctx, b.key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, archive.ErrBlobNotFound) {
		t.Fatalf("%s: open %s: want ErrBlobNotFound, got %v", when, b.key, err)
	}
}

// notPartial asserts the store holds the whole blob or nothing under the key.
// A server may still complete an upload the client gave up on after the
// client's call returned (S3's CompleteMultipartUpload already sent), so
// "nothing" may turn into "the whole blob" between two looks; never into
// part of it.
func (b *blob) notPartial(t *testing.T, ctx context.Context, s archive.BlobStore, when string) {
	t.Helper()
	rc, err := s.Open(ctx, b.key)
	if errors.Is(err, archive.ErrBlobNotFound) {
		return
	}
	if err == nil {
		rc.Close()
	}
	b.check(t, ctx, s, when+": a failed put left a blob, so it must be the whole blob")
}

// sourceDir returns a folder for the suite's source files: in the store's
// TempDir when it has one (as the archive does), else a test folder.
func sourceDir(t *testing.T, s archive.BlobStore) string {
	t.Helper()
	td, ok := s.(TempDirer)
	if !ok {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(td.TempDir(), "blobtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeBytes writes content to a new, fsync'd file in dir.
func writeBytes(t *testing.T, dir string, content []byte) *blob {
	t.Helper()
	sum := sha(content)
	return &blob{path: writeBytesAs(t, dir, content), key: keyOf(sum), sum: sum, size: int64(len(content))}
}

func writeBytesAs(t *testing.T, dir string, content []byte) string {
	t.Helper()
	return writeFile(t, dir, bytes.NewReader(content))
}

// writeGenerated streams size pseudo-random bytes (seeded: the same seed
// gives the same bytes) to a new file in dir, hashing as it writes.
func writeGenerated(t *testing.T, dir string, seed uint64, size int64) *blob {
	t.Helper()
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	h := sha256.New()
	path := writeFile(t, dir, io.TeeReader(io.LimitReader(rand.NewChaCha8(s), size), h))
	sum := hex.EncodeToString(h.Sum(nil))
	return &blob{path: path, key: keyOf(sum), sum: sum, size: size}
}

// writeFile copies r to a new file in dir and fsyncs it, as the archive
// does before Put.
func writeFile(t *testing.T, dir string, r io.Reader) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "put-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// keyOf is the archive's content-addressed key for a sha256.
func keyOf(sum string) string { return "sha256/" + sum[:2] + "/" + sum }

// flip returns another hex digit.
func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
