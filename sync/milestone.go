package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Milestone is the data of a milestone's outbox event (package events
// publishes it as a CloudEvent; docs/events.schema.json describes it):
// the object after the change and the canonical document that caused it.
type Milestone struct {
	Object struct {
		Kind  string          `json:"kind"`
		Key   string          `json:"key"`
		State string          `json:"state"`
		Data  json.RawMessage `json:"data"`
	} `json:"object"`
	// Related are the other objects the document concerns (an invoice's
	// order and shipment), as [kind, key] pairs.
	Related  [][2]string     `json:"related,omitempty"`
	Document json.RawMessage `json:"document"`
}

// milestone writes event ev about obj to the outbox, in the transaction
// that records it (tx): the event is published if and only if the change
// committed.
func milestone(ctx context.Context, tx store.Tx, m *store.Message, obj *store.SyncObject, ev string, d canonical.Document, related [][2]string, at time.Time) error {
	var ms Milestone
	ms.Object.Kind, ms.Object.Key, ms.Object.State = obj.Kind, obj.Key, obj.State
	ms.Object.Data = json.RawMessage(obj.Data)
	if !json.Valid(ms.Object.Data) {
		ms.Object.Data = json.RawMessage("{}")
	}
	for _, r := range related {
		if r[1] != "" && (r[0] != obj.Kind || r[1] != obj.Key) {
			ms.Related = append(ms.Related, r)
		}
	}
	doc, err := canonical.AppendJSON(nil, d)
	if err != nil {
		return fmt.Errorf("sync: event %s for %s %s: encode the %s: %w", ev, obj.Kind, obj.Key, d.Head().Type, err)
	}
	ms.Document = doc
	b, err := json.Marshal(&ms)
	if err != nil {
		return fmt.Errorf("sync: event %s for %s %s: %w", ev, obj.Kind, obj.Key, err)
	}
	return tx.AppendOutbox(ctx, &store.OutboxEvent{At: at, Type: ev, ObjectKind: obj.Kind, ObjectKey: obj.Key, Subject: obj.Key,
		PartnerID: m.PartnerID, MessageID: m.ID, CorrelationID: m.CorrelationID, Data: b})
}
