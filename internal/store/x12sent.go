package store

import (
	"context"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// SentGroup is a functional group Wharf sent and the partner's verdict on it.
type SentGroup struct {
	MessageID    string
	PartnerID    string
	ISA13, GS06  string
	FunctionalID string
	Sets         int
	SentAt       time.Time
	DueAt        time.Time           // zero: no acknowledgment expected
	AckStatus    lifecycle.AckStatus // lifecycle.AckNone until the partner's verdict, or overdue
	AckMessageID string
}

// RecordSentGroup remembers a sent group (again: no change).
func (s *queries) RecordSentGroup(ctx context.Context, g *SentGroup) error {
	var due any
	if !g.DueAt.IsZero() {
		due = g.DueAt.UTC()
	}
	_, err := s.q.exec(ctx, `INSERT INTO x12_sent_groups (message_id, partner_id, isa13, gs06, functional_id, sets, sent_at, due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		g.MessageID, g.PartnerID, g.ISA13, g.GS06, g.FunctionalID, g.Sets, g.SentAt.UTC(), due)
	return s.err("record sent group", err)
}

const sentCols = `message_id, partner_id, isa13, gs06, functional_id, sets, sent_at, due_at, ack_status, ack_message_id`

func (s *queries) sentGroups(ctx context.Context, op, where string, args ...any) ([]*SentGroup, error) {
	rows, err := s.q.query(ctx, `SELECT `+sentCols+` FROM x12_sent_groups WHERE `+where+` ORDER BY sent_at DESC LIMIT 1000`, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []*SentGroup
	for rows.Next() {
		g := &SentGroup{}
		var ack string
		if err := rows.Scan(&g.MessageID, &g.PartnerID, &g.ISA13, &g.GS06, &g.FunctionalID, &g.Sets,
			timeCol{&g.SentAt}, timeCol{&g.DueAt}, &ack, &g.AckMessageID); err != nil {
			return nil, s.err(op, err)
		}
		g.AckStatus = lifecycle.AckStatus(ack)
		out = append(out, g)
	}
	return out, s.err(op, rows.Err())
}

// SentGroupsByGS06 returns the partner's sent groups with that control number, newest first.
func (s *queries) SentGroupsByGS06(ctx context.Context, partnerID, gs06 string) ([]*SentGroup, error) {
	return s.sentGroups(ctx, "sent groups", `partner_id = $1 AND gs06 = $2`, partnerID, gs06)
}

// SentGroupsByISA13 returns the partner's sent groups of that interchange, newest first.
func (s *queries) SentGroupsByISA13(ctx context.Context, partnerID, isa13 string) ([]*SentGroup, error) {
	return s.sentGroups(ctx, "sent groups", `partner_id = $1 AND isa13 = $2`, partnerID, isa13)
}

// OverdueSentGroups returns groups still unacknowledged past their due time.
func (s *queries) OverdueSentGroups(ctx context.Context, now time.Time) ([]*SentGroup, error) {
	return s.sentGroups(ctx, "overdue sent groups", `ack_status = $1 AND due_at IS NOT NULL AND due_at < $2`, string(lifecycle.AckNone), now.UTC())
}

// SetSentGroupAckParams names a sent group and the partner's verdict on
// it, for Queries.SetSentGroupAck.
type SetSentGroupAckParams struct {
	// MessageID is the outbound message that carried the group.
	MessageID string
	// GS06 is the group's control number.
	GS06 string
	// Status is the partner's verdict, or lifecycle.AckOverdue.
	Status lifecycle.AckStatus
	// AckMessageID is the inbound message that carried the 997, 999 or
	// TA1 ("" when there is none, as for overdue).
	AckMessageID string
}

// SetSentGroupAck records the partner's verdict (or "overdue") on a group.
// The verdict is an outbox event about the sent message in the same
// transaction: message.acknowledged (accepted, with or without errors,
// partially), message.ack_rejected or message.ack_overdue.
func (s *queries) SetSentGroupAck(ctx context.Context, p *SetSentGroupAckParams) error {
	return s.atomic(ctx, func(q *queries) error {
		var old string
		err := q.q.queryRow(ctx, `SELECT ack_status FROM x12_sent_groups WHERE message_id = $1 AND gs06 = $2`+q.forUpdate, p.MessageID, p.GS06).Scan(&old)
		if q.translate(err) == ErrNotFound {
			return nil
		}
		if err != nil {
			return q.err("set sent group ack", err)
		}
		if _, err := q.q.exec(ctx, `UPDATE x12_sent_groups SET ack_status = $1, ack_message_id = $2 WHERE message_id = $3 AND gs06 = $4`,
			string(p.Status), p.AckMessageID, p.MessageID, p.GS06); err != nil {
			return q.err("set sent group ack", err)
		}
		if old == string(p.Status) {
			return nil
		}
		what := "acknowledged"
		switch p.Status {
		case lifecycle.AckRejected:
			what = "ack_rejected"
		case lifecycle.AckOverdue:
			what = "ack_overdue"
		case lifecycle.AckNotSent, lifecycle.AckNone:
			return nil
		}
		m, err := scanMessage(q.q.queryRow(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`, p.MessageID))
		if q.translate(err) == ErrNotFound {
			return nil // a group of a message this store does not hold (tests, imports): nothing to tell
		}
		if err != nil {
			return q.err("set sent group ack", err)
		}
		return q.messageEvent(ctx, m, what, map[string]any{"ack": map[string]string{
			"gs06": p.GS06, "status": string(p.Status), "ack_message_id": p.AckMessageID}})
	})
}

// ExpectNoAcks marks the message's groups that still await an
// acknowledgment as lifecycle.AckNotSent (the message was dead-lettered),
// so that no overdue acknowledgment is raised for what never left.
func (s *queries) ExpectNoAcks(ctx context.Context, messageID string) error {
	_, err := s.q.exec(ctx, `UPDATE x12_sent_groups SET ack_status = $1 WHERE message_id = $2 AND ack_status IN ($3, $4)`,
		string(lifecycle.AckNotSent), messageID, string(lifecycle.AckNone), string(lifecycle.AckOverdue))
	return s.err("expect no acks", err)
}

// RearmSentGroups: the message's groups that were not sent
// (lifecycle.AckNotSent: it was dead-lettered) have been sent now (the
// dead letter's replay was delivered): they are awaited again from the
// store's clock, each due as long after it as it was due after it was
// first recorded.
func (s *queries) RearmSentGroups(ctx context.Context, messageID string) error {
	return s.atomic(ctx, func(q *queries) error {
		gs, err := q.sentGroups(ctx, "rearm sent groups", `message_id = $1 AND ack_status = $2`, messageID, string(lifecycle.AckNotSent))
		if err != nil {
			return err
		}
		now := q.now()
		for _, g := range gs {
			var due any
			if !g.DueAt.IsZero() {
				due = now.Add(g.DueAt.Sub(g.SentAt)).UTC()
			}
			if _, err := q.q.exec(ctx, `UPDATE x12_sent_groups SET ack_status = $1, sent_at = $2, due_at = $3 WHERE message_id = $4 AND gs06 = $5`,
				string(lifecycle.AckNone), now, due, messageID, g.GS06); err != nil {
				return q.err("rearm sent groups", err)
			}
		}
		return nil
	})
}
