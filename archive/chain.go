package archive

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// chainHash is the hash of a chain record: sha256 over a length-prefixed
// encoding of a version tag, the record (seq, kind, previous hash, message
// ID, time, detail) and the message metadata that must never change
// (partner, direction, transport, remote name, size, sha256 of the content,
// receipt time, correlation and parent IDs). Status, blob location, format
// and document types change as processing goes on and are not covered.
func chainHash(r *store.ChainRecord, m *store.Message) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	micros := func(t time.Time) string { return strconv.FormatInt(t.UTC().UnixMicro(), 10) }
	field("wharf-archive-chain/v1")
	field(strconv.FormatInt(r.Seq, 10))
	field(r.Kind)
	field(r.PrevHash)
	field(r.MessageID)
	field(micros(r.At))
	field(r.Detail)
	field(m.ID)
	field(m.PartnerID)
	field(string(m.Direction))
	field(m.Transport)
	field(m.RemoteName)
	field(strconv.FormatInt(m.Size, 10))
	field(m.SHA256)
	field(micros(m.ReceivedAt))
	field(m.CorrelationID)
	field(m.ParentID)
	return hex.EncodeToString(h.Sum(nil))
}

// Problem is one integrity failure found by Verify.
type Problem struct {
	Seq       int64  // chain position (0 when the problem is not in the chain)
	MessageID string // may be empty
	What      string
}

func (p Problem) String() string {
	if p.Seq > 0 {
		return fmt.Sprintf("entry %d (message %s): %s", p.Seq, p.MessageID, p.What)
	}
	if p.MessageID != "" {
		return fmt.Sprintf("message %s: %s", p.MessageID, p.What)
	}
	return p.What
}

// Report is the outcome of Verify.
type Report struct {
	Records    int64 // chain records walked
	Entries    int64 // entry records
	Tombstones int64
	Blobs      int64 // blobs re-hashed
	Bytes      int64
	// Elsewhere counts blobs that wait in another instance's spool for
	// their upload: this instance cannot read them yet, and a verify after
	// the upload re-hashes them.
	Elsewhere int64
	Head      store.ChainLink
	Problems  []Problem // in chain order; the first is the first broken entry
}

// OK reports whether nothing was found wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// SkipBlobs checks the chain only (fast), without re-hashing blobs.
	SkipBlobs bool
	// MaxProblems stops collecting after this many (default 100).
	MaxProblems int
	// Progress, when set, is called after each page of records.
	Progress func(r *Report)
}

// Verify walks the hash chain from the first record, recomputing each hash
// from the record and its message's metadata, checks that the stored head
// is the last record (nothing cut off the end), that every message is
// chained, and that every tombstoned entry has its tombstone record; unless
// SkipBlobs, it re-hashes every blob not purged. A non-nil error means the
// check could not run (database down); integrity failures are Problems.
func (a *Archive) Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 100
	}
	rep := &Report{}
	add := func(p Problem) bool {
		if len(rep.Problems) < opts.MaxProblems {
			rep.Problems = append(rep.Problems, p)
		}
		return len(rep.Problems) < opts.MaxProblems
	}
	head, err := a.st.ChainHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("archive: verify: %w", err)
	}
	rep.Head = head
	prev := store.ChainLink{Seq: 0, Hash: store.GenesisHash}
	purgedWithoutTombstone := map[string]int64{} // message -> entry seq
	tombstoned := map[string]bool{}
