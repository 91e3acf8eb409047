package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/wharfedi/wharf/internal/durable"
)

// ErrBlobNotFound: the blob store has no blob under the key.
var ErrBlobNotFound = errors.New("blob not found")

// BlobStore keeps immutable blobs under content-addressed keys
// ("sha256/ab/abcd..."). Implementations: the filesystem ([FS], also the
// spool) and S3-compatible object storage ([S3]). Package
// archive/blobtest is the conformance suite every implementation passes.
//
// Contract:
//   - Put is given a complete, fsync'd local file of exactly size bytes
//     whose sha256 the key names, and returns only once the blob is durable
//     under key. It must not move, change or remove the file (the archive
//     may need it again); the caller may remove the file once Put returned
//     (the archive removes its temporary file), but not change it ([FS]
//     hard-links it).
//   - Putting a key that exists is not an error: keys name content, so the
//     bytes are the same. Concurrent Puts of one key, from one file or from
//     several, all succeed.
//   - A Put that fails (a cancelled ctx, a file missing or not of size
//     bytes, a server error) never leaves a partial blob under key: the key
//     then holds nothing, or the whole blob (a remote store that finished as
//     the client gave up). A file not of size bytes is an error before
//     anything is stored.
//   - Open and Stat of a missing key return an error wrapping
//     ErrBlobNotFound; Delete of a missing key returns nil.
//   - Every method is safe for concurrent use and honours ctx.
//
// Optional capabilities, found by type assertion: TempDir() string (Put's
// files must be written there, as [FS] hard-links them) and Locked() bool
// (blobs are under Object Lock: Delete fails with an error wrapping
// ErrLocked and the blob stays).
type BlobStore interface {
	// Kind prefixes the index's blob refs: "fs", "s3" or "spool".
	Kind() string
	Put(ctx context.Context, key, path string, size int64) error
	// Open returns the blob's bytes; ErrBlobNotFound when absent.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the blob's size; ErrBlobNotFound when absent.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes the blob; deleting an absent blob is not an error.
	Delete(ctx context.Context, key string) error
	// Describe says where blobs live, without credentials.
	Describe() string
}

// blobKey is the content-addressed key of a sha256 (hex): one level of 256
// folders, as git does, so that the folders exist after warm-up and a Put
// creates no folder (each new folder costs an fsync of its parent).
func blobKey(sum string) string {
	return "sha256/" + sum[:2] + "/" + sum
}

// FS is a BlobStore in a local folder. Blobs are hard links to the archive's
// fsync'd temporary files (so Put never copies), made durable by fsyncing
// every folder it touched.
type FS struct {
	root string
	kind string
	id   string // a spool's own name (NewSpool), "" for the archive folder
}

// NewFS returns a filesystem store rooted at dir, creating it if needed.
// Its temporary files live in dir/.tmp (same filesystem, so links work).
func NewFS(dir string) (*FS, error) {
	return newFS(dir, "fs")
}

// NewSpool returns the local spool in dir for a remote blob store: where
// blobs wait while it is unreachable (refs "spool:...").
//
// Each spool has a name of its own, made once and kept in dir/.spool-id,
// and its blobs live under it ("spool:ID/sha256/..."): several instances
// of a cluster share the index but not their spools, and the ref says
// whose spool holds a blob (refs without an ID come from before names and
// belong to whichever spool has the file).
func NewSpool(dir string) (*FS, error) {
	f, err := newFS(dir, "spool")
	if err != nil {
		return nil, err
	}
	idFile := filepath.Join(dir, ".spool-id")
	if b, err := os.ReadFile(idFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		f.id = strings.TrimSpace(string(b))
		return f, nil
	} else if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("archive: spool %s: %w", idFile, err)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f.id = "s" + hex.EncodeToString(b)
	if err := durable.WriteFile(idFile, []byte(f.id+"\n"), 0o640); err != nil {
		return nil, fmt.Errorf("archive: spool %s: %w", idFile, err)
	}
	return f, nil
}

