package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrBlobNotFound: the blob store has no blob under the key.
var ErrBlobNotFound = errors.New("blob not found")

// BlobStore keeps immutable blobs under content-addressed keys
// ("sha256/ab/abcd..."). Implementations: the filesystem ([FS]) and
// S3-compatible object storage ([S3]).
//
// Contract: Put is given a complete, fsync'd local file and returns only
// once the blob is durable under key; it must not move or remove the file
// (the archive may need it again). Putting a key that exists is not an
// error: keys name content, so the bytes are the same. Every method is safe
// for concurrent use and honours ctx.
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
}

// NewFS returns a filesystem store rooted at dir, creating it if needed.
// Its temporary files live in dir/.tmp (same filesystem, so links work).
func NewFS(dir string) (*FS, error) {
	return newFS(dir, "fs")
}

// NewSpool returns the local spool in dir for a remote blob store: where
// blobs wait while it is unreachable (refs "spool:...").
func NewSpool(dir string) (*FS, error) {
	return newFS(dir, "spool")
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
	dir, err := f.link(ctx, key, path, size)
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// link makes the blob without the final fsync of its folder, which it
// returns: the archive fsyncs the folders of a whole group commit at once.
func (f *FS) link(ctx context.Context, key, path string, size int64) (string, error) {
	dst, err := f.path(key)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(dst)
	if err := mkdirAllSync(dir); err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	err = os.Link(path, dst)
	if errors.Is(err, fs.ErrExist) {
		// Same key, same content. A file of another size here is not ours
		// (or was damaged): replace it atomically.
		if st, serr := os.Stat(dst); serr == nil && st.Size() == size {
			return dir, nil
		}
		tmp := dst + ".replace"
		_ = os.Remove(tmp)
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
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

var _ BlobStore = (*FS)(nil)
