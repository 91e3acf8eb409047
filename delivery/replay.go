package delivery

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// Replayed says what a replay did.
type Replayed struct {
	Original *store.Message
	// NewID is the new outbound message (re-send), linked to the original
	// by its ParentID; "" for an inbound replay.
	NewID string
	// Job is the processing job of an inbound replay.
	Job int64
}

// Replay re-sends an outbound message from its archived bytes, as a new
// outbound message whose ParentID is the original (its delivery job is
// enqueued by the archive's commit hook, so it goes through the same
// engine, retries and dead letter), or re-runs processing of an inbound
// message from its archived bytes, as a new processing job recorded in the
// message's history. An inbound replay keeps the message rather than
// archiving a copy: a copy would carry the same interchange control number
// and be flagged as a duplicate. Processing is idempotent, so an
// acknowledgment already archived is not archived (nor sent) twice.
func Replay(ctx context.Context, a *archive.Archive, rt *jobs.Runtime, id string) (*Replayed, error) {
	st := a.Store()
	m, err := st.GetMessage(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", id, err)
	}
	res := &Replayed{Original: m}
	if m.Direction == store.Inbound {
		err := st.WithTx(ctx, func(tx store.Tx) error {
			j, err := rt.InsertTx(ctx, tx, jobs.ProcessArgs{MessageID: id}, nil)
			if err != nil {
				return err
			}
			res.Job = j.Job.ID
			return tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventReplayed,
				Detail: fmt.Sprintf("processing re-run from the archived bytes (job %d)", j.Job.ID)})
		})
		if err != nil {
			return nil, fmt.Errorf("replay %s: %w", id, err)
		}
		return res, nil
	}
	rc, _, err := a.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", id, err)
	}
	defer rc.Close()
	e, err := a.Put(ctx, rc, archive.Meta{
		Partner: m.PartnerID, Direction: store.Outbound, Transport: m.Transport, RemoteName: m.RemoteName,
		CorrelationID: m.CorrelationID, ParentID: m.ID, IdempotencyKey: "replay:" + m.ID + ":" + uuid.NewString(),
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", id, err)
	}
	res.NewID = e.ID
	_ = st.AppendEvent(ctx, &store.Event{MessageID: e.ID, Kind: lifecycle.EventReplay,
		Detail: fmt.Sprintf("re-send of %s (status %s) from its archived bytes", m.ID, m.Status)})
	if err := st.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventReplayed,
		Detail: fmt.Sprintf("re-sent as message %s", e.ID)}); err != nil {
		return res, fmt.Errorf("replay %s: re-sent as %s, but the original's history was not updated: %w", id, e.ID, err)
	}
	return res, nil
}
