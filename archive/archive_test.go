package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

var ctx = context.Background()

// forEachDB runs f against SQLite and PostgreSQL.
func forEachDB(t *testing.T, f func(t *testing.T, st store.Store)) { testenv.EachStore(t, f) }

func newFSArchive(t *testing.T, st store.Store, opts archive.Options) (*archive.Archive, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "archive")
	fsb, err := archive.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts.Blobs = fsb
	a, err := archive.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, dir
}

// tempFiles lists the files in the archive's temporary folders.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, ".tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestStaleTemporaryFilesRemoved(t *testing.T) {
	st := testenv.OpenStore(t, "sqlite")
	_, dir := newFSArchive(t, st, archive.Options{})
	// A crash between writing a temporary file and archiving it leaves the
	// file behind; nothing in the index refers to it.
	stale := filepath.Join(dir, ".tmp", "3", "put-123")
	fresh := filepath.Join(dir, ".tmp", "4", "put-456")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(stale, old, old)
	fsb, _ := archive.NewFS(dir)
	if _, err := archive.New(st, archive.Options{Blobs: fsb}); err != nil {
		t.Fatal(err)
	}
	if got := tempFiles(t, dir); len(got) != 1 || got[0] != fresh {
		t.Fatalf("after restart: %v, want only %s (a Put may still be writing it)", got, fresh)
	}
}

func put(t *testing.T, a *archive.Archive, content string, m archive.Meta) *archive.Entry {
	t.Helper()
	e, err := a.Put(ctx, strings.NewReader(content), m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func get(t *testing.T, a *archive.Archive, id string) string {
	t.Helper()
	rc, _, err := a.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestPutGetSearchEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		var committed []string
		a, dir := newFSArchive(t, st, archive.Options{OnCommit: func(ctx context.Context, tx store.Tx, e *archive.Entry) error {
			committed = append(committed, e.ID)
			return nil
		}})
		content := "ISA*00*          *00*          *ZZ*ACME~\x00binary\r\n"
		e := put(t, a, content, archive.Meta{Partner: "acme", Transport: "sftp", RemoteName: "in/po1.edi",
			Keys: []store.Key{{Kind: "po", Value: "PO-1"}}})
		if e.SHA256 != sum(content) || e.Size != int64(len(content)) || e.Direction != store.Inbound || e.Status != "received" || e.DuplicateOf != "" {
			t.Fatalf("entry %+v", e.Message)
		}
		if want := "fs:sha256/" + e.SHA256[:2] + "/" + e.SHA256; e.BlobRef != want {
			t.Fatalf("blob ref %q, want %q", e.BlobRef, want)
		}
		if _, err := os.Stat(filepath.Join(dir, "sha256", e.SHA256[:2], e.SHA256)); err != nil {
			t.Fatalf("content-addressed blob: %v", err)
		}
		if tmps := tempFiles(t, dir); len(tmps) != 0 {
			t.Fatalf("temporary files left: %v", tmps)
		}
		if len(committed) != 1 || committed[0] != e.ID {
			t.Fatalf("OnCommit calls %v", committed)
		}
		if got := get(t, a, e.ID); got != content {
			t.Fatalf("get returned %q", got)
		}
		// An empty file is content too.
		empty := put(t, a, "", archive.Meta{Partner: "acme", Direction: store.Outbound})
		if get(t, a, empty.ID) != "" || empty.Size != 0 {
			t.Fatal("empty content")
		}
		// Duplicates of the same partner get their own entry, flagged.
		dup := put(t, a, content, archive.Meta{Partner: "acme", RemoteName: "in/po1-again.edi"})
		other := put(t, a, content, archive.Meta{Partner: "beta"})
		if dup.ID == e.ID || dup.DuplicateOf != e.ID || other.DuplicateOf != "" {
			t.Fatalf("duplicate flags: dup %q other %q", dup.DuplicateOf, other.DuplicateOf)
		}
		// Search: newest first, by partner and by key.
		all, err := a.Search(ctx, store.MessageFilter{})
		if err != nil || len(all) != 4 || all[0].ID != other.ID || all[1].DuplicateOf != e.ID {
			t.Fatalf("search all: %d %v", len(all), err)
		}
		byKey, _ := a.Search(ctx, store.MessageFilter{Key: "PO-1"})
		if len(byKey) != 1 || byKey[0].ID != e.ID {
			t.Fatalf("search by key: %d", len(byKey))
		}
		evs, err := a.Events(ctx, dup.ID)
		if err != nil || len(evs) != 2 || evs[0].Kind != "received" || evs[1].Kind != "duplicate" {
			t.Fatalf("events %v %v", evs, err)
		}
		if _, err := a.Events(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("events of missing message: %v", err)
		}
		if _, _, err := a.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
		// Bad metadata is refused before anything is written.
		if _, err := a.Put(ctx, strings.NewReader("x"), archive.Meta{Partner: "../etc"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad partner: %v", err)
		}
		if _, err := a.Put(ctx, strings.NewReader("x"), archive.Meta{Partner: "acme", Direction: "up"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad direction: %v", err)
		}
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Entries != 4 || rep.Blobs != 4 {
			t.Fatalf("verify %+v %v", rep, err)
		}
	})
}

func TestOnCommitFailureRecordsNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		boom := errors.New("queue down")
		a, _ := newFSArchive(t, st, archive.Options{OnCommit: func(context.Context, store.Tx, *archive.Entry) error { return boom }})
		if _, err := a.Put(ctx, strings.NewReader("abc"), archive.Meta{Partner: "acme"}); !errors.Is(err, boom) {
			t.Fatalf("put: %v", err)
		}
		if all, _ := a.Search(ctx, store.MessageFilter{}); len(all) != 0 {
			t.Fatalf("entry recorded without its job")
		}
		if h, _ := st.ChainHead(ctx); h.Seq != 0 {
			t.Fatalf("chain moved: %+v", h)
		}
	})
}

