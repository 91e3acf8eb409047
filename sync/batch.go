package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// queue keeps a batch route's document for the route's next run, once per
// idempotency key, and says so in the object's history.
func (e *Engine) queue(ctx context.Context, o *Outbound) error {
	doc, err := json.Marshal(o.Doc)
	if err != nil {
		return err
	}
	return e.Store.WithTx(ctx, func(tx store.Tx) error {
		queued, err := tx.QueueBatchItem(ctx, &store.BatchItem{Route: o.Route.Name, Kind: o.Kind, Key: o.Key, Event: o.Event,
			SourceID: o.Source.ID, Doc: string(doc), Idem: o.IdempotencyKey})
		if err != nil || !queued {
			return err
		}
		return tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: o.Kind, Key: o.Key, Event: "queued", System: o.Route.To, MessageID: o.Source.ID,
			Detail: fmt.Sprintf("route %s: %s for %s's next batch (%s)", o.Route.Name, o.Event, o.Route.To, o.Route.Send)})
	})
}

// RunBatch sends what a batch route collected since its last run as one
// file (the job sync.batch.NAME). A run that crashed after claiming sends the
// same documents again under the same idempotency key, so the partner gets
// each document once. It returns how many documents the file carried.
func (e *Engine) RunBatch(ctx context.Context, name string) (int, error) {
	var rt *Route
	for i := range e.Rules.Routes {
		if e.Rules.Routes[i].Name == name && e.Rules.Routes[i].Batch {
			rt = &e.Rules.Routes[i]
		}
	}
	if rt == nil {
		return 0, fmt.Errorf("sync: no batch route %q", name)
	}
	bs, ok := e.Sender.(BatchSender)
	if !ok {
		return 0, errors.New("sync: the sender cannot send batches")
	}
	claim, items, err := e.Store.ClaimBatch(ctx, name, 0)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	docs := make([]canonical.Document, 0, len(items))
	var keys []store.Key
	for _, it := range items {
		d, err := canonical.Decode([]byte(it.Doc))
		if err != nil {
			return 0, fmt.Errorf("sync: batch %s: item %d (%s %s): %w", name, it.ID, it.Kind, it.Key, err)
		}
		docs = append(docs, d)
		keys = append(keys, store.Key{Kind: it.Kind, Value: it.Key})
		if len(keys) < 10000 {
			more, err := objectKeys(ctx, e.Store, [2]string{it.Kind, it.Key})
			if err != nil {
				return 0, err
			}
			keys = append(keys, more...)
		}
	}
	id, err := bs.SendBatch(ctx, *rt, docs, keys, "batch:"+name+":"+claim)
	if errors.Is(err, ErrUnsendable) {
		// Not a retry loop: the documents go back to waiting (the next run
		// takes them again, with whatever arrived since) and IT hears once.
		if rerr := e.Store.ReleaseBatch(ctx, claim); rerr != nil {
			return 0, rerr
		}
		_, rerr := e.Store.RaiseException(ctx, &store.Exception{Reason: "route", Owner: store.OwnerIT, ObjectKind: "route", ObjectKey: name,
			PartnerID: rt.To, DedupeKey: "batch/" + name,
			Detail: fmt.Sprintf("batch route %s (%d documents for %s as %s) cannot be sent: %v; fix the route's format or the data; each run tries these documents again",
				name, len(docs), rt.To, rt.Send, err)})
		return 0, rerr
	}
	if err != nil {
		return 0, fmt.Errorf("sync: batch %s to %s: %w", name, rt.To, err)
	}
	err = e.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SettleBatch(ctx, claim, id); err != nil {
			return err
		}
		for _, it := range items {
			if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: it.Kind, Key: it.Key, Event: "sent", System: rt.To, MessageID: id,
				Detail: fmt.Sprintf("route %s: %s to %s as %s, in a batch of %d", name, it.Event, rt.To, rt.Send, len(items))}); err != nil {
				return err
			}
		}
		return nil
	})
	return len(items), err
}
