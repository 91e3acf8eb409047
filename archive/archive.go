// Package archive owns every byte Wharf receives or sends: blob stores (the
// filesystem and S3-compatible object storage), the message index with its
// append-only event history (kept by package store), the hash chain that
// makes tampering evident, the local spool that keeps Put working while S3
// is unreachable, and retention.
//
// Put streams content to a temporary file beside the blob store (constant
// memory), computing its sha256 while writing, makes it durable, makes it a
// content-addressed blob (sha256/ab/abcd...), makes that name durable, and
// then commits the index row, its hash-chain record, its first event and
// the caller's job (the OnCommit hook) in ONE database transaction. A folder
// archive keeps a small file (Options.InlineMax) in that transaction
// instead, in the index itself, and makes no file for it (inline.go).
// "Durable" is an fsync of the file and of its folder or, for a folder
// archive on Linux, a flush of the whole file system (syncfs) shared by the
// Puts under way at that moment, before their group commit (and, for a
// blob over 1 MiB, one before it is linked). Only then does Put return: a
// crash at any point leaves either a complete entry whose blob exists, or
// no entry at all (at worst an unreferenced blob or temporary file).
//
// Get returns the original bytes and fails at the end if they no longer
// match the recorded sha256. Verify re-hashes every blob and walks the chain.
//
// The archive does not know about jobs or formats: callers enqueue work in
// OnCommit and attach business keys later through the store.
package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/internal/durable"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Errors.
var (
	// ErrPurged: retention removed the blob; the entry is a tombstone.
	ErrPurged = errors.New("purged by retention")
	// ErrCorrupt: the stored bytes no longer match the recorded sha256.
	ErrCorrupt = errors.New("blob does not match its sha256")
	// ErrRetention: a purge would remove entries a keep-at-least rule protects.
	ErrRetention = errors.New("refused by retention rule")
)

// Meta describes content handed to Put.
type Meta struct {
	Partner       string          // partner ID (required)
	Direction     store.Direction // in (default) or out
	Transport     string          // sftp, as2, s3, folder, http, cli, ...
	RemoteName    string          // the name the remote side used
	CorrelationID string
	ParentID      string // message this one derives from or replays
	// IdempotencyKey makes Put safe to retry: a second Put with the same key
	// for the same partner returns the first entry instead of a new one.
	// Use what identifies the delivery (AS2 Message-ID, SFTP path+mtime+size, ...).
	IdempotencyKey string
	// KeyLookedUp tells Put that the caller found no entry with
	// IdempotencyKey just before (a poll's ledger, a send's lookup before
	// rendering), so Put does not look again first. A Put that races
	// another with the same key still returns the first entry: the index
	// refuses the second and Put looks it up then.
	KeyLookedUp bool
	ReceivedAt  time.Time   // default: now
	Keys        []store.Key // business keys already known at receipt
	// Note is added to the "received" event (e.g. the remote address).
	Note string
	// Status is the entry's first status, an initial one (default
	// lifecycle.StatusReceived); outbound documents that wait for a partner
	// to fetch them start as lifecycle.StatusWaiting.
	Status lifecycle.Status
	// Generated marks bytes Wharf produced itself that processing would
	// record nothing about (its own TA1/997/999); OnCommit sees it in
	// Entry.Generated and need not enqueue processing for them.
	Generated bool
	// SentByCaller: the caller sends this outbound message itself and
	// records the outcome (processing delivers its acknowledgments to a
	// folder before recording the file's outcome); OnCommit sees it in
	// Entry.SentByCaller and need not enqueue its delivery.
	SentByCaller bool
	// Unsynced (PutFile, PutHashedFile): the caller did not fsync its
	// file; Put makes the bytes durable before it links them.
	Unsynced bool
	// Refused is why the receiving side refused the bytes it keeps (a
	// malformed document posted to the API): the message is recorded as
	// rejected, with the reason in a "validated" event, and OnCommit sees
	// it in Entry.Refused so that nothing processes it. Inbound only.
	Refused string
}

// Entry is an archived message.
type Entry struct {
	*store.Message
	DuplicateOf string    // earlier message of the same partner with the same content
	PurgedAt    time.Time // non-zero for tombstones
	IdemKey     string
	// Existing is set by Put when the idempotency key matched an earlier entry.
	Existing bool
	// Generated and SentByCaller are Meta's of the Put that created the
	// entry (not stored: only OnCommit and Put's caller see them).
	Generated, SentByCaller bool
	// Refused is Meta's: the entry was archived as rejected (not stored
	// apart from its status and event).
	Refused string
	// blob is the content of a blob the index keeps, read with the entry
	// (Entry), for Open.
	blob []byte
}