// TestOnCommitSeesGenerated: OnCommit tells Wharf's own documents
// (Meta.Generated) from what partners sent.
func TestOnCommitSeesGenerated(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		seen := map[string]bool{}
		a, _ := newFSArchive(t, st, archive.Options{OnCommit: func(_ context.Context, _ store.Tx, e *archive.Entry) error {
			seen[e.RemoteName] = e.Generated
			return nil
		}})
		for _, m := range []archive.Meta{{Partner: "acme", RemoteName: "in.edi"},
			{Partner: "acme", Direction: store.Outbound, RemoteName: "997_in.edi", Generated: true}} {
			e, err := a.Put(ctx, strings.NewReader(m.RemoteName), m)
			if err != nil || e.Generated != m.Generated {
				t.Fatalf("put %s: %+v %v", m.RemoteName, e, err)
			}
		}
		if fmt.Sprint(seen) != "map[997_in.edi:true in.edi:false]" {
			t.Fatalf("OnCommit saw %v", seen)
		}
	})
}

// TestPutRefused: bytes refused on receipt are archived all the same, as
// rejected with the reason in their history, and OnCommit sees the refusal
// (so nothing processes them); only a received inbound message is refused.
func TestPutRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		seen := map[string]string{}
		a, _ := newFSArchive(t, st, archive.Options{OnCommit: func(_ context.Context, _ store.Tx, e *archive.Entry) error {
			seen[e.RemoteName] = e.Refused
			return nil
		}})
		e, err := a.Put(ctx, strings.NewReader(`{"type": "order"}`), archive.Meta{Partner: "acme", Transport: "api", RemoteName: "bad.json", Refused: "order_number: required"})
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != lifecycle.StatusRejected || seen["bad.json"] != "order_number: required" {
			t.Fatalf("refused entry %+v, OnCommit saw %q", e.Message, seen["bad.json"])
		}
		got, err := a.Entry(ctx, e.ID)
		if err != nil || got.Status != lifecycle.StatusRejected {
			t.Fatalf("stored: %+v %v", got, err)
		}
		evs, err := a.Events(ctx, e.ID)
		if err != nil || len(evs) != 2 || evs[0].Kind != lifecycle.EventReceived || evs[1].Kind != lifecycle.EventValidated ||
			!strings.Contains(evs[1].Detail, "order_number: required") {
			t.Fatalf("events %+v %v", evs, err)
		}
		if _, err := a.Put(ctx, strings.NewReader("x"), archive.Meta{Partner: "acme", Direction: store.Outbound, Refused: "no"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("outbound refused: %v, want ErrInvalid", err)
		}
		if rep, err := a.Verify(ctx, archive.VerifyOptions{}); err != nil || len(rep.Problems) != 0 {
			t.Fatalf("verify after a refused entry: %+v %v", rep, err)
		}
	})
}