func newFS(dir, kind string) (*FS, error) {
	for _, d := range []string{dir, filepath.Join(dir, ".tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("archive: folder %s: %w", d, err)
		}
	}
	return &FS{root: dir, kind: kind}, nil
}

func (f *FS) Kind() string     { return f.kind }
func (f *FS) Describe() string { return f.root }

// TempDir is where the archive writes incoming files before they become blobs.
func (f *FS) TempDir() string { return filepath.Join(f.root, ".tmp") }

func (f *FS) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("archive: bad blob key %q", key)
	}
	return filepath.Join(f.root, filepath.FromSlash(key)), nil
}

func (f *FS) Put(ctx context.Context, key, path string, size int64) error {
	dir, err := f.link(ctx, key, path, size, false, false)
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// link makes the blob without the final fsync of its folder, which it
// returns: the archive fsyncs the folders of a whole group commit at once.
// flushed: the archive flushes the whole file system before its commit
// (Archive.flush), which makes a new blob folder durable too, so its parent
// is not fsync'd.
//
// verify: path's bytes may not be durable yet (the archive flushes them
// with its commit), so a blob already under this name may be the torn
// leftover of a crash between a link and its flush: an existing blob is
// hashed before it is taken as this content, and replaced if it is not.
func (f *FS) link(ctx context.Context, key, path string, size int64, flushed, verify bool) (string, error) {
	dst, err := f.path(key)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// The blob is the file itself (a hard link): a file of another size
	// than the caller hashed would be stored under a wrong address.
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("archive: store blob %s: %w", key, err)
	}
	if st.Size() != size {
		return "", fmt.Errorf("archive: store blob %s: %s has %d bytes, not %d", key, path, st.Size(), size)
	}
	dir := filepath.Dir(dst)
	mkdir := mkdirAllSync
	if flushed {
		mkdir = func(dir string) error { return os.MkdirAll(dir, 0o750) }
	}
	if err := mkdir(dir); err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	err = os.Link(path, dst)
	if errors.Is(err, fs.ErrExist) {
		// Same key, same content. A file of another size here is not ours
		// (or was damaged): replace it atomically.
		if st, serr := os.Stat(dst); serr == nil && st.Size() == size && (!verify || holds(dst, key)) {
			return dir, nil
		}
		// A name of its own per Put: two Puts repairing the same blob at
		// once must not remove each other's link.
		tmp := fmt.Sprintf("%s.replace-%d-%d", dst, os.Getpid(), replaceSeq.Add(1))
		if err := os.Link(path, tmp); err != nil {
			return "", fmt.Errorf("archive: store blob %s: %w", key, err)
		}
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		return "", fmt.Errorf("archive: store blob %s: %w", key, err)
	}
	return dir, nil
}

// holds tells whether the file's sha256 is the one its key names.
func holds(path, key string) bool {
	sum, _, err := hashFile(context.Background(), path)
	return err == nil && blobKey(sum) == key
}

// replaceSeq numbers the temporary links of blob repairs in this process.
var replaceSeq atomic.Uint64

func (f *FS) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	r, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("archive: %s: %w", key, ErrBlobNotFound)
	}
	return r, err
}

func (f *FS) Stat(ctx context.Context, key string) (int64, error) {
	p, err := f.path(key)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("archive: %s: %w", key, ErrBlobNotFound)
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (f *FS) Delete(ctx context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing to delete, and nothing changed to fsync (its folder may not exist)
	} else if err != nil {
		return fmt.Errorf("archive: delete blob %s: %w", key, err)
	}
	return syncDir(filepath.Dir(p))
}

// mkdirAllSync creates dir and its missing parents, fsyncing the parent of
// each folder it creates so the new entries survive a crash.
func mkdirAllSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// syncDir makes the folder's entries durable; concurrent callers share
// fsyncs (durable.SyncDir).
func syncDir(dir string) error { return durable.SyncDir(dir) }

var _ BlobStore = (*FS)(nil)