// Spooled reports whether the entry's blob waits in the local spool for upload.
func (e *Entry) Spooled() bool { return strings.HasPrefix(e.BlobRef, "spool:") }

// Options configure an Archive.
type Options struct {
	// Blobs is where blobs live (required).
	Blobs BlobStore
	// Spool is a local folder for temporary files and, when Blobs fails,
	// for blobs waiting to be uploaded. Required unless Blobs is an *FS
	// (whose own .tmp folder is used, and which never spools).
	Spool *FS
	// OnCommit runs inside the transaction that records a new entry
	// (not for an idempotent repeat). Enqueue the processing job here.
	OnCommit func(ctx context.Context, tx store.Tx, e *Entry) error
	// Committed runs after a transaction that recorded new entries has
	// committed: what OnCommit queued can be woken now (it sees the rows).
	Committed func()
	// Retention rules for Purge (keep-at-least / delete-after, per partner or global).
	Retention []Rule
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
	Now       func() time.Time
	// FsyncEach: a folder archive fsyncs each blob and each blob folder
	// instead of sharing flushes of its file system (durable.SyncFS) among
	// concurrent Puts; for an archive folder on a file system other
	// programs write to heavily.
	FsyncEach bool
	// InlineMax: a folder archive keeps blobs of up to this many bytes in
	// the index database, written with their message's record, instead of
	// in files of their own (inline.go); 0 keeps every blob in a file. An
	// archive in any other blob store keeps every blob there.
	InlineMax int64
}

// Archive is safe for concurrent use.
type Archive struct {
	st      store.Store
	opts    Options
	blobs   BlobStore
	spool   *FS
	tmpDirs []string      // where Put writes its temporary files, see tempDirs
	tmpNext atomic.Uint32 // round robin over tmpDirs
	log     *slog.Logger
	metrics *metrics
	// flush: the blob store is a local folder on a system with syncfs(2):
	// Puts do not fsync each file and folder; concurrent Puts share one
	// flush of the file system before they link their blobs and one before
	// their group commit (durable.SyncFS).
	flush string
	// inline is Options.InlineMax for a folder archive, else 0.
	inline int64

	downUntil atomic.Int64 // unix nanos: until then Put spools without trying blobs

	ready readiness // Ready's cached probe

	// The index's group commit (SQLite's), which writes the records of
	// the Puts sharing one of its commits together (commitMerged); nil:
	// the archive batches them itself (commit).
	merger store.Merger
	merged *store.Merge

	cm struct { // group commit, see commit
		sync.Mutex
		queue   []*pending
		leading bool
	}
}