func TestIdempotentPut(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		calls := 0
		a, _ := newFSArchive(t, st, archive.Options{OnCommit: func(context.Context, store.Tx, *archive.Entry) error { calls++; return nil }})
		m := archive.Meta{Partner: "acme", IdempotencyKey: "as2:<msg-1@acme>"}
		e1 := put(t, a, "payload", m)
		e2 := put(t, a, "payload", m)
		if e2.ID != e1.ID || !e2.Existing || e1.Existing || calls != 1 {
			t.Fatalf("retried put: %s %s existing=%v calls=%d", e1.ID, e2.ID, e2.Existing, calls)
		}
		// Concurrent retries with one key still make one entry.
		m.IdempotencyKey = "k2"
		errc := make(chan error, 4)
		ids := make(chan string, 4)
		for range 4 {
			go func() {
				e, err := a.Put(ctx, strings.NewReader("payload 2"), m)
				if err == nil {
					ids <- e.ID
				}
				errc <- err
			}()
		}
		for range 4 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		close(ids)
		first := ""
		for id := range ids {
			if first == "" {
				first = id
			} else if id != first {
				t.Fatalf("concurrent retries made two entries: %s %s", first, id)
			}
		}
		if all, _ := a.Search(ctx, store.MessageFilter{}); len(all) != 2 {
			t.Fatalf("entries: %d", len(all))
		}
		// A caller that looked the key up itself (KeyLookedUp) and raced
		// another Put still gets the first entry: the index refuses the
		// second, and Put looks it up then. Alone, and sharing a commit.
		m.KeyLookedUp = true
		if e := put(t, a, "payload 2", m); e.ID != first || !e.Existing {
			t.Fatalf("key looked up, already used: %s existing=%v, want %s", e.ID, e.Existing, first)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				m := m
				if i%2 == 1 {
					m.IdempotencyKey = fmt.Sprint("fresh-", i)
				}
				e, err := a.Put(ctx, strings.NewReader(fmt.Sprint("payload ", i)), m)
				if err != nil {
					t.Error(err)
				} else if i%2 == 0 && (e.ID != first || !e.Existing) {
					t.Errorf("put %d: %s existing=%v, want %s", i, e.ID, e.Existing, first)
				}
			})
		}
		wg.Wait()
		if all, _ := a.Search(ctx, store.MessageFilter{}); len(all) != 6 {
			t.Fatalf("entries: %d, want 6", len(all))
		}
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		a, dir := newFSArchive(t, st, archive.Options{})
		var es []*archive.Entry
		for i := range 5 {
			es = append(es, put(t, a, strings.Repeat("x", i+1), archive.Meta{Partner: "acme"}))
		}
		if rep, _ := a.Verify(ctx, archive.VerifyOptions{}); !rep.OK() || rep.Head.Seq != 5 {
			t.Fatalf("intact: %+v", rep)
		}
		// Altered bytes: the blob of entry 3 no longer matches.
		p := filepath.Join(dir, strings.TrimPrefix(es[2].BlobRef, "fs:"))
		if err := os.WriteFile(p, []byte("xxY"), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || rep.OK() || rep.Problems[0].Seq != 3 || rep.Problems[0].MessageID != es[2].ID || !strings.Contains(rep.Problems[0].What, "does not match") {
			t.Fatalf("altered blob: %+v %v", rep, err)
		}
		// The failed verify is one open exception for IT, naming the entry.
		if ex, err := a.Store().ListExceptions(ctx, store.ExceptionFilter{Reason: "archive_verify"}); err != nil || len(ex) != 1 ||
			ex[0].MessageID != es[2].ID || ex[0].Owner != store.OwnerIT || !strings.Contains(ex[0].Detail, "entry 3") {
			t.Fatalf("verify exception: %v %+v", err, ex)
		}
		// Get refuses to pass altered bytes off as the original.
		rc, _, _ := a.Get(ctx, es[2].ID)
		if _, err := io.ReadAll(rc); !errors.Is(err, archive.ErrCorrupt) {
			t.Fatalf("get of altered blob: %v", err)
		}
		rc.Close()
		if rep, _ := a.Verify(ctx, archive.VerifyOptions{SkipBlobs: true}); !rep.OK() {
			t.Fatalf("chain-only verify should pass: %+v", rep.Problems)
		}
		// A missing blob.
		os.Remove(filepath.Join(dir, strings.TrimPrefix(es[3].BlobRef, "fs:")))
		rep, _ = a.Verify(ctx, archive.VerifyOptions{})
		if len(rep.Problems) != 2 || rep.Problems[1].Seq != 4 || !strings.Contains(rep.Problems[1].What, "missing") {
			t.Fatalf("missing blob: %+v", rep.Problems)
		}
		// Altered metadata: entry 2's remote name is rewritten in the index.
		rawExec(t, st, `UPDATE messages SET remote_name = 'forged.edi' WHERE id = '`+es[1].ID+`'`)
		rep, _ = a.Verify(ctx, archive.VerifyOptions{SkipBlobs: true})
		if rep.OK() || rep.Problems[0].Seq != 2 || !strings.Contains(rep.Problems[0].String(), "entry 2 (message "+es[1].ID+")") {
			t.Fatalf("altered metadata: %+v", rep.Problems)
		}
		// A row written around the archive.
		if err := st.InsertMessage(ctx, &store.Message{ID: "rogue", PartnerID: "acme", Direction: store.Inbound}); err != nil {
			t.Fatal(err)
		}
		rep, _ = a.Verify(ctx, archive.VerifyOptions{SkipBlobs: true})
		if last := rep.Problems[len(rep.Problems)-1]; last.MessageID != "rogue" {
			t.Fatalf("unchained row: %+v", rep.Problems)
		}
	})
}

