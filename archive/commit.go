package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/wharfedi/wharf/internal/durable"
	"github.com/wharfedi/wharf/internal/store"
)

// pending is a Put waiting for its index transaction.
type pending struct {
	ctx  context.Context
	e    *Entry
	tmp  string
	blob []byte // the bytes, for a blob the index keeps (tmp is "")
	dir  string // the blob's folder, to fsync before the commit ("" if none)
	keys []store.Key
	note string
	done chan error
}

// commit records p's entry. Concurrent Puts share transactions (group
// commit): the first caller becomes the leader and commits everything that
// queued up meanwhile in one transaction, so N writers pay for one database
// commit (one fsync on SQLite) instead of N. Each Put still returns only
// after the transaction holding its entry has committed. If a shared
// transaction fails, its entries are retried one per transaction so that
// each Put gets its own outcome (an idempotency conflict, a failing
// OnCommit) and one failure never fails another Put.
//
// On a store with a group commit of its own (SQLite's), the Puts join it
// instead (commitMerged).
func (a *Archive) commit(p *pending) error {
	if a.merger != nil {
		return a.commitMerged(p)
	}
	a.cm.Lock()
	a.cm.queue = append(a.cm.queue, p)
	if a.cm.leading {
		a.cm.Unlock()
		return <-p.done
	}
	a.cm.leading = true
	for {
		batch := a.cm.queue
		a.cm.queue = nil
		if len(batch) == 0 {
			a.cm.leading = false
			a.cm.Unlock()
			break
		}
		a.cm.Unlock()
		a.commitBatch(batch)
		a.cm.Lock()
	}
	return <-p.done
}

const maxBatch = 256

func (a *Archive) commitBatch(batch []*pending) {
	for len(batch) > maxBatch {
		a.commitBatch(batch[:maxBatch])
		batch = batch[maxBatch:]
	}
	var live []*pending
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- err
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	if err := a.syncDirs(live); err != nil {
		for _, p := range live {
			p.done <- fmt.Errorf("archive: put: %w", err)
		}
		return
	}
	// Each transaction below takes the chain's lock, which every archive
	// write waits for: it runs alone, not in a transaction shared with
	// other work (store.Alone).
	if len(live) > 1 {
		// The shared transaction must not die with one caller's context.
		ctx := context.WithoutCancel(live[0].ctx)
		err := a.st.WithTx(store.Alone(ctx), func(tx store.Tx) error { return a.recordAll(ctx, tx, live) })
		if err == nil {
			a.committed()
			for _, p := range live {
				p.done <- nil
			}
			return
		}
		// Retry one by one; fields set by the failed attempt are reset.
		for _, p := range live {
			p.e.DuplicateOf = ""
		}
	}
	for _, p := range live {
		err := a.st.WithTx(store.Alone(p.ctx), func(tx store.Tx) error { return a.recordAll(p.ctx, tx, []*pending{p}) })
		if err == nil {
			a.committed()
		}
		p.done <- err
	}
}

// commitMerged records p's entry in the next commit of the store's group
// commit, with the entries of the other Puts of that commit: the store
// writes them with one recordAll (store.Merger). The archive's own
// batching would make a Put that comes while a batch is being committed
// wait for that commit before its batch could even join the store's queue:
// measured on SFTP small files, 5 ms of an upload's 18 ms before its CLOSE
// OK, with the store's group commit (4.5 ms waiting for its turn, 8 ms for
// the commit) behind it.
func (a *Archive) commitMerged(p *pending) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	// Flushes are shared by concurrent callers (durable), as one per batch
	// was.
	if err := a.syncDirs([]*pending{p}); err != nil {
		return fmt.Errorf("archive: put: %w", err)
	}
	if err := a.merger.WithTxMerged(p.ctx, a.merged, p); err != nil {
		return err
	}
	a.committed()
	return nil
}

// recordItems is recordAll for the pending Puts a store.Merger hands over.
func (a *Archive) recordItems(ctx context.Context, tx store.Tx, items []any) error {
	ps := make([]*pending, len(items))
	for i, it := range items {
		ps[i] = it.(*pending)
	}
	return a.recordAll(ctx, tx, ps)
}

// committed tells Options.Committed that new entries are in.
func (a *Archive) committed() {
	if a.opts.Committed != nil {
		a.opts.Committed()
	}
}

// recordAll locks the chain once, prepares each entry after the other
// (its blob, its duplicate check, its chain record), writes them all with
// a few multi-row statements (store.RecordArchived: on PostgreSQL a round
// trip per table instead of several per entry under the chain's lock), then
// runs OnCommit for each.
func (a *Archive) recordAll(ctx context.Context, tx store.Tx, ps []*pending) error {
	head, err := tx.LockChain(ctx)
	if err != nil {
		return err
	}
	// Each received file's earlier message with its content, for the whole
	// batch in one statement (on PostgreSQL a round trip per file before).
	var contents [][2]string
	var received []int
	for i, p := range ps {
		if !p.e.Generated {
			contents = append(contents, [2]string{p.e.PartnerID, p.e.SHA256})
			received = append(received, i)
		}
	}
	earlier := make([]string, len(ps))
	if len(contents) > 0 {
		ids, err := tx.FirstWithContents(ctx, contents)
		if err != nil {
			return err
		}
		for j, i := range received {
			earlier[i] = ids[j]
		}
	}
	batch := make([]*store.Archived, 0, len(ps))
	first := map[[2]string]string{} // partner and content: the batch's first message with it
	for i, p := range ps {
		r, err := a.record(ctx, tx, &head, p.e, p.tmp, p.blob, p.keys, p.note, earlier[i], first)
		if err != nil {
			return err
		}
		batch = append(batch, r)
	}
	if err := tx.RecordArchived(ctx, batch); err != nil {
		return err
	}
	if a.opts.OnCommit != nil {
		for _, p := range ps {
			if err := a.opts.OnCommit(ctx, tx, p.e); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDirs makes the blobs' folder entries of a group commit durable before
// their index rows are: each blob's content was fsync'd before it was
// linked, so after this a crash can lose nothing the index points to. Each
// folder is fsync'd once per group, the folders concurrently.
func (a *Archive) syncDirs(ps []*pending) error {
	if a.flush != "" { // one flush of the file system covers every folder
		for _, p := range ps {
			if p.dir != "" {
				return durable.SyncFS(a.flush)
			}
		}
		return nil
	}
	var dirs []string
	for _, p := range ps {
		if p.dir != "" && !slices.Contains(dirs, p.dir) {
			dirs = append(dirs, p.dir)
		}
	}
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Go(func() { errs[i] = syncDir(d) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
