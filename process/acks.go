package process

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// recordSent remembers the functional groups of an outbound X12 message so
// that the partner's 997/999/TA1 can be matched to it, with a due time when
// the partner's policy expects acknowledgments. Acknowledgments Wharf sends
// are never acknowledged, so FA groups are not recorded.
//
// A message delivery already gave up on (dead-lettered, or failed) has
// its groups recorded as not sent (lifecycle.AckNotSent) and no
// awaiting_ack event: nothing is awaited of what never left (its replay,
// once delivered, awaits them). The transaction takes the message's row
// first, so that a dead letter committed at the same moment is either
// seen here or sees the groups (store.ExpectNoAcks).
func (p *Processor) recordSent(ctx context.Context, m *store.Message, rep *x12.Report) error {
	pol := p.policy(m.PartnerID)
	now := p.now()
	var due time.Time
	if pol.AckTimeout > 0 {
		due = now.Add(pol.AckTimeout)
	}
	var keys []store.Key
	var groups []*store.SentGroup
	types := map[string]bool{}
	for _, ic := range rep.Interchanges {
		for _, g := range ic.Groups {
			for _, st := range g.Sets {
				types[st.ID] = true
			}
			if g.IsAck() {
				continue
			}
			keys = append(keys, store.Key{Kind: "isa13", Value: ic.Control}, store.Key{Kind: "gs06", Value: g.Control})
			groups = append(groups, &store.SentGroup{MessageID: m.ID, PartnerID: m.PartnerID, ISA13: ic.Control,
				GS06: g.Control, FunctionalID: g.FunctionalID, Sets: g.Received, SentAt: now, DueAt: due})
		}
	}
	if len(groups) == 0 {
		return nil
	}
	var sorted []string
	for t := range types {
		sorted = append(sorted, t)
	}
	slices.Sort(sorted)
	return p.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetMessageFormat(ctx, m.ID, "x12", sorted); err != nil { // takes the row
			return err
		}
		cur, err := tx.GetMessage(ctx, m.ID)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := tx.RecordSentGroup(ctx, g); err != nil {
				return err
			}
		}
		if err := tx.AddMessageKeys(ctx, m.ID, dedupe(keys)); err != nil {
			return err
		}
		if s := cur.Status; s == lifecycle.StatusDeadLetter || s == lifecycle.StatusFailed {
			if err := tx.ExpectNoAcks(ctx, m.ID); err != nil {
				return err
			}
			return last(ctx)(tx)
		}
		detail := fmt.Sprintf("%d functional group(s) sent; the partner's acknowledgment is matched by GS06/ISA13", len(groups))
		if !due.IsZero() {
			detail += "; expected by " + due.Format(time.RFC3339)
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventAwaitingAck, Detail: detail}); err != nil {
			return err
		}
		return last(ctx)(tx)
	})
}

