package folder_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/transports"
	"github.com/wharfedi/wharf/transports/folder"
	"github.com/wharfedi/wharf/transports/transporttest"
)

var ctx = context.Background()

func newFolder(t *testing.T) *folder.Folder {
	t.Helper()
	f, err := folder.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConformance(t *testing.T) {
	transporttest.Exercise(t, func(t *testing.T) transports.Transport { return newFolder(t) })
}

func TestNamesStayUnderTheRoot(t *testing.T) {
	f := newFolder(t)
	if err := f.Put(ctx, "../../escape.edi", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Root(), "escape.edi")); err != nil {
		t.Fatalf("a name with .. must land under the root: %v", err)
	}
}

// TestPollArchivesThenMoves: a finished file is archived (with its bytes),
// then moved to processed/; temporary names and sub-folders are ignored; a
// second poll finds nothing new; the same bytes under a new file name are a
// new receipt.
func TestPollArchivesThenMoves(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"erp"}, func(t *testing.T, e *flowtest.Env) {
		f := newFolder(t)
		root := f.Root()
		os.WriteFile(filepath.Join(root, "PO1.csv"), []byte("po,1\n"), 0o644)
		os.WriteFile(filepath.Join(root, ".PO2.csv.part"), []byte("half"), 0o644)
		os.MkdirAll(filepath.Join(root, "sub"), 0o755)
		o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: root, After: transports.AfterMove, MoveTo: "processed"}
		res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		if err != nil || res.Received != 1 {
			t.Fatalf("poll: %+v %v", res, err)
		}
		ms := e.Inbound(t, "erp")
		if len(ms) != 1 || ms[0].RemoteName != "PO1.csv" || ms[0].Transport != "folder" || e.Bytes(t, ms[0].ID) != "po,1\n" {
			t.Fatalf("archived: %+v", ms)
		}
		if _, err := os.Stat(filepath.Join(root, "processed", "PO1.csv")); err != nil {
			t.Fatalf("not moved to processed/: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, ".PO2.csv.part")); err != nil {
			t.Fatal("a temporary name was touched")
		}
		res, err = transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		if err != nil || res.Received != 0 || res.AlreadyHad != 0 {
			t.Fatalf("second poll: %+v %v", res, err)
		}
		if got := len(e.Inbound(t, "erp")); got != 1 {
			t.Fatalf("%d messages after a second poll", got)
		}
	})
}

// TestPollRetriesOnlyTheMove: when the move fails after archiving, the next
// poll finishes the move without archiving the file again.
func TestPollRetriesOnlyTheMove(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"erp"}, func(t *testing.T, e *flowtest.Env) {
		f := newFolder(t)
		root := f.Root()
		os.WriteFile(filepath.Join(root, "A.edi"), []byte("aaa"), 0o644)
		// A non-empty folder in the way of the move makes it fail.
		os.MkdirAll(filepath.Join(root, "processed", "A.edi", "x"), 0o755)
		o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: root, After: transports.AfterMove, MoveTo: "processed"}
		res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		if err == nil || res.Received != 1 {
			t.Fatalf("first poll should archive and report the failed move: %+v %v", res, err)
		}
		os.RemoveAll(filepath.Join(root, "processed", "A.edi"))
		res, err = transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		if err != nil || res.Received != 0 || res.AlreadyHad != 1 {
			t.Fatalf("second poll: %+v %v", res, err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "processed", "A.edi")); err != nil || string(b) != "aaa" {
			t.Fatal("the move was not retried")
		}
		if got := len(e.Inbound(t, "erp")); got != 1 {
			t.Fatalf("archived %d times", got)
		}
	})
}

