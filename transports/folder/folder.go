// Package folder is the local-folder transport and the copy-me reference
// for new transports (see docs/transports.md, "Adding a transport"): a
// small type implementing transports.Transport, optional capabilities
// (Renamer, Watcher) declared with compile-time checks at the end, errors
// translated to the transports sentinels at one place (translate), and a
// test file that only calls transporttest.Exercise plus what is specific.
//
// Names are slash-separated paths relative to the root; they cannot escape
// it. Names starting with '.' are temporary by convention: List hides them
// and Put writes under such a name, fsyncs, then renames, so readers (and
// Wharf's own polls) never see a partial file under its final name.
package folder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wharfedi/wharf/internal/durable"

	"github.com/fsnotify/fsnotify"

	"github.com/wharfedi/wharf/transports"
)

// Folder is a local (or mounted network) folder.
type Folder struct {
	root string
}

// New returns the transport rooted at root, which must be an existing folder.
func New(root string) (*Folder, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("folder: %w", translate(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("folder: %s is not a folder", root)
	}
	return &Folder{root: root}, nil
}

// Root is the folder the transport works in.
func (f *Folder) Root() string { return f.root }

// local maps a transport name to a path under the root.
func (f *Folder) local(name string) string {
	return filepath.Join(f.root, filepath.FromSlash(path.Clean("/"+name)))
}

// translate maps OS errors to the transports sentinels, keeping the cause.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", transports.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %w", transports.ErrPermission, err)
	}
	return err
}

// List implements transports.Transport: regular files directly inside dir,
// without temporary (dot) names and without sub-folders.
func (f *Folder) List(ctx context.Context, dir string) ([]transports.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(f.local(dir))
	if err != nil {
		return nil, fmt.Errorf("folder: list %s: %w", dir, translate(err))
	}
	out := make([]transports.Object, 0, len(ents))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, transports.Object{Name: path.Join(dir, e.Name()), Size: info.Size(), ModTime: info.ModTime()})
	}
	return out, nil
}

// Open implements transports.Transport.
func (f *Folder) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(f.local(name))
	if err != nil {
		return nil, fmt.Errorf("folder: open %s: %w", name, translate(err))
	}
	return fh, nil
}

// ctxReader stops a copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements transports.Transport: a temporary dot name in the target
// folder, made durable (flush), renamed over the final name, the rename
// made durable (a flush of the file system on Linux, else an fsync of the
// folder).
func (f *Folder) Put(ctx context.Context, name string, r io.Reader) (err error) {
	dst := f.local(name)
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, translate(err))
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("folder: put %s: %w", name, translate(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, err)
	}
	if err = flush(tmp, dir); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("folder: put %s: %w", name, translate(err))
	}
	if durable.CanSyncFS {
		return durable.SyncFS(dir)
	}
	return syncDir(dir)
}

// flush makes the temporary file's bytes durable before its rename, so the
// final name never holds a torn file: on Linux with a flush of the file
// system shared by the Puts under way at that moment (durable.SyncFS: many
// small files delivered at once pay one flush, not an fsync each), else
// with an fsync of the file.
func flush(tmp *os.File, dir string) error {
	if durable.CanSyncFS {
		return durable.SyncFS(dir)
	}
	return tmp.Sync()
}

// syncDir makes the folder's entries durable; concurrent callers share
// fsyncs (durable.SyncDir).
func syncDir(dir string) error { return durable.SyncDir(dir) }

// Remove implements transports.Transport.
func (f *Folder) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(f.local(name)); err != nil {
		return fmt.Errorf("folder: remove %s: %w", name, translate(err))
	}
	return nil
}

// Rename implements transports.Renamer (atomic within one file system);
// the target folder is created when missing.
func (f *Folder) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, dst := f.local(from), f.local(to)
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("folder: rename %s: %w", from, translate(err))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("folder: rename %s: %w", from, translate(err))
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("folder: rename %s to %s: %w", from, to, translate(err))
	}
	return syncDir(filepath.Dir(dst))
}

// Watch implements transports.Watcher with fsnotify (inotify on Linux).
// Network file systems often deliver no events: transports.Follow rescans
// on a timer as well.
func (f *Folder) Watch(ctx context.Context, dir string, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("folder: watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := w.Add(f.local(dir)); err != nil {
		return fmt.Errorf("folder: watch %s: %w", dir, translate(err))
	}
	changed() // watching: what was written before is found by this scan
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// A finished file shows up as a create (rename into the folder)
			// or as the last write before close.
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Rename) {
				changed()
			}
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			changed() // an overflowed queue lost events: rescan now
		}
	}
}

// Close implements transports.Transport; a folder holds no connection.
func (f *Folder) Close() error { return nil }

var (
	_ transports.Transport = (*Folder)(nil)
	_ transports.Renamer   = (*Folder)(nil)
	_ transports.Watcher   = (*Folder)(nil)
)
