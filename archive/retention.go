package archive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Rule is a retention rule, for one partner or (Partner "") all partners
// without a rule of their own.
type Rule struct {
	Partner string
	// KeepAtLeast: a purge refuses entries younger than this.
	KeepAtLeast time.Duration
	// DeleteAfter: the retention job purges entries older than this (0: never).
	DeleteAfter time.Duration
}

// ParseRules parses rules written as "keep=7y,delete=10y;acme:keep=30d,delete=90d"
// (units: h, d, w, y = 365d; one rule per partner, one without a partner).
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var r Rule
		if p, rest, ok := strings.Cut(part, ":"); ok {
			r.Partner, part = strings.TrimSpace(p), rest
		}
		for kv := range strings.SplitSeq(part, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return nil, fmt.Errorf("archive: retention %q: expected keep=DURATION or delete=DURATION", kv)
			}
			d, err := ParseDays(v)
			if err != nil {
				return nil, fmt.Errorf("archive: retention %q: %w", kv, err)
			}
			switch k {
			case "keep":
				r.KeepAtLeast = d
			case "delete":
				if d == 0 {
					return nil, fmt.Errorf("archive: retention %q: 0 would purge entries at once (it is not \"never\"): give a duration such as 10y, or leave delete out", kv)
				}
				r.DeleteAfter = d
			default:
				return nil, fmt.Errorf("archive: retention %q: unknown setting %q (keep, delete)", kv, k)
			}
		}
		out = append(out, r)
	}
	return out, validateRules(out)
}

// ParseDays parses a duration with units h, d (24h), w (7d) or y (365d).
func ParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	units := map[byte]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q: use a number and a unit (h, d, w, y), e.g. 90d", s)
	}
	u, ok := units[s[len(s)-1]]
	n, err := strconv.Atoi(s[:len(s)-1])
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("duration %q: use a number and a unit (h, d, w, y), e.g. 90d", s)
	}
	return time.Duration(n) * u, nil
}

func validateRules(rs []Rule) error {
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Partner != "" {
			if err := store.ValidPartnerID(r.Partner); err != nil {
				return fmt.Errorf("archive: retention: %w", err)
			}
		}
		if seen[r.Partner] {
			return fmt.Errorf("archive: retention: two rules for partner %q", r.Partner)
		}
		seen[r.Partner] = true
		if r.DeleteAfter > 0 && r.DeleteAfter < r.KeepAtLeast {
			return fmt.Errorf("archive: retention for %q: delete after %v is shorter than keep at least %v", r.Partner, r.DeleteAfter, r.KeepAtLeast)
		}
	}
	return nil
}

// ruleFor returns the partner's rule, or the global one.
func (a *Archive) ruleFor(partner string) (Rule, bool) {
	var global Rule
	var hasGlobal bool
	for _, r := range a.opts.Retention {
		if r.Partner == partner && partner != "" {
			return r, true
		}
		if r.Partner == "" {
			global, hasGlobal = r, true
		}
	}
	return global, hasGlobal
}

// keepFor is the keep-at-least that protects a partner's entries (or, for
// partner "", every entry: the longest of all rules).
func (a *Archive) keepFor(partner string) time.Duration {
	if partner != "" {
		r, _ := a.ruleFor(partner)
		return r.KeepAtLeast
	}
	var longest time.Duration
	for _, r := range a.opts.Retention {
		longest = max(longest, r.KeepAtLeast)
	}
	return longest
}

// Purge turns the entries received before the cutoff (of one partner, or of
// all with partner "") into tombstones and deletes their blobs when no live
// entry shares them. It refuses (ErrRetention) when the cutoff reaches into
// a keep-at-least window. The index rows, keys, events and the chain stay,
// and a tombstone record is appended to the chain, so verify still passes;
// control-number counters are never touched. It returns how many entries it
// purged.
func (a *Archive) Purge(ctx context.Context, partner string, before time.Time, reason string) (int, error) {
	now := a.now()
	if keep := a.keepFor(partner); keep > 0 && before.After(now.Add(-keep)) {
		who := "partner " + partner
		if partner == "" {
			who = "all partners"
		}
		return 0, fmt.Errorf("archive: purge of %s before %s: %w: entries must be kept at least %s (until before %s)",
			who, before.UTC().Format(time.RFC3339), ErrRetention, keep, now.Add(-keep).Format(time.RFC3339))
	}
	return a.purge(ctx, partner, before, reason, nil)
}

