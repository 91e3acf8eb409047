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
	// by its ParentID; "" when the replay re-ran the original itself.
	NewID string
	// Job is the processing job of an inbound replay, or the delivery job
	// of a dead letter's replay.
	Job int64
	// Linked are the open exceptions about the original that the replay
	// was recorded on.
	Linked []string
}

// Rerun reports whether the replay re-ran the original message itself
// (its processing, or a dead letter's delivery) rather than sending a new
// message.
func (r *Replayed) Rerun() bool { return r.NewID == "" }

// String says what the replay did, for a history or a person.
func (r *Replayed) String() string {
	switch {
	case r.NewID != "":
		return fmt.Sprintf("message %s re-sent as %s", r.Original.ID, r.NewID)
	case r.Original.Direction == store.Outbound:
		return fmt.Sprintf("delivery of %s re-run from its archived bytes (job %d)", r.Original.ID, r.Job)
	}
	return fmt.Sprintf("processing of %s re-run from its archived bytes (job %d)", r.Original.ID, r.Job)
}

// ReplayOptions say who replays and which exception records the replay
// itself.
type ReplayOptions struct {
	// Actor names who replays, in the history of the exceptions the replay
	// is recorded on ("wharf" when empty).
	Actor string
	// Except is an exception that records the replay itself (the one an
	// operator acts on through sync.Act): not told again.
	Except string
}

// Replay is ReplayWith without options.
func Replay(ctx context.Context, a *archive.Archive, rt *jobs.Runtime, id string) (*Replayed, error) {
	return ReplayWith(ctx, a, rt, id, ReplayOptions{})
}

// ReplayWith runs a message again from its archived bytes:
//
//   - an inbound message: its processing, as a new processing job recorded
//     in its history (a copy would carry the same interchange control
//     number and be flagged as a duplicate; processing is idempotent, so an
//     acknowledgment already archived is not archived nor sent twice);
//   - a dead-lettered outbound message: its delivery, on the same message
//     (back to received, a new delivery job; same idempotency key, so a
//     transport that can tell never delivers it twice): a route still
//     broken dead-letters it again under the same exception, and replaying
//     it again and again adds no messages, exceptions or stuck documents;
//   - any other outbound message (delivered, failed, removed, waiting): a
//     new outbound message whose ParentID is the original, meant to arrive
//     again (its delivery job is enqueued by the archive's commit hook, so
//     it goes through the same engine, retries and dead letter).
//
// Every open exception about the message records the replay in its history
// (kind replayed); a delivery or processing that then succeeds resolves
// the exceptions it settles.
func ReplayWith(ctx context.Context, a *archive.Archive, rt *jobs.Runtime, id string, o ReplayOptions) (*Replayed, error) {
	st := a.Store()
	m, err := st.GetMessage(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", id, err)
	}
	res := &Replayed{Original: m}
	if m.Direction == store.Inbound || m.Status == lifecycle.StatusDeadLetter {
		err := st.WithTx(ctx, func(tx store.Tx) error {
			var args interface{ Kind() string } = jobs.ProcessArgs{MessageID: id}
			detail := "processing re-run from the archived bytes (job %d)"
			if m.Direction == store.Outbound {
				// Not delivered: sent again as it is, the same message.
				if err := tx.SetMessageStatus(ctx, id, lifecycle.StatusReceived); err != nil {
					return err
				}
				args = jobs.DeliverArgs{MessageID: id}
				detail = "delivery re-run from the archived bytes (job %d), the dead letter sent again as the same message"
			}
			j, err := rt.InsertTx(ctx, tx, args, nil)
			if err != nil {
				return err
			}
			res.Job = j.Job.ID
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventReplayed, Detail: fmt.Sprintf(detail, j.Job.ID)}); err != nil {
				return err
			}
			return linkExceptions(ctx, tx, res, o)
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
		Note: fmt.Sprintf("replay of message %s (%s), sent again from its archived bytes", m.ID, m.Status),
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", id, err)
	}
	res.NewID = e.ID
	_ = st.AppendEvent(ctx, &store.Event{MessageID: e.ID, Kind: lifecycle.EventReplay,
		Detail: fmt.Sprintf("re-send of %s (status %s) from its archived bytes", m.ID, m.Status)})
	err = st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventReplayed, Detail: "re-sent as message " + e.ID}); err != nil {
			return err
		}
		return linkExceptions(ctx, tx, res, o)
	})
	if err != nil {
		return res, fmt.Errorf("replay %s: re-sent as %s, but the original's history was not updated: %w", id, e.ID, err)
	}
	return res, nil
}

// linkExceptions records the replay in the history of every open
// exception about the original (but o.Except).
func linkExceptions(ctx context.Context, tx store.Tx, res *Replayed, o ReplayOptions) error {
	xs, err := tx.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, MessageID: res.Original.ID, Limit: 100})
	if err != nil {
		return err
	}
	actor := o.Actor
	if actor == "" {
		actor = "wharf"
	}
	for _, x := range xs {
		if x.ID == o.Except {
			continue
		}
		if err := tx.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: x.ID, Kind: "replayed", Actor: actor,
			Comment: res.String()}); err != nil {
			return err
		}
		res.Linked = append(res.Linked, x.ID)
	}
	return nil
}