func TestDiskFullAndUnwritable(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		a, dir := newFSArchive(t, st, archive.Options{})
		// A write that fails midway (the disk filling up looks like this to
		// Put: an error after some bytes) records nothing and leaves nothing.
		enospc := &failingReader{data: bytes.Repeat([]byte("x"), 3<<20), failAt: 2 << 20, err: errors.New("no space left on device")}
		if _, err := a.Put(ctx, enospc, archive.Meta{Partner: "acme"}); err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("put: %v", err)
		}
		if tmps := tempFiles(t, dir); len(tmps) != 0 {
			t.Fatalf("partial temporary file left: %v", tmps)
		}
		if _, err := os.Stat(filepath.Join(dir, "sha256")); err == nil {
			t.Fatalf("a blob was stored for a failed put")
		}
		// A folder that cannot be written (read-only mount, full quota).
		if os.Geteuid() != 0 {
			subs, _ := filepath.Glob(filepath.Join(dir, ".tmp", "*"))
			for _, d := range append(subs, filepath.Join(dir, ".tmp")) {
				os.Chmod(d, 0o500)
				defer os.Chmod(d, 0o700)
			}
			if _, err := a.Put(ctx, strings.NewReader("abc"), archive.Meta{Partner: "acme"}); err == nil {
				t.Fatal("put into a read-only folder succeeded")
			}
		}
		// Cancellation mid-stream.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := a.Put(cctx, strings.NewReader("abc"), archive.Meta{Partner: "acme"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled put: %v", err)
		}
		if all, _ := a.Search(ctx, store.MessageFilter{}); len(all) != 0 {
			t.Fatalf("failed puts left %d entries", len(all))
		}
		if rep, _ := a.Verify(ctx, archive.VerifyOptions{}); !rep.OK() {
			t.Fatalf("verify after failures: %+v", rep.Problems)
		}
	})
}