// TestSizeStableRule: a file is fetched only when two polls saw the same
// size and modification time.
func TestSizeStableRule(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "erp")
	f := newFolder(t)
	p := filepath.Join(f.Root(), "GROWING.edi")
	os.WriteFile(p, []byte("part one"), 0o644)
	st := &transports.Stability{}
	o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), Stable: st, After: transports.AfterDelete}
	res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
	if err != nil || res.Received != 0 || res.Skipped != 1 {
		t.Fatalf("first sight must wait: %+v %v", res, err)
	}
	fh, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	fh.WriteString(" and part two")
	fh.Close()
	os.Chtimes(p, time.Now(), time.Now().Add(time.Second)) // a distinct mtime even on coarse clocks
	res, err = transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
	if err != nil || res.Received != 0 {
		t.Fatalf("a file that grew must wait: %+v %v", res, err)
	}
	res, err = transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
	if err != nil || res.Received != 1 {
		t.Fatalf("a stable file must be fetched: %+v %v", res, err)
	}
	ms := e.Inbound(t, "erp")
	if len(ms) != 1 || e.Bytes(t, ms[0].ID) != "part one and part two" {
		t.Fatalf("archived %+v", ms)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("not deleted after archiving")
	}
}

type rejecting struct{}

func (rejecting) Receive(ctx context.Context, in transports.Incoming, r io.Reader) (string, error) {
	return "", transports.ErrRejected
}

type failing struct{}

func (failing) Receive(ctx context.Context, in transports.Incoming, r io.Reader) (string, error) {
	return "", errors.New("database down")
}

// TestRejectedGoToErrorFolder: a permanent refusal moves the file to
// error/; a transient one leaves it for the next poll.
func TestRejectedGoToErrorFolder(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "erp")
	f := newFolder(t)
	os.WriteFile(filepath.Join(f.Root(), "BAD.edi"), []byte("x"), 0o644)
	o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), After: transports.AfterMove, MoveTo: "processed", ErrorTo: "error"}
	if _, err := transports.Poll(ctx, f, failing{}, e.Gateway, o); err == nil {
		t.Fatal("a failed receive must be reported")
	}
	if _, err := os.Stat(filepath.Join(f.Root(), "BAD.edi")); err != nil {
		t.Fatal("a transient failure must leave the file in place")
	}
	if _, err := transports.Poll(ctx, f, rejecting{}, e.Gateway, o); !errors.Is(err, transports.ErrRejected) {
		t.Fatalf("want ErrRejected, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.Root(), "error", "BAD.edi")); err != nil {
		t.Fatal("a rejected file must be moved to error/")
	}
}

// TestFollowSeesNewFiles: with the watcher (and a long rescan period, so
// the timer cannot be what finds it), a file dropped in is archived.
func TestFollowSeesNewFiles(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "erp")
	f := newFolder(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), After: transports.AfterMove, MoveTo: "processed"}
	polled := make(chan struct{}, 100)
	go transports.Follow(cctx, f, "", time.Hour, time.Hour, func(ctx context.Context) (transports.PollResult, error) {
		res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		polled <- struct{}{}
		return res, err
	}, func(err error) { t.Log(err) })
	<-polled // the first scan, once the watch is in place
	// Writer-side convention: a dot name, then a rename.
	tmp := filepath.Join(f.Root(), ".NEW.edi")
	os.WriteFile(tmp, []byte("new"), 0o644)
	os.Rename(tmp, filepath.Join(f.Root(), "NEW.edi"))
	deadline := time.After(30 * time.Second)
	for len(e.Inbound(t, "erp")) == 0 {
		select {
		case <-polled:
		case <-deadline:
			t.Fatal("the watcher did not trigger a poll that archived the new file")
		}
	}
}

