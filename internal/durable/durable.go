// Package durable makes files and folder entries durable with as few
// fsyncs as the guarantee allows. A new name in a folder (a file linked or
// renamed into it, a file removed) survives a crash only once the folder
// itself is fsync'd; a flow that writes many small files into one folder
// at once would fsync it once per file. SyncDir lets concurrent callers
// share: a call returns after an fsync of the folder that began after the
// call, so every entry made before the call is durable, and all the calls
// that arrive while one fsync runs are served by the next one.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// barrier is one folder's (or file system's) sync state: concurrent
// callers share its runs.
type barrier struct {
	mu       sync.Mutex
	cond     *sync.Cond
	running  bool
	started  uint64 // runs begun
	finished uint64 // the last run ended
	err      error  // its outcome
}

var barriers sync.Map // kind + cleaned path -> *barrier

// fsyncDir and syncFS are the system calls themselves (a test counts them).
var (
	fsyncDir = syncDir
	syncFS   = syncfs
)

// SyncDir fsyncs the folder, sharing the fsync with concurrent callers for
// the same folder. File systems that cannot fsync a folder (some network
// file systems answer EINVAL) count as done.
func SyncDir(path string) error {
	path = filepath.Clean(path)
	return share("dir:"+path, func() error { return fsyncDir(path) })
}

// SyncFS makes everything written to the file system that holds path
// durable (syncfs(2): file contents, new names, removals), sharing the call
// with concurrent callers on the same file system: a flow that creates many small
// files at once pays one flush per batch where it would pay an fsync of
// each file and of each folder. It returns errors.ErrUnsupported where the
// system has no syncfs (see CanSyncFS); callers then fsync what they wrote.
//
// The flush also writes other programs' pending data on that file system,
// so it suits a data folder of Wharf's own, not a folder shared with
// heavy writers.
func SyncFS(path string) error {
	if !CanSyncFS {
		return errors.ErrUnsupported
	}
	path = filepath.Clean(path)
	// Keyed by file system, not by folder: the archive and a delivery
	// folder on one disk share their flushes.
	return share("fs:"+fsKey(path), func() error { return syncFS(path) })
}

// fsKeys caches the file system of each folder SyncFS was given.
var fsKeys sync.Map // cleaned path -> string

// fsKey names the file system that holds path (its device number), or the
// path itself when it cannot be told.
func fsKey(path string) string {
	if k, ok := fsKeys.Load(path); ok {
		return k.(string)
	}
	k := path
	if dev, ok := device(path); ok {
		k = fmt.Sprintf("dev %d", dev)
		fsKeys.Store(path, k)
	}
	return k
}

// share runs fn for key such that the call returns after a run that began
// after the call (so it covers everything the caller did before), and all
// the calls that arrive while one run is under way are served by the next.
func share(key string, fn func() error) error {
	v, ok := barriers.Load(key)
	if !ok {
		b := &barrier{}
		b.cond = sync.NewCond(&b.mu)
		v, _ = barriers.LoadOrStore(key, b)
	}
	d := v.(*barrier)
	d.mu.Lock()
	defer d.mu.Unlock()
	// A run already under way began before this call: it may miss this
	// caller's writes, so the one after it is the first that counts.
	target := d.started + 1
	for d.finished < target {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		d.mu.Unlock()
		err := fn()
		d.mu.Lock()
		d.running = false
		d.finished, d.err = n, err
		d.cond.Broadcast()
	}
	return d.err
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fsync folder %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync folder %s: %w", path, err)
	}
	return nil
}

// WriteFile replaces path with b durably: a temporary file in the same
// folder, written and fsync'd, renamed over path, then the folder fsync'd.
// A crash leaves either the old content or the new, never a torn file.
func WriteFile(path string, b []byte, mode os.FileMode) error {
	return place(path, b, mode, os.Rename)
}

// CreateFile is WriteFile for a file that must not exist yet: the
// temporary file is linked to path, and when path exists it fails with an
// error errors.Is(err, fs.ErrExist) holds for, leaving it as it is (of two
// processes creating one file at once, one wins whole).
func CreateFile(path string, b []byte, mode os.FileMode) error {
	return place(path, b, mode, os.Link)
}

func place(path string, b []byte, mode os.FileMode, put func(tmp, path string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after a rename; the spare name after a link
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := put(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}