// failingReader returns err once failAt bytes have been read.
type failingReader struct {
	data   []byte
	off    int
	failAt int
	err    error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.off >= r.failAt {
		return 0, r.err
	}
	n := copy(p, r.data[r.off:min(len(r.data), r.failAt)])
	r.off += n
	return n, nil
}

func TestRetention(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		rules, err := archive.ParseRules("keep=30d,delete=365d; acme:keep=7d,delete=60d")
		if err != nil {
			t.Fatal(err)
		}
		a, dir := newFSArchive(t, st, archive.Options{Retention: rules, Now: func() time.Time { return now }})
		day := 24 * time.Hour
		old := put(t, a, "old acme", archive.Meta{Partner: "acme", ReceivedAt: now.Add(-90 * day)})
		shared := put(t, a, "shared", archive.Meta{Partner: "acme", ReceivedAt: now.Add(-80 * day)})
		recent := put(t, a, "recent acme", archive.Meta{Partner: "acme", ReceivedAt: now.Add(-3 * day)})
		beta := put(t, a, "beta", archive.Meta{Partner: "beta", ReceivedAt: now.Add(-90 * day)})
		betaShared := put(t, a, "shared", archive.Meta{Partner: "beta", ReceivedAt: now.Add(-10 * day)})
		if _, err := st.NextCounter(ctx, "acme", "isa13"); err != nil {
			t.Fatal(err)
		}
		// keep-at-least: a purge reaching into the window is refused.
		if _, err := a.Purge(ctx, "acme", now.Add(-5*day), "manual"); !errors.Is(err, archive.ErrRetention) {
			t.Fatalf("purge inside acme's keep window: %v", err)
		}
		if _, err := a.Purge(ctx, "", now.Add(-10*day), "manual"); !errors.Is(err, archive.ErrRetention) {
			t.Fatalf("global purge inside the global keep window: %v", err)
		}
		// delete-after: acme's 60 days, beta under the global 365 days.
		n, err := a.PurgeExpired(ctx)
		if err != nil || n != 2 {
			t.Fatalf("purge expired: %d %v", n, err)
		}
		if _, _, err := a.Get(ctx, old.ID); !errors.Is(err, archive.ErrPurged) {
			t.Fatalf("get purged: %v", err)
		}
		for _, e := range []*archive.Entry{recent, beta, betaShared} {
			if get(t, a, e.ID) == "" {
				t.Fatalf("%s lost", e.ID)
			}
		}
		// The purged blob is gone; the shared one stays for beta.
		if _, err := os.Stat(filepath.Join(dir, strings.TrimPrefix(old.BlobRef, "fs:"))); !os.IsNotExist(err) {
			t.Fatalf("purged blob still there: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, strings.TrimPrefix(shared.BlobRef, "fs:"))); err != nil {
			t.Fatalf("blob shared with a live entry was deleted: %v", err)
		}
		// Tombstones: the chain verifies, history and index rows remain,
		// counters continue.
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Tombstones != 2 || rep.Entries != 5 || rep.Blobs != 3 {
			t.Fatalf("verify after purge: %+v %v", rep, err)
		}
		evs, _ := a.Events(ctx, old.ID)
		if len(evs) != 2 || evs[1].Kind != "purged" {
			t.Fatalf("events %v", evs)
		}
		if v, _ := st.NextCounter(ctx, "acme", "isa13"); v != 2 {
			t.Fatalf("counter reset by purge: %d", v)
		}
		if n, _ := a.PurgeExpired(ctx); n != 0 {
			t.Fatalf("second run purged %d", n)
		}
		// Marking an entry purged without a tombstone (hiding a blob) is caught.
		var at any = now
		if st.Driver() == "sqlite" {
			at = now.UnixMicro()
		}
		rawExec(t, st, `UPDATE archive_entries SET purged_at = $1 WHERE message_id = $2`, at, recent.ID)
		rep, _ = a.Verify(ctx, archive.VerifyOptions{})
		if rep.OK() || rep.Problems[0].MessageID != recent.ID || !strings.Contains(rep.Problems[0].What, "without a tombstone") {
			t.Fatalf("purged without tombstone: %+v", rep.Problems)
		}
	})
}

