package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// exerciseArchive covers the archive's tables: chain appends and their
// ordering under concurrency, append-only chain, idempotency keys, blob refs,
// tombstones and purge candidates.
func exerciseArchive(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()

	// put inserts a message, its entry and a chain record in one transaction,
	// the way package archive does (with a toy hash).
	put := func(s store.Store, m *store.Message, key string) (*store.ChainRecord, error) {
		var rec *store.ChainRecord
		err := s.WithTx(ctx, func(tx store.Tx) error {
			head, err := tx.LockChain(ctx)
			if err != nil {
				return err
			}
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			if err := tx.InsertArchiveEntry(ctx, &store.ArchiveEntry{MessageID: m.ID, PartnerID: m.PartnerID, IdemKey: key}); err != nil {
				return err
			}
			rec = &store.ChainRecord{Seq: head.Seq + 1, Kind: store.ChainEntry, MessageID: m.ID, At: m.ReceivedAt,
				PrevHash: head.Hash, Hash: fmt.Sprintf("%064d", head.Seq+1)}
			return tx.AppendChain(ctx, rec)
		})
		return rec, err
	}

	t.Run("ArchiveChain", func(t *testing.T) {
		s, dsn := open(t)
		head, err := s.ChainHead(ctx)
		if err != nil || head.Seq != 0 || head.Hash != store.GenesisHash {
			t.Fatalf("fresh head %+v %v", head, err)
		}
		// Concurrent appends from two opens of the database get seq 1..N
		// with no gaps, each linked to the one before.
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		var wg sync.WaitGroup
		for i, st := range []store.Store{s, s2, s, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 10 {
					m := &store.Message{PartnerID: "acme", Direction: store.Inbound, SHA256: fmt.Sprintf("%064d", i*100+j), BlobRef: "fs:x"}
					if _, err := put(st, m, ""); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		recs, err := s.ChainRecords(ctx, 0, 0)
		if err != nil || len(recs) != 40 {
			t.Fatalf("chain records: %d %v", len(recs), err)
		}
		prev := store.GenesisHash
		for i, r := range recs {
			if r.Seq != int64(i+1) || r.PrevHash != prev || r.Message == nil || r.Message.ID != r.MessageID || r.Entry == nil {
				t.Fatalf("record %d: %+v", i, r)
			}
			prev = r.Hash
		}
		page, _ := s.ChainRecords(ctx, 38, 5)
		if len(page) != 2 || page[0].Seq != 39 {
			t.Fatalf("page after 38: %d", len(page))
		}
		// A record that does not follow the head is refused.
		err = s.WithTx(ctx, func(tx store.Tx) error {
			return tx.AppendChain(ctx, &store.ChainRecord{Seq: 5, Kind: store.ChainEntry, MessageID: recs[0].MessageID, PrevHash: "x", Hash: "y"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("out-of-order append: want ErrConflict, got %v", err)
		}
		// The chain is append-only at the database.
		for _, stmt := range []string{"UPDATE archive_chain SET hash = 'forged'", "DELETE FROM archive_chain"} {
			if err := s.WithTx(ctx, func(tx store.Tx) error { return rawExec(ctx, tx, stmt) }); err == nil {
				t.Errorf("%s: succeeded on the append-only chain", stmt)
			}
		}
		// A message written around the archive shows up as unchained.
		if err := s.InsertMessage(ctx, &store.Message{ID: "rogue", PartnerID: "acme", Direction: store.Inbound}); err != nil {
			t.Fatal(err)
		}
		if ids, err := s.UnchainedMessages(ctx, 10); err != nil || len(ids) != 1 || ids[0] != "rogue" {
			t.Fatalf("unchained: %v %v", ids, err)
		}
	})

	t.Run("ArchiveEntries", func(t *testing.T) {
		s, _ := open(t)
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		var ids []string
		for i := range 4 {
			partner := "acme"
			if i == 3 {
				partner = "beta"
			}
			m := &store.Message{PartnerID: partner, Direction: store.Inbound, SHA256: "same", BlobRef: "spool:sha256/same",
				ReceivedAt: base.Add(time.Duration(i) * 24 * time.Hour)}
			if _, err := put(s, m, fmt.Sprintf("k%d", i)); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		// Idempotency keys are unique per partner.
		_, err := put(s, &store.Message{PartnerID: "acme", Direction: store.Inbound}, "k1")
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("reused key: want ErrConflict, got %v", err)
		}
		if _, err := put(s, &store.Message{PartnerID: "beta", Direction: store.Inbound}, "k1"); err != nil {
			t.Fatalf("same key, other partner: %v", err)
		}
		e, err := s.ArchiveEntryByKey(ctx, "acme", "k1")
		if err != nil || e.MessageID != ids[1] {
			t.Fatalf("by key: %+v %v", e, err)
		}
		if _, err := s.ArchiveEntryByKey(ctx, "acme", ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("empty key must never match: %v", err)
		}
		// Which of many keys were archived (more than one statement takes),
		// per partner; the empty key never.
		asked := []string{"", "k3"}
		for i := range 150 {
			asked = append(asked, fmt.Sprintf("new%d", i))
			if i == 70 || i == 140 {
				asked = append(asked, "k0", "k2")
			}
		}
		asked = append(asked, "k1")
		had, err := s.ArchivedKeys(ctx, "acme", asked)
		if want := map[string]bool{"k0": true, "k1": true, "k2": true}; err != nil || !maps.Equal(had, want) {
			t.Fatalf("archived keys of acme: %v %v, want %v", had, err, want)
		}
		if had, err := s.ArchivedKeys(ctx, "beta", []string{"k0", "k1", "k3"}); err != nil || len(had) != 2 || !had["k1"] || !had["k3"] {
			t.Fatalf("archived keys of beta: %v %v, want k1 and k3", had, err)
		}
		// A message with its entry in one read; a message without one.
		if m, ae, _, err := s.GetMessageEntry(ctx, ids[1]); err != nil || m.ID != ids[1] || m.SHA256 != "same" || !m.ReceivedAt.Equal(base.Add(24*time.Hour)) ||
			ae == nil || ae.MessageID != ids[1] || ae.PartnerID != "acme" || ae.IdemKey != "k1" || !ae.PurgedAt.IsZero() {
			t.Fatalf("message with entry: %+v %+v %v", m, ae, err)
		}
		bare := &store.Message{PartnerID: "acme", Direction: store.Inbound}
		if err := s.InsertMessage(ctx, bare); err != nil {
			t.Fatal(err)
		}
		if m, ae, _, err := s.GetMessageEntry(ctx, bare.ID); err != nil || m.ID != bare.ID || ae != nil {
			t.Fatalf("message without entry: %+v %+v %v", m, ae, err)
		}
		if _, _, _, err := s.GetMessageEntry(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing message: %v", err)
		}
		// A blob the index keeps comes with its message; a file of the
		// same content does not.
		if err := s.PutArchiveBlob(ctx, "sha256/ab/abc", []byte("kept")); err != nil {
			t.Fatal(err)
		}
		inIndex := &store.Message{PartnerID: "acme", Direction: store.Inbound, BlobRef: "db:sha256/ab/abc"}
		inFile := &store.Message{PartnerID: "acme", Direction: store.Inbound, BlobRef: "fs:sha256/ab/abc"}
		for _, m := range []*store.Message{inIndex, inFile} {
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, b, err := s.GetMessageEntry(ctx, inIndex.ID); err != nil || string(b) != "kept" {
			t.Fatalf("blob with its message: %q %v", b, err)
		}
		if _, _, b, err := s.GetMessageEntry(ctx, inFile.ID); err != nil || b != nil {
			t.Fatalf("a file's message came with bytes: %q %v", b, err)
		}
		if n, err := s.ArchiveBlobSize(ctx, "sha256/ab/abc"); err != nil || n != 4 {
			t.Fatalf("blob size: %d %v", n, err)
		}
		if err := s.PutArchiveBlob(ctx, "sha256/ab/abc", []byte("kept")); err != nil {
			t.Fatalf("the same blob again: %v", err)
		}
		if err := s.DeleteArchiveBlob(ctx, "sha256/ab/abc"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ArchiveBlob(ctx, "sha256/ab/abc"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted blob: %v", err)
		}
		if err := s.DeleteArchiveBlob(ctx, "sha256/ab/abc"); err != nil {
			t.Fatalf("deleting an absent blob: %v", err)
		}
		// The earliest message of a partner with a content, for many pairs
		// at once: more than one statement's 64, and a last chunk padded.
		var contents [][2]string
		var want []string
		for i := range 70 {
			switch i % 3 {
			case 0:
				contents, want = append(contents, [2]string{"acme", "same"}), append(want, ids[0])
			case 1:
				contents, want = append(contents, [2]string{"acme", "other"}), append(want, "")
			default:
				contents, want = append(contents, [2]string{"beta", "same"}), append(want, ids[3])
			}
		}
		for _, n := range []int{1, 2, 3, 64, 65, 70} {
			got, err := s.FirstWithContents(ctx, contents[:n])
			if err != nil || !slices.Equal(got, want[:n]) {
				t.Fatalf("first with contents, %d pairs: %q %v, want %q", n, got, err, want[:n])
			}
		}
		if got, err := s.FirstWithContents(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("first with no contents: %q %v", got, err)
		}
		// Blob refs move (spool to S3) and can be counted and listed.
		if n, _ := s.CountBlobRefs(ctx, "spool:sha256/same"); n != 4 {
			t.Fatalf("refs %d", n)
		}
		if err := s.SetBlobRef(ctx, ids[0], "s3:sha256/same"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetBlobRef(ctx, "missing", "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("set blob ref of missing message: %v", err)
		}
		spooled, err := s.MessagesWithBlobPrefix(ctx, "spool:", 10)
		if err != nil || len(spooled) != 3 || spooled[0].ID != ids[1] {
			t.Fatalf("spooled: %v %v", msgIDs(spooled), err)
		}
		// Tombstones: purged entries leave the candidates and the ref count,
		// a second purge is refused, and counters are untouched.
		if _, err := s.NextCounter(ctx, "acme", "isa13"); err != nil {
			t.Fatal(err)
		}
		cands, err := s.PurgeCandidates(ctx, store.PurgeFilter{PartnerID: "acme", Before: base.Add(48 * time.Hour)})
		if err != nil || len(cands) != 2 || cands[0].ID != ids[0] {
			t.Fatalf("candidates: %v %v", msgIDs(cands), err)
		}
		if all, _ := s.PurgeCandidates(ctx, store.PurgeFilter{Before: base.Add(100 * time.Hour)}); len(all) != 4 {
			t.Fatalf("global candidates: %v", msgIDs(all))
		}
		next, _ := s.PurgeCandidates(ctx, store.PurgeFilter{Before: base.Add(100 * time.Hour), After: cands[0].ReceivedAt, AfterID: cands[0].ID, Limit: 2})
		if len(next) != 2 || next[0].ID != ids[1] || next[1].ID != ids[2] {
			t.Fatalf("candidates after cursor: %v", msgIDs(next))
		}
		at := base.Add(1000 * time.Hour)
		if err := s.MarkPurged(ctx, ids[1], at); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPurged(ctx, ids[1], at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second purge: %v", err)
		}
		e, _ = s.GetArchiveEntry(ctx, ids[1])
		if !e.PurgedAt.Equal(at) {
			t.Fatalf("purged at %v", e.PurgedAt)
		}
		if e, _ := s.GetArchiveEntry(ctx, ids[2]); !e.PurgedAt.IsZero() {
			t.Fatalf("unpurged entry has purged_at %v", e.PurgedAt)
		}
		if n, _ := s.CountBlobRefs(ctx, "spool:sha256/same"); n != 2 {
			t.Fatalf("refs after purge %d", n)
		}
		cands, _ = s.PurgeCandidates(ctx, store.PurgeFilter{PartnerID: "acme", Before: base.Add(48 * time.Hour)})
		if len(cands) != 1 || cands[0].ID != ids[0] {
			t.Fatalf("candidates after purge: %v", msgIDs(cands))
		}
		if v, _ := s.NextCounter(ctx, "acme", "isa13"); v != 2 {
			t.Fatalf("counter after purge: %d", v)
		}
		if _, err := s.GetArchiveEntry(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing entry: %v", err)
		}

		// Kept blobs: recorded once per ref (a later purge moves the date),
		// listed when due, oldest first, and forgotten.
		due := base.Add(10 * time.Hour)
		for _, k := range []store.KeptBlob{
			{BlobRef: "s3:sha256/b", MessageID: ids[1], Until: due.Add(time.Hour)},
			{BlobRef: "s3:sha256/a", MessageID: ids[0], Until: due.Add(-time.Hour)},
			{BlobRef: "s3:sha256/c", MessageID: ids[2], Until: due.Add(5 * time.Hour)},
			{BlobRef: "s3:sha256/b", MessageID: ids[1], Until: due},
		} {
			if err := s.KeepBlob(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		kept, err := s.KeptBlobsDue(ctx, due, 10)
		if err != nil || len(kept) != 2 || kept[0].BlobRef != "s3:sha256/a" || kept[1].BlobRef != "s3:sha256/b" ||
			!kept[1].Until.Equal(due) || kept[1].MessageID != ids[1] {
			t.Fatalf("kept blobs due: %+v %v", kept, err)
		}
		if err := s.ForgetKeptBlob(ctx, "s3:sha256/a"); err != nil {
			t.Fatal(err)
		}
		if kept, _ := s.KeptBlobsDue(ctx, due.Add(100*time.Hour), 1); len(kept) != 1 || kept[0].BlobRef != "s3:sha256/b" {
			t.Fatalf("kept blobs after forget, limit 1: %+v", kept)
		}
	})
}