// reconcile matches the 997/999/TA1 in an inbound message to what Wharf sent
// the partner: each sent group becomes accepted, partially accepted or
// rejected, with an event on the sent message; an acknowledgment that
// matches nothing is an exception on the inbound one.
//
// Acknowledgments carried by an interchange that validation rejected (a
// duplicate ISA13, a broken envelope) are not applied: the partner is told
// the interchange was rejected (TA1), and what it carried is not taken as
// said; the reconciled event names them.
func (p *Processor) reconcile(ctx context.Context, m *store.Message, rejectedICs map[string]bool) error {
	rc, err := p.open(ctx, m)
	if err != nil {
		return err
	}
	defer rc.Close()
	acks, err := x12.ReadAcks(x12.NewReader(rc)) // x12.Reader buffers
	if err != nil {
		return fmt.Errorf("process %s: read acknowledgments: %w", m.ID, err)
	}
	var unmatched, ignored []string
	for _, ga := range acks.Groups {
		if rejectedICs[ga.Envelope.Control] {
			ignored = append(ignored, fmt.Sprintf("%s for group %s %s (interchange %s)", ga.Kind, ga.FunctionalID, ga.Control, ga.Envelope.Control))
			continue
		}
		status := groupStatus(ga.Status)
		sent, err := p.Store.SentGroupsByGS06(ctx, m.PartnerID, ga.Control)
		if err != nil {
			return err
		}
		if len(sent) == 0 {
			unmatched = append(unmatched, fmt.Sprintf("%s for group %s %s", ga.Kind, ga.FunctionalID, ga.Control))
			continue
		}
		g := sent[0] // control numbers are never reused per partner: newest is the one
		var rejected []string
		for _, sa := range ga.Sets {
			if sa.Status == x12.Rejected {
				rejected = append(rejected, sa.ID+" "+sa.Control+" "+strings.Join(sa.Codes, ","))
			}
		}
		detail := fmt.Sprintf("%s from the partner (message %s): group %s %s %s; %d of %d set(s) accepted", ga.Kind, m.ID,
			ga.FunctionalID, ga.Control, status, ga.Accepted, ga.Included)
		if len(ga.Codes) > 0 {
			detail += "; codes " + strings.Join(ga.Codes, ",")
		}
		if len(rejected) > 0 {
			detail += "; rejected sets: " + strings.Join(rejected, "; ")
		}
		if err := p.settle(ctx, g, status, m.ID, detail); err != nil {
			return err
		}
	}
	for _, ta := range acks.TA1 {
		if rejectedICs[ta.Envelope.Control] {
			ignored = append(ignored, fmt.Sprintf("TA1 for interchange %s (interchange %s)", ta.Control, ta.Envelope.Control))
			continue
		}
		if ta.Status == x12.Accepted {
			continue // an accepted envelope says nothing about the groups
		}
		sent, err := p.Store.SentGroupsByISA13(ctx, m.PartnerID, ta.Control)
		if err != nil {
			return err
		}
		if len(sent) == 0 {
			unmatched = append(unmatched, "TA1 for interchange "+ta.Control)
			continue
		}
		for _, g := range sent {
			status := lifecycle.AckAcceptedWithErrors
			if ta.Status == x12.Rejected {
				status = lifecycle.AckRejected
			}
			detail := fmt.Sprintf("TA1 from the partner (message %s): interchange %s %s, note %s", m.ID, ta.Control, status, ta.Note)
			if err := p.settle(ctx, g, status, m.ID, detail); err != nil {
				return err
			}
		}
	}
	summary := fmt.Sprintf("acknowledgments read: %d group ack(s), %d TA1", len(acks.Groups), len(acks.TA1))
	if len(ignored) > 0 {
		summary += fmt.Sprintf("; %d not applied because the interchange carrying them was rejected: %s", len(ignored), strings.Join(ignored, "; "))
	}
	return p.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventReconciled, Detail: summary}); err != nil {
			return err
		}
		for _, u := range unmatched {
			detail := "acknowledgment matches nothing Wharf sent to " + m.PartnerID + ": " + u
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventException, Detail: detail}); err != nil {
				return err
			}
			if _, err := tx.RaiseException(ctx, &store.Exception{Reason: "ack_unmatched", Owner: store.OwnerIT,
				Detail: detail + " (check the partner's sender IDs and control numbers, then resolve)", ObjectKind: "message", ObjectKey: m.ID,
				PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "ack_unmatched/" + m.ID + "/" + u}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *Processor) settle(ctx context.Context, g *store.SentGroup, status lifecycle.AckStatus, ackID, detail string) error {
	return p.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetSentGroupAck(ctx, &store.SetSentGroupAckParams{MessageID: g.MessageID, GS06: g.GS06, Status: status, AckMessageID: ackID}); err != nil {
			return err
		}
		if status == lifecycle.AckOverdue || status == lifecycle.AckRejected {
			reason, what := "ack_overdue", "ask the partner to send its acknowledgment, or replay the message"
			if status == lifecycle.AckRejected {
				reason, what = "ack_rejected", "read the partner's acknowledgment, correct the data and replay"
			}
			if _, err := tx.RaiseException(ctx, &store.Exception{Reason: reason, Owner: store.OwnerIT,
				Detail: strings.TrimPrefix(detail, "exception: ") + "; " + what, ObjectKind: "message", ObjectKey: g.MessageID,
				PartnerID: g.PartnerID, MessageID: g.MessageID, DedupeKey: reason + "/" + g.MessageID + "/" + g.GS06}); err != nil {
				return err
			}
		}
		return tx.AppendEvent(ctx, &store.Event{MessageID: g.MessageID, Kind: status.Event(), Detail: detail})
	})
}

func groupStatus(s x12.Status) lifecycle.AckStatus {
	switch s {
	case x12.Accepted:
		return lifecycle.AckAccepted
	case x12.AcceptedWithErrors:
		return lifecycle.AckAcceptedWithErrors
	case x12.Partial:
		return lifecycle.AckPartiallyAccepted
	}
	return lifecycle.AckRejected
}

// CheckOverdue raises an exception for every sent group whose
// acknowledgment is past due (the partner's x12.ack_timeout). It is the
// "x12.ack_overdue" scheduled job.
func (p *Processor) CheckOverdue(ctx context.Context) (int, error) {
	gs, err := p.Store.OverdueSentGroups(ctx, p.now())
	if err != nil {
		return 0, err
	}
	for _, g := range gs {
		detail := fmt.Sprintf("exception: no acknowledgment from %s for group %s %s (interchange %s) sent %s; it was due %s",
			g.PartnerID, g.FunctionalID, g.GS06, g.ISA13, g.SentAt.Format(time.RFC3339), g.DueAt.Format(time.RFC3339))
		if err := p.settle(ctx, g, lifecycle.AckOverdue, "", detail); err != nil {
			return 0, err
		}
		if p.Logger != nil {
			p.Logger.Warn("acknowledgment overdue", "partner", g.PartnerID, "message", g.MessageID, "gs06", g.GS06, "due", g.DueAt)
		}
	}
	return len(gs), nil
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