func rawExec(t *testing.T, st store.Store, stmt string, args ...any) {
	t.Helper()
	if err := tryExec(st, stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestPutFileLinksWithoutCopying(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		a, _ := newFSArchive(t, st, archive.Options{})
		staged := filepath.Join(t.TempDir(), "staged.edi")
		os.WriteFile(staged, []byte("ISA*staged content"), 0o600)
		e, err := a.PutFile(ctx, staged, archive.Meta{Partner: "acme", Transport: "sftp", RemoteName: "inbound/x.edi", Note: "from 127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if e.SHA256 != sum("ISA*staged content") || e.Size != 18 {
			t.Fatalf("entry %+v", e.Message)
		}
		// The caller's file is untouched and still the caller's to remove.
		if err := os.Remove(staged); err != nil {
			t.Fatalf("staged file: %v", err)
		}
		if got := get(t, a, e.ID); got != "ISA*staged content" {
			t.Fatalf("got %q", got)
		}
		evs, _ := a.Events(ctx, e.ID)
		if len(evs) == 0 || !strings.Contains(evs[0].Detail, `"note":"from 127.0.0.1"`) {
			t.Fatalf("received event lacks the note: %+v", evs)
		}
	})
}

// PutHashedFile takes the caller's sum instead of reading the file, but not
// a size the file does not have nor a malformed sum.
func TestPutHashedFileTrustsTheSumChecksTheSize(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		a, _ := newFSArchive(t, st, archive.Options{})
		staged := filepath.Join(t.TempDir(), "staged.edi")
		os.WriteFile(staged, []byte("ISA*hashed while written"), 0o600)
		m := archive.Meta{Partner: "acme", Transport: "sftp", RemoteName: "inbound/x.edi"}
		if _, err := a.PutHashedFile(ctx, staged, sum("ISA*hashed while written"), 10, m); err == nil {
			t.Fatal("a wrong size was accepted")
		}
		if _, err := a.PutHashedFile(ctx, staged, "ABC", 24, m); err == nil {
			t.Fatal("a malformed sum was accepted")
		}
		e, err := a.PutHashedFile(ctx, staged, sum("ISA*hashed while written"), 24, m)
		if err != nil {
			t.Fatal(err)
		}
		if e.SHA256 != sum("ISA*hashed while written") || e.Size != 24 {
			t.Fatalf("entry %+v", e.Message)
		}
		if got := get(t, a, e.ID); got != "ISA*hashed while written" {
			t.Fatalf("got %q", got)
		}
	})
}

// Retention rules that cannot mean what they say are refused with what to
// write instead: delete=0 (which reads as "never" but would purge at once)
// and a delete shorter than the keep.
func TestRetentionRulesRefused(t *testing.T) {
	for spec, want := range map[string]string{
		"delete=0h":              "0 would purge entries at once",
		"acme:keep=2h,delete=1h": "shorter than keep at least",
		"keep=7 years":           "use a number and a unit",
	} {
		if _, err := archive.ParseRules(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRules(%q): %v, want an error saying %q", spec, err, want)
		}
	}
}