// New returns an archive over the store and the blob store in opts.
func New(st store.Store, opts Options) (*Archive, error) {
	if opts.Blobs == nil {
		return nil, errors.New("archive: no blob store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := validateRules(opts.Retention); err != nil {
		return nil, err
	}
	a := &Archive{st: st, opts: opts, blobs: opts.Blobs, spool: opts.Spool, log: opts.Logger}
	if m, ok := st.(store.Merger); ok {
		a.merger, a.merged = m, &store.Merge{Run: a.recordItems}
	}
	var tmp string
	if fsb, ok := opts.Blobs.(*FS); ok {
		tmp = fsb.TempDir()
		a.spool = nil
		if durable.CanSyncFS && !opts.FsyncEach {
			a.flush = fsb.root
		}
		a.inline = max(opts.InlineMax, 0)
	} else {
		if opts.InlineMax > 0 {
			return nil, fmt.Errorf("archive: blob store %s keeps every blob itself; only a folder archive keeps small blobs in the index", opts.Blobs.Describe())
		}
		if opts.Spool == nil {
			return nil, fmt.Errorf("archive: blob store %s needs a local spool folder", opts.Blobs.Describe())
		}
		tmp = opts.Spool.TempDir()
	}
	var err error
	if a.tmpDirs, err = tempDirs(tmp, a.log); err != nil {
		return nil, err
	}
	a.metrics = newMetrics(opts.Metrics)
	return a, nil
}

// Store returns the index's store.
func (a *Archive) Store() store.Store { return a.st }

// Local tells whether blobs live in a local folder (the data folder's
// archive), which no other machine can read.
func (a *Archive) Local() bool { _, ok := a.blobs.(*FS); return ok }

// Describe says where blobs live.
func (a *Archive) Describe() string {
	if a.spool != nil {
		return a.blobs.Describe() + " (spool " + a.spool.Describe() + ")"
	}
	return a.blobs.Describe()
}

func (a *Archive) now() time.Time { return a.opts.Now().UTC().Truncate(time.Microsecond) }

// storeFor returns the blob store a ref names, and the key inside it.
func (a *Archive) storeFor(ref string) (BlobStore, string, error) {
	return a.storeIn(a.st, ref)
}

// storeIn is storeFor inside a transaction: blobs the index keeps are
// read and deleted through q.
func (a *Archive) storeIn(q store.Queries, ref string) (BlobStore, string, error) {
	kind, key, ok := strings.Cut(ref, ":")
	if !ok || key == "" {
		return nil, "", fmt.Errorf("archive: blob ref %q is malformed", ref)
	}
	switch {
	case kind == dbKind: // whatever the blob store: it may have been a folder's once
		return dbBlobs{q: q, name: a.st.Describe()}, key, nil
	case kind == a.blobs.Kind():
		return a.blobs, key, nil
	case kind == "spool" && a.spool != nil && a.ownSpoolKey(key):
		return a.spool, key, nil
	case kind == "spool":
		owner, _, _ := strings.Cut(key, "/")
		return nil, "", fmt.Errorf("archive: blob %s: %w: it waits in the spool of another instance (%s) for its upload to %s, which that instance retries until it succeeds",
			ref, lifecycle.ErrWait, owner, a.blobs.Describe())
	}
	return nil, "", fmt.Errorf("archive: blob ref %q names a %s store, but this archive is %s", ref, kind, a.Describe())
}

// Put archives the content read from r. See the package documentation for
// what it guarantees. An error means nothing was recorded (a blob or
// temporary file may remain; neither is referenced).
func (a *Archive) Put(ctx context.Context, r io.Reader, m Meta) (*Entry, error) {
	return a.put(ctx, m, func() (content, error) {
		if a.inline > 0 {
			b, rest, err := readSmall(ctx, r, a.inline)
			if err != nil {
				return content{}, err
			}
			if rest == nil {
				return content{bytes: b, sum: sumOf(b), size: int64(len(b))}, nil
			}
			r = rest
		}
		tmp, sum, size, err := a.writeTemp(ctx, r)
		return content{path: tmp, sum: sum, size: size, owned: true}, err
	})
}

// content is what put archives: a file (owned: put wrote it, and removes
// it) or, for a blob the index keeps, its bytes.
type content struct {
	path  string
	sum   string // hex sha256
	size  int64
	owned bool
	bytes []byte // not nil: kept in the index, no file
}

// PutFile archives a complete file the caller has already written and
// fsync'd (an SFTP upload's staging file). The file is hashed in place and
// linked into the blob store instead of being copied, when both are on one
// file system. The caller keeps and removes its file.
func (a *Archive) PutFile(ctx context.Context, path string, m Meta) (*Entry, error) {
	return a.putFile(ctx, path, "", -1, m, func() (string, int64, error) { return hashFile(ctx, path) })
}

// PutHashedFile is PutFile for a file whose sha256 (hex) and size the caller
// computed from the bytes as it wrote them (an SFTP upload hashed while it
// arrived): the file is not read again. The size is checked against the
// file; the sum is trusted, so it must come from the very bytes in the file
// (a wrong one files the blob under a wrong address, which Verify reports).
func (a *Archive) PutHashedFile(ctx context.Context, path, sum string, size int64, m Meta) (*Entry, error) {
	if !store.IsHexSHA256(sum) {
		return nil, fmt.Errorf("archive: put: %q is not a hex sha256", sum)
	}
	return a.putFile(ctx, path, sum, size, m, func() (string, int64, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return "", 0, fmt.Errorf("archive: put: %w", err)
		}
		if fi.Size() != size {
			return "", 0, fmt.Errorf("archive: put: %s has %d bytes, not the %d hashed", path, fi.Size(), size)
		}
		return sum, size, nil
	})
}

