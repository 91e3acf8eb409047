package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// Scenario 4, a full disk and a read-only archive: the data folder is a
// small tmpfs the test mounts, so the SQLite database, the archive and the
// SFTP spool all live on it.
//
//   - Full: a filler file takes every free byte while the load runs, and
//     is kept topped up (Wharf frees temporary files as it fails).
//   - Read-only: the archive folder is made read-only (a bind mount of it
//     remounted ro). The whole file system cannot be: Linux refuses to
//     remount read-only a file system with files open for writing
//     ("mount point is busy"), and SQLite's database is. A disk that the
//     kernel itself turns read-only after errors is forced; the archive
//     being read-only is the part of it a test can make.
//
// Either way Wharf must stay up, answer /readyz with 503 while the archive
// cannot be written (its check creates and fsyncs a file in the archive's
// .tmp folder), never give a false OK (the audit would find an
// acknowledged document that is not archived), and take everything once
// the space or the write access is back. A full disk refuses SFTP and HTTP
// uploads with an error. A read-only archive folder does not stop the
// load's small documents: the index keeps their bytes (archive.inline_kb),
// so they go on being acknowledged, and archived, during that fault.
func TestDiskFullAndReadOnly(t *testing.T) {
	total, rate, hold := scale(600, 3000), 50, scale(5*time.Second, 30*time.Second)
	data := tmpfs(t, 64)

	s := newSite(t, siteOptions{Data: data})
	s.start()
	ready := watchReady(s)
	l := startLoad(s, total, rate)
	archiveDir := filepath.Join(data, "archive")
	faults := []struct {
		name           string
		inject, remove func() error
		refuses        bool // else the load goes on during the fault
	}{
		{"disk full", func() error { return fillUp(data, hold) }, func() error { return os.Remove(filepath.Join(data, "filler")) }, true},
		{"archive read-only", func() error { return readOnly(archiveDir) }, func() error { return readWrite(archiveDir) }, false},
	}
	var (
		figures []string
		ended   time.Time // the last fault's removal
	)
	for i, f := range faults {
		target := total * (i + 1) / (len(faults) + 2)
		deadline := time.Now().Add(2 * time.Minute)
		for l.ackedCount() < target {
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d of %d documents acknowledged after 2 minutes", f.name, l.ackedCount(), target)
			}
			time.Sleep(10 * time.Millisecond)
		}
		before, ackedBefore := l.errors(), l.ackedCount()
		began := time.Now()
		if err := f.inject(); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		to503, went := ready.await(503, began, hold)
		time.Sleep(time.Until(began.Add(hold))) // the fault itself (fillUp holds it by itself)
		refused, ackedDuring := l.errors(), l.ackedCount()-ackedBefore
		l.mu.Lock()
		lastHTTP := l.lastErr[doorHTTP]
		l.mu.Unlock()
		if !s.running() {
			t.Fatalf("%s: wharf serve exited:\n%s", f.name, tail(s.logs.String(), 8<<10))
		}
		if err := f.remove(); err != nil {
			t.Fatalf("%s: undo: %v", f.name, err)
		}
		removed := time.Now()
		ended = removed
		to200, back := ready.await(200, removed, time.Minute)

		if !went {
			t.Errorf("%s: /readyz never answered 503 while the archive could not be written", f.name)
		}
		if !back {
			t.Errorf("%s: /readyz not 200 again within a minute of the fault's end", f.name)
		}
		during := map[door]int{}
		for d, n := range refused {
			during[d] = n - before[d]
		}
		for _, d := range []door{doorSFTP, doorHTTP} {
			if f.refuses && during[d] == 0 {
				t.Errorf("%s: no %s upload refused while the archive could not be written (a false OK?)", f.name, d)
			}
		}
		if !f.refuses && ackedDuring == 0 {
			t.Errorf("%s: no document acknowledged during the fault; the index keeps small documents, a read-only archive folder should not stop them", f.name)
		}
		if during[doorHTTP] > 0 && !strings.Contains(lastHTTP, "503") {
			t.Errorf("%s: an HTTP upload was refused with %q, want 503 (retryable)", f.name, lastHTTP)
		}
		figures = append(figures, fmt.Sprintf("%s %s: readyz 503 after %s, 200 again %s after the fault's end, refusals %v, %d acknowledged during it",
			f.name, hold, to503.Round(10*time.Millisecond), to200.Round(10*time.Millisecond), during, ackedDuring))
	}
	finishOutages(t, s, l, ended, "fault", figures)
}

const mountHint = "run the test as root (it mounts a small tmpfs; in a container, one allowed to mount)"

// tmpfs mounts a tmpfs of mb megabytes on a new folder and unmounts it when
// the test ends (after the server is killed: register it before newSite).
func tmpfs(t *testing.T, mb int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wharf-faults-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mb), "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		testenv.Missing(t, "mount (a small tmpfs)", mountHint, fmt.Errorf("%v: %s", err, out))
	}
	t.Cleanup(func() {
		// The archive's bind mount (readOnly), then the tmpfs.
		exec.Command("umount", filepath.Join(dir, "archive")).Run()
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// fillUp writes dir/filler until the file system is full, and keeps it
// full for hold: Wharf removes its temporary files as its writes fail,
// and each freed block is taken again at once.
func fillUp(dir string, hold time.Duration) error {
	f, err := os.OpenFile(filepath.Join(dir, "filler"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	top := func() error { // halve the chunk at each ENOSPC, down to one block
		for n := len(buf); n >= 4096; {
			if _, err := f.Write(buf[:n]); errors.Is(err, syscall.ENOSPC) {
				n /= 2
			} else if err != nil {
				return err
			}
		}
		return nil
	}
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if err := top(); err != nil {
			return err
		}
	}
	return nil
}

// readOnly makes dir read-only: a bind mount of it on itself, remounted ro.
func readOnly(dir string) error {
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount --bind %s: %v: %s", dir, err, out)
	}
	// The remount fails as busy while a file on the new mount is open for
	// writing (a Put's temporary file under load, opened between the two
	// commands): such files live milliseconds, so try again a while.
	var err error
	var out []byte
	for range 100 {
		if out, err = exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remount %s read-only: %v: %s", dir, err, out)
}

// readWrite makes dir writable again (the bind mount, remounted rw: an
// unmount could find it busy; tmpfs's cleanup unmounts it).
func readWrite(dir string) error {
	if out, err := exec.Command("mount", "-o", "remount,bind,rw", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("remount %s read-write: %v: %s", dir, err, out)
	}
	return nil
}