// TestFollowRetriesAfterFailure: a poll that fails (the database is down,
// so the file stays) is retried soon, not at the next change or rescan (an
// hour here): when the outage ends and no new file arrives to wake the
// watcher, the files already waiting still go through.
func TestFollowRetriesAfterFailure(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "erp")
	f := newFolder(t)
	os.WriteFile(filepath.Join(f.Root(), "WAITING.edi"), []byte("x"), 0o644)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), After: transports.AfterDelete}
	down := 3 // the first polls fail, as while the database is down
	polled := make(chan struct{}, 100)
	go transports.Follow(cctx, f, "", time.Hour, 20*time.Millisecond, func(ctx context.Context) (transports.PollResult, error) {
		defer func() { polled <- struct{}{} }()
		if down > 0 {
			down--
			return transports.Poll(ctx, f, failing{}, e.Gateway, o)
		}
		return transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
	}, func(err error) {})
	deadline := time.After(30 * time.Second)
	for len(e.Inbound(t, "erp")) == 0 {
		select {
		case <-polled:
		case <-deadline:
			t.Fatal("after failed polls, the waiting file was not polled again before the rescan")
		}
	}
}

// TestFollowBurstBeyondMax: a burst of more files than one poll takes
// (PollOptions.Max) is taken in consecutive polls, not the first Max and
// the rest at the next rescan (an hour here).
func TestFollowBurstBeyondMax(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "erp")
	f := newFolder(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), After: transports.AfterDelete, Max: 5}
	polled := make(chan transports.PollResult, 100)
	go transports.Follow(cctx, f, "", time.Hour, time.Hour, func(ctx context.Context) (transports.PollResult, error) {
		res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		polled <- res
		return res, err
	}, func(err error) { t.Log(err) })
	<-polled // the first scan, once the watch is in place
	// One change event for 23 files: they are written under dot names,
	// then renamed while the watcher's events coalesce into few polls.
	for i := range 23 {
		os.WriteFile(filepath.Join(f.Root(), fmt.Sprintf(".B%02d.edi", i)), []byte("x"), 0o644)
	}
	for i := range 23 {
		os.Rename(filepath.Join(f.Root(), fmt.Sprintf(".B%02d.edi", i)), filepath.Join(f.Root(), fmt.Sprintf("B%02d.edi", i)))
	}
	deadline := time.After(30 * time.Second)
	for len(e.Inbound(t, "erp")) < 23 {
		select {
		case res := <-polled:
			if res.Received > 5 {
				t.Fatalf("one poll took %d files, more than Max 5", res.Received)
			}
		case <-deadline:
			t.Fatalf("%d of 23 files archived: the polls stopped at Max and waited for the rescan", len(e.Inbound(t, "erp")))
		}
	}
}

// TestPollConcurrent: with several workers, every file is archived exactly
// once and moved.
func TestPollConcurrent(t *testing.T) {
	flowtest.ForEachDB(t, archive.Options{}, []string{"erp"}, func(t *testing.T, e *flowtest.Env) {
		f := newFolder(t)
		for i := range 50 {
			os.WriteFile(filepath.Join(f.Root(), fmt.Sprintf("F%02d.csv", i)), fmt.Appendf(nil, "row,%d\n", i), 0o644)
		}
		o := transports.PollOptions{Partner: "erp", Transport: "folder", Origin: f.Root(), After: transports.AfterMove, MoveTo: "processed", Workers: 8}
		res, err := transports.Poll(ctx, f, e.Gateway, e.Gateway, o)
		if err != nil || res.Received != 50 {
			t.Fatalf("poll: %+v %v", res, err)
		}
		ms := e.Inbound(t, "erp")
		seen := map[string]bool{}
		for _, m := range ms {
			var i int
			fmt.Sscanf(m.RemoteName, "F%02d.csv", &i)
			if seen[m.RemoteName] || e.Bytes(t, m.ID) != fmt.Sprintf("row,%d\n", i) {
				t.Fatalf("duplicate or wrong bytes: %s", m.RemoteName)
			}
			seen[m.RemoteName] = true
		}
		left, _ := f.List(ctx, "")
		moved, _ := f.List(ctx, "processed")
		if len(seen) != 50 || len(left) != 0 || len(moved) != 50 {
			t.Fatalf("%d archived, %d left, %d moved", len(seen), len(left), len(moved))
		}
	})
}