// Concurrent Puts share a transaction (the group commit) and are written
// with multi-row statements: within one batch a repeated content is still
// flagged as a duplicate of the first, every entry gets its events, keys
// and chain record, and the chain verifies.
func TestConcurrentPutsShareACommit(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		const n = 150 // more than one 64-row statement per table
		var (
			mu      sync.Mutex
			perTx   = map[store.Tx]int{}
			started atomic.Int32
			hold    sync.Once
		)
		a, _ := newFSArchive(t, st, archive.Options{OnCommit: func(ctx context.Context, tx store.Tx, e *archive.Entry) error {
			// The first commit waits for the other Puts to queue behind it.
			hold.Do(func() {
				for started.Load() < n && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
			})
			mu.Lock()
			perTx[tx]++
			mu.Unlock()
			return nil
		}})
		entries := make([]*archive.Entry, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := archive.Meta{Partner: "acme", IdempotencyKey: fmt.Sprint("key-", i), RemoteName: fmt.Sprint("f", i),
					Keys: []store.Key{{Kind: "pro", Value: fmt.Sprint("PRO", i)}, {Kind: "bol", Value: fmt.Sprint("BOL", i)}}}
				started.Add(1)
				e, err := a.Put(ctx, strings.NewReader(fmt.Sprint("content ", i%(n/2))), m) // each content twice
				if err != nil {
					t.Error(err)
					return
				}
				entries[i] = e
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		shared := 0
		for _, c := range perTx {
			shared = max(shared, c)
		}
		if shared < 2 {
			t.Fatalf("no two Puts shared a transaction (%v): the batch path was not exercised", perTx)
		}
		byID := map[string]*archive.Entry{}
		for _, e := range entries {
			byID[e.ID] = e
		}
		dups := 0
		for _, e := range entries {
			evs, err := st.Events(ctx, e.ID)
			if err != nil || len(evs) == 0 || evs[0].Kind != lifecycle.EventReceived {
				t.Fatalf("message %s: events %+v %v", e.ID, evs, err)
			}
			if keys, _ := st.MessageKeys(ctx, e.ID); len(keys) != 2 {
				t.Fatalf("message %s: keys %+v", e.ID, keys)
			}
			if e.DuplicateOf == "" {
				continue
			}
			dups++
			first := byID[e.DuplicateOf]
			if first == nil || first.SHA256 != e.SHA256 || first.DuplicateOf != "" {
				t.Fatalf("message %s is a duplicate of %q, which is not the first with its content", e.ID, e.DuplicateOf)
			}
			if evs[len(evs)-1].Kind != lifecycle.EventDuplicate {
				t.Fatalf("duplicate %s: events %+v", e.ID, evs)
			}
		}
		if dups != n/2 {
			t.Fatalf("%d duplicates, want %d", dups, n/2)
		}
		// Each message's message.received event is in the outbox.
		for {
			if k, err := st.AssignOutbox(ctx, 1000); err != nil || k == 0 {
				break
			}
		}
		evs, err := st.OutboxAfter(ctx, 0, 1000)
		received := map[string]bool{}
		for _, ev := range evs {
			if ev.Type == "message.received" && byID[ev.ObjectKey] != nil && strings.Contains(string(ev.Data), ev.ObjectKey) {
				received[ev.ObjectKey] = true
			}
		}
		if err != nil || len(received) != n {
			t.Fatalf("%d message.received events for %d messages (%v)", len(received), n, err)
		}
		rep, err := a.Verify(ctx, archive.VerifyOptions{})
		if err != nil || !rep.OK() || rep.Entries != n {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	})
}

// What Wharf generates is not looked up as a duplicate; a later message
// with its content still finds it.
func TestGeneratedIsNoDuplicate(t *testing.T) {
	forEachDB(t, func(t *testing.T, st store.Store) {
		a, _ := newFSArchive(t, st, archive.Options{})
		first := put(t, a, "ISA*same", archive.Meta{Partner: "acme"})
		gen := put(t, a, "ISA*same", archive.Meta{Partner: "acme", Direction: store.Outbound, Generated: true})
		again := put(t, a, "ISA*same", archive.Meta{Partner: "acme"})
		if gen.DuplicateOf != "" || again.DuplicateOf != first.ID {
			t.Fatalf("generated flagged %q, later %q (want %q)", gen.DuplicateOf, again.DuplicateOf, first.ID)
		}
		genFirst := put(t, a, "ISA*ours", archive.Meta{Partner: "beta", Direction: store.Outbound, Generated: true})
		echo := put(t, a, "ISA*ours", archive.Meta{Partner: "beta"})
		if echo.DuplicateOf != genFirst.ID {
			t.Fatalf("a message with a generated one's content: duplicate of %q, want %q", echo.DuplicateOf, genFirst.ID)
		}
	})
}