// putFile archives the file at path; hash returns its sha256 and size
// (sum and size: the caller's, "" and -1 for none). A small file the index
// keeps is read instead, and hashed from the bytes read.
func (a *Archive) putFile(ctx context.Context, path, sum string, size int64, m Meta, hash func() (string, int64, error)) (*Entry, error) {
	e, err := a.put(ctx, m, func() (content, error) {
		if a.inline > 0 {
			if c, ok, err := a.smallFile(ctx, path, sum, size); ok || err != nil {
				return c, err
			}
		}
		sum, size, err := hash()
		return content{path: path, sum: sum, size: size}, err
	})
	if errors.Is(err, syscall.EXDEV) { // another file system: copy after all
		f, ferr := os.Open(path)
		if ferr != nil {
			return nil, fmt.Errorf("archive: put: %w", ferr)
		}
		defer f.Close()
		return a.Put(ctx, f, m)
	}
	return e, err
}

// smallFile reads the file at path when the index keeps it (ok); want and
// wantSize are the sha256 and size the caller computed ("" and -1 for
// none), checked against the bytes.
func (a *Archive) smallFile(ctx context.Context, path, want string, wantSize int64) (c content, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return content{}, false, fmt.Errorf("archive: put: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return content{}, false, fmt.Errorf("archive: put: %w", err)
	}
	if fi.Size() > a.inline {
		return content{}, false, nil
	}
	b, rest, err := readSmall(ctx, io.LimitReader(f, a.inline+1), a.inline)
	if err != nil || rest != nil { // grew since its stat: archive it as a file
		return content{}, false, err
	}
	if wantSize >= 0 && int64(len(b)) != wantSize {
		return content{}, false, fmt.Errorf("archive: put: %s has %d bytes, not the %d hashed", path, len(b), wantSize)
	}
	sum := sumOf(b)
	if want != "" && sum != want {
		return content{}, false, fmt.Errorf("archive: put: %s does not hold the bytes hashed as %s (%d bytes with sha256 %s)", path, want, len(b), sum)
	}
	return content{bytes: b, sum: sum, size: int64(len(b))}, true, nil
}