walk:
	for prev.Seq < head.Seq {
		recs, err := a.st.ChainRecords(ctx, prev.Seq, 500)
		if err != nil {
			return nil, fmt.Errorf("archive: verify: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rep.Records++
			p := Problem{Seq: r.Seq, MessageID: r.MessageID}
			switch {
			case r.Seq != prev.Seq+1:
				p.What = fmt.Sprintf("chain has a gap: record %d follows record %d", r.Seq, prev.Seq)
			case r.PrevHash != prev.Hash:
				p.What = fmt.Sprintf("does not link to entry %d (prev hash %s, entry %d has %s)", prev.Seq, short(r.PrevHash), prev.Seq, short(prev.Hash))
			case chainHash(&r.ChainRecord, r.Message) != r.Hash:
				p.What = "hash does not match its record and metadata (metadata or record altered)"
			}
			if p.What != "" && !add(p) {
				break walk
			}
			prev = store.ChainLink{Seq: r.Seq, Hash: r.Hash}
			switch r.Kind {
			case store.ChainTombstone:
				rep.Tombstones++
				tombstoned[r.MessageID] = true
				delete(purgedWithoutTombstone, r.MessageID)
				continue
			case store.ChainEntry:
				rep.Entries++
			}
			if r.Entry != nil && !r.Entry.PurgedAt.IsZero() {
				if !tombstoned[r.MessageID] {
					purgedWithoutTombstone[r.MessageID] = r.Seq
				}
				continue
			}
			if opts.SkipBlobs {
				continue
			}
			if a.Readable(r.Message) != nil {
				rep.Elsewhere++
				continue
			}
			if what := a.checkBlob(ctx, r.Message); what != "" {
				if !add(Problem{Seq: r.Seq, MessageID: r.MessageID, What: what}) {
					break walk
				}
			} else {
				rep.Blobs++
				rep.Bytes += r.Message.Size
			}
		}
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	if prev != head && len(rep.Problems) < opts.MaxProblems {
		add(Problem{Seq: prev.Seq + 1, What: fmt.Sprintf("chain ends at entry %d (%s) but the head says %d (%s): records are missing", prev.Seq, short(prev.Hash), head.Seq, short(head.Hash))})
	}
	for id, seq := range purgedWithoutTombstone {
		add(Problem{Seq: seq, MessageID: id, What: "marked purged without a tombstone record in the chain"})
	}
	unchained, err := a.st.UnchainedMessages(ctx, 10)
	if err != nil {
		return nil, fmt.Errorf("archive: verify: %w", err)
	}
	for _, id := range unchained {
		add(Problem{MessageID: id, What: "is in the index but not in the hash chain (inserted around the archive)"})
	}
	sortProblems(rep.Problems)
	a.metrics.observeVerify(rep, a.now())
	if !rep.OK() {
		// The gauge wharf_archive_verify_ok is 0, the log names the first
		// broken entry, and one open exception (raised once per verify run
		// that fails, repeated while it stays open) carries it to the queue.
		a.log.Error("archive verify FAILED", "first_broken", rep.Problems[0].String(), "problems", len(rep.Problems), "records", rep.Records)
		first := rep.Problems[0]
		if _, err := a.st.RaiseException(ctx, &store.Exception{Reason: "archive_verify", Owner: store.OwnerIT, ObjectKind: "message",
			ObjectKey: first.MessageID, MessageID: first.MessageID, DedupeKey: "archive_verify",
			Detail: fmt.Sprintf("archive verify failed: %d problem(s), first: %s; run 'wharf archive verify' for the list, "+
				"restore the named blobs from a backup or investigate who wrote to the archive", len(rep.Problems), first)}); err != nil {
			a.log.Error("archive verify: cannot raise the exception", "err", err)
		}
	} else {
		a.log.Info("archive verify passed", "entries", rep.Entries, "tombstones", rep.Tombstones, "blobs", rep.Blobs, "head", rep.Head.Seq)
	}
	return rep, nil
}

// checkBlob re-hashes a blob; it returns what is wrong, or "".
func (a *Archive) checkBlob(ctx context.Context, m *store.Message) string {
	rc, err := a.open(ctx, m)
	if err != nil {
		if errors.Is(err, ErrBlobNotFound) {
			return "blob " + m.BlobRef + " is missing"
		}
		return "blob " + m.BlobRef + " cannot be read: " + err.Error()
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "blob " + m.BlobRef + " cannot be read: " + err.Error()
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 || n != m.Size {
		return fmt.Sprintf("blob %s does not match: %d bytes with sha256 %s, recorded %d bytes with %s", m.BlobRef, n, short(got), m.Size, short(m.SHA256))
	}
	return ""
}

func sortProblems(ps []Problem) {
	// Chain order; problems outside the chain (Seq 0) last. Insertion sort:
	// the list is short and nearly sorted.
	less := func(a, b Problem) bool {
		if (a.Seq == 0) != (b.Seq == 0) {
			return b.Seq == 0
		}
		return a.Seq < b.Seq
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && less(ps[j], ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