// purge purges candidates; skip, when set, leaves some partners alone.
func (a *Archive) purge(ctx context.Context, partner string, before time.Time, reason string, skip func(partner string) bool) (int, error) {
	n := 0
	f := store.PurgeFilter{PartnerID: partner, Before: before, Limit: 200}
	for {
		cands, err := a.st.PurgeCandidates(ctx, f)
		if err != nil {
			return n, fmt.Errorf("archive: purge: %w", err)
		}
		if len(cands) == 0 {
			return n, nil
		}
		for _, m := range cands {
			if skip != nil && skip(m.PartnerID) {
				continue
			}
			if err := a.purgeOne(ctx, m, reason); err != nil {
				return n, err
			}
			n++
		}
		last := cands[len(cands)-1]
		f.After, f.AfterID = last.ReceivedAt, last.ID
	}
}

func (a *Archive) purgeOne(ctx context.Context, m *store.Message, reason string) error {
	at := a.now()
	inIndex := strings.HasPrefix(m.BlobRef, dbKind+":")
	// Alone: the chain's lock is every archive write's (store.Alone).
	err := a.st.WithTx(store.Alone(ctx), func(tx store.Tx) error {
		head, err := tx.LockChain(ctx)
		if err != nil {
			return err
		}
		if err := tx.MarkPurged(ctx, m.ID, at); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, At: at, Kind: lifecycle.EventPurged, Detail: reason}); err != nil {
			return err
		}
		rec := &store.ChainRecord{Seq: head.Seq + 1, Kind: store.ChainTombstone, MessageID: m.ID, At: at, Detail: reason, PrevHash: head.Hash}
		rec.Hash = chainHash(rec, m)
		if err := tx.AppendChain(ctx, rec); err != nil || !inIndex {
			return err
		}
		// A blob the index keeps goes in this same transaction when no
		// live entry shares it (this one counts as purged already): a
		// crash leaves no row behind.
		_, blobErr, err := a.deleteUnreferenced(ctx, tx, m.BlobRef)
		if err == nil {
			err = blobErr
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // purged meanwhile by another run
	}
	if err != nil {
		return fmt.Errorf("archive: purge %s: %w", m.ID, err)
	}
	a.metrics.purged.Inc()
	if inIndex {
		return nil
	}
	// The blob goes in a second step, under the chain lock, and only when no
	// live entry shares it: a concurrent Put of the same content either
	// committed before (and is counted) or checks the blob after (and puts
	// it back). A crash between the steps leaves an unreferenced blob.
	_, blobErr, err := a.deleteIfUnreferenced(ctx, m.BlobRef)
	if err != nil || blobErr == nil {
		return err
	}
	// The tombstone stands; the bytes stay. Under Object Lock that is the
	// point of WORM: the server refuses to delete a blob before its
	// retention date, whatever Wharf's retention rules say.
	detail := "blob not deleted: " + blobErr.Error()
	var locked *LockedError
	if errors.As(blobErr, &locked) {
		detail = "blob kept: the blob store refuses to delete it before its Object Lock retention date; " +
			"the retention job deletes it after that date; " + blobErr.Error()
		a.log.Warn("purge: blob kept under Object Lock until its retention date (entry purged, tombstone written)", "id", m.ID, "blob", m.BlobRef, "until", locked.Until, "err", blobErr)
		if err := a.st.KeepBlob(ctx, store.KeptBlob{BlobRef: m.BlobRef, MessageID: m.ID, Until: locked.Until}); err != nil {
			return fmt.Errorf("archive: purge %s: %w", m.ID, err)
		}
	} else {
		a.log.Warn("purge: blob not deleted (entry purged, tombstone written)", "id", m.ID, "blob", m.BlobRef, "err", blobErr)
	}
	if err := a.st.AppendEvent(ctx, &store.Event{MessageID: m.ID, At: a.now(), Kind: lifecycle.EventBlobKept, Detail: detail}); err != nil {
		return fmt.Errorf("archive: purge %s: %w", m.ID, err)
	}
	return nil
}