func hashFile(ctx context.Context, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("archive: put: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	size, err := io.CopyBuffer(h, ctxReader{ctx, f}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return "", 0, fmt.Errorf("archive: put: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

// put validates m, obtains the content's file (written to a temporary file
// that put then owns, or the caller's), and records it.
func (a *Archive) put(ctx context.Context, m Meta, read func() (content, error)) (*Entry, error) {
	if err := store.ValidPartnerID(m.Partner); err != nil {
		return nil, fmt.Errorf("archive: put: %w", err)
	}
	if m.Direction == "" {
		m.Direction = store.Inbound
	}
	if m.Direction != store.Inbound && m.Direction != store.Outbound {
		return nil, fmt.Errorf("archive: put: %w: direction %q must be in or out", store.ErrInvalid, m.Direction)
	}
	if m.Status == "" {
		m.Status = lifecycle.StatusReceived
	}
	if !m.Status.Initial() {
		return nil, fmt.Errorf("archive: put: %w: %q is not a status a message starts in", store.ErrInvalid, m.Status)
	}
	if m.Refused != "" && (m.Direction != store.Inbound || m.Status != lifecycle.StatusReceived) {
		return nil, fmt.Errorf("archive: put: %w: only a received inbound message can be refused", store.ErrInvalid)
	}
	if m.IdempotencyKey != "" && !m.KeyLookedUp {
		if e, err := a.existing(ctx, m); e != nil || err != nil {
			return e, err
		}
	}
	start := time.Now()
	c, err := read()
	if err != nil {
		a.metrics.putErrors.Inc()
		return nil, err
	}
	tmp, sum, size, owned := c.path, c.sum, c.size, c.owned
	if owned {
		defer os.Remove(tmp)
	}
	key := blobKey(sum)
	// The file's bytes are durable before the index points to them. A
	// large file is made durable before a blob name points to it, so a
	// name never holds a torn large file, even after a crash. A small one
	// (most EDI) is linked at once and flushed with the group commit's
	// flush: a crash in between may leave a torn blob under its name, no
	// index row pointing to it, and the next Put of that content finds it
	// by its hash and replaces it (FS.link's verify), which costs a read
	// of a small file instead of a flush per Put.
	// (writeTemp fsyncs its files itself unless the archive flushes them.)
	// A blob the index keeps is durable with the commit that records it.
	var ref, dir string
	if c.bytes != nil {
		ref = dbKind + ":" + key
	} else {
		unsynced := owned && a.flush != "" || !owned && m.Unsynced
		lazy := unsynced && a.flush != "" && size <= lazyBlob
		if !lazy {
			if err := a.syncContent(tmp, unsynced); err != nil {
				a.metrics.putErrors.Inc()
				return nil, err
			}
		}
		if ref, dir, err = a.placeBlob(ctx, key, tmp, size, lazy); err != nil {
			a.metrics.putErrors.Inc()
			return nil, err
		}
	}
	msg := &store.Message{
		ID: store.NewID(), PartnerID: m.Partner, Direction: m.Direction, Transport: m.Transport, RemoteName: m.RemoteName,
		Size: size, SHA256: sum, BlobRef: ref, Status: m.Status, CorrelationID: m.CorrelationID, ParentID: m.ParentID,
		ReceivedAt: m.ReceivedAt,
	}
	if msg.ReceivedAt.IsZero() {
		msg.ReceivedAt = a.now()
	}
	msg.ReceivedAt = msg.ReceivedAt.UTC().Truncate(time.Microsecond)
	if m.Refused != "" {
		msg.Status = lifecycle.StatusRejected
	}
	e := &Entry{Message: msg, IdemKey: m.IdempotencyKey, Generated: m.Generated, SentByCaller: m.SentByCaller, Refused: m.Refused}
	err = a.commit(&pending{ctx: ctx, e: e, tmp: tmp, blob: c.bytes, dir: dir, keys: m.Keys, note: m.Note, done: make(chan error, 1)})
	if errors.Is(err, store.ErrConflict) && m.IdempotencyKey != "" {
		// A concurrent Put with the same key won the race.
		if prev, perr := a.existing(ctx, m); prev != nil {
			return prev, nil
		} else if perr != nil {
			return nil, perr
		}
	}
	if err != nil {
		a.metrics.putErrors.Inc()
		return nil, fmt.Errorf("archive: put %s: %w", m.Partner, err)
	}
	a.metrics.puts.WithLabelValues(strings.SplitN(ref, ":", 2)[0]).Inc()
	a.metrics.putBytes.Add(float64(size))
	a.log.Debug("archived", "id", msg.ID, "partner", m.Partner, "size", size, "sha256", sum, "blob", ref, "took", time.Since(start))
	return e, nil
}

// syncContent makes a content file durable when it is not yet (unsynced):
// with the flush of the file system the Puts under way share (which covers
// a file on another file system only if the link then fails and Put copies
// it into a temporary file of its own, made durable in turn), else with an
// fsync of the file.
func (a *Archive) syncContent(path string, unsynced bool) error {
	if !unsynced {
		return nil
	}
	if a.flush != "" {
		if err := durable.SyncFS(a.flush); err != nil {
			return fmt.Errorf("archive: put: %w", err)
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("archive: put: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("archive: put: fsync %s: %w", path, err)
	}
	return nil
}

func (a *Archive) existing(ctx context.Context, m Meta) (*Entry, error) {
	ae, err := a.st.ArchiveEntryByKey(ctx, m.Partner, m.IdempotencyKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("archive: put: %w", err)
	}
	e, err := a.Entry(ctx, ae.MessageID)
	if err != nil {
		return nil, err
	}
	e.Existing = true
	return e, nil
}

// tempDirs creates the folders Put writes its temporary files in: 16
// subfolders of base, used in turn. Concurrent Puts creating and removing
// files in one folder contend on that folder's lock (measured: the kernel
// spun on it for a third of the CPU time of 8 writers of small files).
// Temporary files an earlier process left behind (a crash between writing
// and archiving) are removed once they are a day old: a Put is never that
// long, and none of them is referenced by the index.
func tempDirs(base string, log *slog.Logger) ([]string, error) {
	dirs := make([]string, 16)
	for i := range dirs {
		dirs[i] = filepath.Join(base, fmt.Sprintf("%x", i))
		if err := os.MkdirAll(dirs[i], 0o750); err != nil {
			return nil, fmt.Errorf("archive: temporary folder %s: %w", dirs[i], err)
		}
	}
	old := time.Now().Add(-24 * time.Hour)
	for _, d := range append([]string{base}, dirs...) {
		names, _ := filepath.Glob(filepath.Join(d, "put-*"))
		for _, n := range names {
			if st, err := os.Stat(n); err == nil && st.ModTime().Before(old) {
				if err := os.Remove(n); err == nil {
					log.Info("archive: removed a temporary file left by an interrupted Put", "file", n, "modified", st.ModTime())
				}
			}
		}
	}
	return dirs, nil
}

// copyBufs are Put's copy buffers: 256 KiB, large enough for big files to
// stream in few system calls, reused so small files do not pay for them.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// writeTemp streams r to an fsync'd temporary file, hashing as it goes.
func (a *Archive) writeTemp(ctx context.Context, r io.Reader) (path, sum string, size int64, err error) {
	f, err := os.CreateTemp(a.tmpDirs[a.tmpNext.Add(1)%uint32(len(a.tmpDirs))], "put-*")
	if err != nil {
		return "", "", 0, fmt.Errorf("archive: put: temporary file: %w", err)
	}
	name := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	size, err = io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return "", "", 0, fmt.Errorf("archive: put: writing %s: %w", name, err)
	}
	if a.flush == "" { // else placeBlob flushes it with the others
		if err = f.Sync(); err != nil {
			return "", "", 0, fmt.Errorf("archive: put: fsync: %w", err)
		}
	}
	if err = f.Close(); err != nil {
		return "", "", 0, fmt.Errorf("archive: put: close: %w", err)
	}
	return name, hex.EncodeToString(h.Sum(nil)), size, nil
}

// placeBlob stores the file in the blob store, or in the spool when the
// blob store fails (S3 down). It returns the blob ref for the index.
// A filesystem store leaves the fsync of the blob's folder to the group
// commit, and returns the folder.
func (a *Archive) placeBlob(ctx context.Context, key, path string, size int64, lazy bool) (ref, syncDir string, err error) {
	if fsb, ok := a.blobs.(*FS); ok {
		dir, err := fsb.link(ctx, key, path, size, a.flush != "", lazy)
		if err != nil {
			return "", "", fmt.Errorf("archive: put: %w", err)
		}
		return fsb.Kind() + ":" + key, dir, nil
	}
	if a.spool != nil && time.Now().UnixNano() < a.downUntil.Load() {
		err = errors.New("blob store failed recently; spooling without trying it")
	} else if err = a.blobs.Put(ctx, key, path, size); err == nil {
		return a.blobs.Kind() + ":" + key, "", nil
	}
	if a.spool == nil || ctx.Err() != nil || errors.Is(err, ErrNoObjectLock) {
		// A bucket without the Object Lock the configuration asks for is
		// not an outage: spooling would hide it until the spool fills.
		return "", "", fmt.Errorf("archive: put: %w", err)
	}
	// For a while, later Puts spool straight away instead of waiting for
	// the blob store to fail again; the spool upload clears this.
	a.downUntil.Store(time.Now().Add(downFor).UnixNano())
	ref, err = a.spoolBlob(ctx, key, path, size, err)
	return ref, "", err
}

// lazyBlob is the largest blob a folder archive links before its bytes are
// flushed (see put).
const lazyBlob = 1 << 20

// downFor is how long Puts skip a blob store that just failed.
const downFor = 30 * time.Second

func (a *Archive) spoolBlob(ctx context.Context, key, path string, size int64, err error) (string, error) {
	skey := a.spool.id + "/" + key // the spool's own name first: whose spool holds it
	if serr := a.spool.Put(ctx, skey, path, size); serr != nil {
		return "", fmt.Errorf("archive: put: %w; and the local spool failed too: %w", err, serr)
	}
	a.metrics.spooled.Inc()
	a.log.Warn("blob store failed; blob spooled locally for upload later", "store", a.blobs.Describe(), "key", key, "err", err)
	return "spool:" + skey, nil
}

// ownSpoolKey tells whether a spool key is this archive's spool's: under
// its name, or from before spools had names (no name: "sha256/...").
func (a *Archive) ownSpoolKey(key string) bool {
	return strings.HasPrefix(key, "sha256/") || (a.spool.id != "" && strings.HasPrefix(key, a.spool.id+"/"))
}

// ownSpoolPrefixes are the blob ref prefixes of this archive's spool.
func (a *Archive) ownSpoolPrefixes() []string {
	return []string{"spool:" + a.spool.id + "/", "spool:sha256/"}
}

// Readable reports whether this instance can read the message's blob now:
// a wrapped lifecycle.ErrWait when it waits in another instance's spool.
func (a *Archive) Readable(m *store.Message) error {
	_, _, err := a.storeFor(m.BlobRef)
	if lifecycle.IsWait(err) {
		return err
	}
	return nil
}

// record (with the chain locked at head, which it advances) makes e's blob
// durable in its store, finds the partner's earlier message with the same
// content (in the index, else earlier in this batch: first), and returns
// the index row, entry, keys, first events and chain record to write
// (recordAll writes a batch at once). It holds the chain lock, which
// purges also take before deleting blobs: so the blob is checked (and put
// back from the temporary file if a purge removed it meanwhile) under it.
//
// earlier is the partner's earliest message with e's content before the
// batch (recordAll looks them up at once; "" when there is none), first
// the batch's own.
func (a *Archive) record(ctx context.Context, tx store.Tx, head *store.ChainLink, e *Entry, tmp string, blob []byte, keys []store.Key, note, earlier string, first map[[2]string]string) (*store.Archived, error) {
	key, err := a.ensureBlob(ctx, tx, e, tmp, blob != nil)
	if err != nil {
		return nil, err
	}
	// What Wharf generates (its acknowledgments, each with control numbers
	// of its own) repeats nothing: no duplicate lookup for it, one read of
	// the writer's per file. A later message with its content still finds it.
	var dup string
	same := [2]string{e.PartnerID, e.SHA256}
	if !e.Generated {
		dup = earlier
		if dup == "" {
			dup = first[same]
		}
	}
	if _, ok := first[same]; !ok {
		first[same] = e.ID
	}
	if dup != "" && e.ParentID != "" {
		// A replay sends its parent's bytes again on purpose: not a duplicate.
		if parent, err := tx.GetMessage(ctx, e.ParentID); err == nil && parent.SHA256 == e.SHA256 && parent.PartnerID == e.PartnerID {
			dup = ""
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	e.DuplicateOf = dup
	r := &store.Archived{Message: e.Message, Keys: keys,
		Entry: &store.ArchiveEntry{MessageID: e.ID, PartnerID: e.PartnerID, IdemKey: e.IdemKey, DuplicateOf: dup}}
	if blob != nil {
		r.BlobKey, r.Blob = key, blob
	}
	fields := map[string]any{"transport": e.Transport, "remote_name": e.RemoteName, "size": e.Size, "sha256": e.SHA256, "blob": e.BlobRef}
	if note != "" {
		fields["note"] = note
	}
	detail, _ := json.Marshal(fields)
	r.Events = append(r.Events, &store.Event{MessageID: e.ID, At: e.ReceivedAt, Kind: lifecycle.EventReceived, Detail: string(detail)})
	if e.Refused != "" {
		r.Events = append(r.Events, &store.Event{MessageID: e.ID, At: e.ReceivedAt, Kind: lifecycle.EventValidated, Detail: "refused on receipt: " + e.Refused})
	}
	if dup != "" {
		r.Events = append(r.Events, &store.Event{MessageID: e.ID, Kind: lifecycle.EventDuplicate, Detail: "same content as " + dup + " from the same partner"})
	}
	r.Chain = &store.ChainRecord{Seq: head.Seq + 1, Kind: store.ChainEntry, MessageID: e.ID, At: e.ReceivedAt, PrevHash: head.Hash}
	r.Chain.Hash = chainHash(r.Chain, e.Message)
	*head = store.ChainLink{Seq: r.Chain.Seq, Hash: r.Chain.Hash}
	return r, nil
}

// ensureBlob checks, before the index points to it, that the blob of e is
// in its store, and puts it there again from tmp when it went missing (or
// spools it when the store fails): the key of the blob in its store.
// inIndex: the index keeps the blob, written with the index rows.
func (a *Archive) ensureBlob(ctx context.Context, tx store.Tx, e *Entry, tmp string, inIndex bool) (string, error) {
	bs, key, err := a.storeIn(tx, e.BlobRef)
	if err != nil || inIndex {
		return key, err
	}
	if _, err := bs.Stat(ctx, key); errors.Is(err, ErrBlobNotFound) {
		err = bs.Put(ctx, key, tmp, e.Size)
		if err != nil && a.spool != nil && bs != a.spool && !errors.Is(err, ErrNoObjectLock) {
			e.BlobRef, err = a.spoolBlob(ctx, key, tmp, e.Size, err)
		}
		if err != nil {
			return "", err
		}
	} else if err != nil {
		// The blob store went away since the upload: we cannot prove the
		// blob is still there, so keep a copy we can prove.
		if a.spool == nil || bs == a.spool {
			return "", err
		}
		if e.BlobRef, err = a.spoolBlob(ctx, key, tmp, e.Size, err); err != nil {
			return "", err
		}
	}
	return key, nil
}

// Entry returns the archived message with its archive bookkeeping.
// A blob the index keeps comes with it, in the same query, for Open.
func (a *Archive) Entry(ctx context.Context, id string) (*Entry, error) {
	m, ae, blob, err := a.st.GetMessageEntry(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	e := entryWith(m, ae)
	e.blob = blob
	return e, nil
}

// entryWith is the Entry of message m with its archive entry ae (nil: none).
func entryWith(m *store.Message, ae *store.ArchiveEntry) *Entry {
	e := &Entry{Message: m}
	if ae != nil {
		e.DuplicateOf, e.PurgedAt, e.IdemKey = ae.DuplicateOf, ae.PurgedAt, ae.IdemKey
	}
	return e
}

func (a *Archive) entryOf(ctx context.Context, m *store.Message) (*Entry, error) {
	ae, err := a.st.GetArchiveEntry(ctx, m.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return entryWith(m, ae), nil
}

// Get returns the original bytes of message id. The reader fails with
// ErrCorrupt at the end if they do not match the recorded sha256 and size.
func (a *Archive) Get(ctx context.Context, id string) (io.ReadCloser, *Entry, error) {
	e, err := a.Entry(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	rc, err := a.Open(ctx, e)
	return rc, e, err
}

// openEntry reads the bytes the index keeps for e, read with the entry,
// else the blob its ref names.
func (a *Archive) openEntry(ctx context.Context, e *Entry) (io.ReadCloser, error) {
	if e.blob != nil {
		return heldBlob{bytes.NewReader(e.blob)}, nil
	}
	return a.open(ctx, e.Message)
}

// Open returns the original bytes of an entry the caller has (from Entry),
// checked as Get's are: it saves Get's query when the entry is at hand.
func (a *Archive) Open(ctx context.Context, e *Entry) (io.ReadCloser, error) {
	if !e.PurgedAt.IsZero() {
		return nil, fmt.Errorf("archive: message %s: %w on %s", e.ID, ErrPurged, e.PurgedAt.Format(time.RFC3339))
	}
	rc, err := a.openEntry(ctx, e)
	if err != nil {
		return nil, err
	}
	return &checkedReader{rc: rc, h: sha256.New(), want: e.SHA256, size: e.Size, id: e.ID}, nil
}

func (a *Archive) open(ctx context.Context, m *store.Message) (io.ReadCloser, error) {
	bs, key, err := a.storeFor(m.BlobRef)
	if err != nil {
		return nil, err
	}
	rc, err := bs.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("archive: message %s: %w", m.ID, err)
	}
	return rc, nil
}

// Search lists entries, newest first (see store.MessageFilter for paging).
func (a *Archive) Search(ctx context.Context, f store.MessageFilter) ([]*Entry, error) {
	ms, err := a.st.SearchMessages(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("archive: search: %w", err)
	}
	out := make([]*Entry, 0, len(ms))
	for _, m := range ms {
		e, err := a.entryOf(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Events returns the message's history, oldest first.
func (a *Archive) Events(ctx context.Context, id string) ([]*store.Event, error) {
	if _, err := a.st.GetMessage(ctx, id); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	evs, err := a.st.Events(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return evs, nil
}

type checkedReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want string
	size int64
	id   string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err == io.EOF {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want || c.n != c.size {
			return n, fmt.Errorf("archive: message %s: %w (read %d bytes with sha256 %s; recorded %d bytes, %s)", c.id, ErrCorrupt, c.n, got, c.size, c.want)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }

// Len is how many of the recorded bytes are left to read, by which readers
// over it size their buffers (see internal/iobuf): a hint, the reader still
// reads to io.EOF, where the size is checked.
func (c *checkedReader) Len() int { return int(max(c.size-c.n, 0)) }

// ctxReader stops a long copy when ctx is cancelled.
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