// deleteIfUnreferenced deletes the blob when no live entry refers to it.
// inUse says a live entry does; err is a store error; blobErr says why the
// blob store did not delete it.
func (a *Archive) deleteIfUnreferenced(ctx context.Context, ref string) (inUse bool, blobErr, err error) {
	err = a.st.WithTx(store.Alone(ctx), func(tx store.Tx) error {
		if _, err := tx.LockChain(ctx); err != nil {
			return err
		}
		inUse, blobErr, err = a.deleteUnreferenced(ctx, tx, ref)
		return err
	})
	return inUse, blobErr, err
}

// deleteUnreferenced is deleteIfUnreferenced inside tx, which holds the
// chain lock.
func (a *Archive) deleteUnreferenced(ctx context.Context, tx store.Tx, ref string) (inUse bool, blobErr, err error) {
	n, err := tx.CountBlobRefs(ctx, ref)
	if err != nil || n > 0 {
		return n > 0, nil, err
	}
	bs, key, err := a.storeIn(tx, ref)
	if err != nil {
		return false, nil, err
	}
	return false, bs.Delete(ctx, key), nil
}

// DeleteKeptBlobs deletes the blobs that purges had to leave under Object
// Lock, once their retention date has passed; the retention job runs it
// after its purges. Each deletion is a blob_deleted event on the purged
// entry. A blob whose retention was extended meanwhile waits for its new
// date; one that a newer entry refers to again is left to that entry's
// own purge. It returns how many blobs it deleted.
func (a *Archive) DeleteKeptBlobs(ctx context.Context) (int, error) {
	n := 0
	for {
		kept, err := a.st.KeptBlobsDue(ctx, a.now(), 200)
		if err != nil {
			return n, fmt.Errorf("archive: kept blobs: %w", err)
		}
		progress := false
		for _, k := range kept {
			inUse, blobErr, err := a.deleteIfUnreferenced(ctx, k.BlobRef)
			if err != nil {
				return n, fmt.Errorf("archive: kept blob %s: %w", k.BlobRef, err)
			}
			var locked *LockedError
			switch {
			case inUse:
				a.log.Info("kept blob in use again by a newer entry; its own purge will delete it", "blob", k.BlobRef, "purged", k.MessageID)
				err = a.st.ForgetKeptBlob(ctx, k.BlobRef)
			case errors.As(blobErr, &locked):
				a.log.Info("kept blob still under Object Lock; retention extended", "blob", k.BlobRef, "until", locked.Until)
				k.Until = locked.Until
				err = a.st.KeepBlob(ctx, k)
			case blobErr != nil:
				// The blob store failed (S3 down): the next run tries again.
				a.log.Warn("kept blob not deleted; the next retention run tries again", "blob", k.BlobRef, "err", blobErr)
				continue
			default:
				err = a.st.WithTx(ctx, func(tx store.Tx) error {
					if err := tx.ForgetKeptBlob(ctx, k.BlobRef); err != nil {
						return err
					}
					return tx.AppendEvent(ctx, &store.Event{MessageID: k.MessageID, At: a.now(), Kind: lifecycle.EventBlobDeleted,
						Detail: "blob deleted after its Object Lock retention date " + k.Until.Format(time.RFC3339)})
				})
				n++
			}
			if err != nil {
				return n, fmt.Errorf("archive: kept blob %s: %w", k.BlobRef, err)
			}
			progress = true
		}
		if len(kept) < 200 || !progress {
			return n, nil
		}
	}
}

// PurgeExpired applies every rule's delete-after: the scheduled retention
// job. A partner's own rule replaces the global one for that partner.
func (a *Archive) PurgeExpired(ctx context.Context) (int, error) {
	now := a.now()
	own := map[string]bool{}
	for _, r := range a.opts.Retention {
		if r.Partner != "" {
			own[r.Partner] = true
		}
	}
	total := 0
	for _, r := range a.opts.Retention {
		if r.DeleteAfter <= 0 {
			continue
		}
		reason := fmt.Sprintf("retention: delete after %s", r.DeleteAfter)
		var skip func(string) bool
		if r.Partner == "" {
			skip = func(p string) bool { return own[p] }
		} else {
			reason += " (partner " + r.Partner + ")"
		}
		n, err := a.purge(ctx, r.Partner, now.Add(-r.DeleteAfter), reason, skip)
		total += n
		if err != nil {
			return total, err
		}
	}
	if n, err := a.DeleteKeptBlobs(ctx); err != nil {
		return total, err
	} else if n > 0 {
		a.log.Info("retention: deleted blobs whose Object Lock retention has expired", "blobs", n)
	}
	return total, nil
}
