package store

import (
	"context"
	"time"
)

// RecordInterchangeParams says which interchange a message carried, for
// Queries.RecordInterchange.
type RecordInterchangeParams struct {
	// SenderQual is the sender's interchange ID qualifier (ISA05); callers
	// may scope it further (process prefixes the partner ID).
	SenderQual string
	// SenderID is the sender's interchange ID (ISA06).
	SenderID string
	// Control is the interchange control number (ISA13).
	Control string
	// MessageID is the message that carried the interchange.
	MessageID string
	// Within is the duplicate window: another message that carried the
	// same interchange less than this long ago is a duplicate.
	Within time.Duration
}

// RecordInterchange records that message p.MessageID carried interchange
// control number p.Control from the sender, and returns the id of another
// message that carried the same one within p.Within ("" when none).
// Recording the same message twice (a retried job) is not a duplicate.
func (s *queries) RecordInterchange(ctx context.Context, p *RecordInterchangeParams) (string, error) {
	senderQual, senderID, control, messageID, within := p.SenderQual, p.SenderID, p.Control, p.MessageID, p.Within
	var dup string
	err := s.atomic(ctx, func(q *queries) error {
		t := s.now()
		err := q.q.queryRow(ctx, `SELECT message_id FROM x12_interchanges WHERE sender_qual = $1 AND sender_id = $2 AND control = $3
			AND message_id <> $4 AND seen_at >= $5 ORDER BY seen_at LIMIT 1`,
			senderQual, senderID, control, messageID, t.Add(-within)).Scan(&dup)
		if err != nil && q.translate(err) != ErrNotFound {
			return q.err("record interchange", err)
		}
		_, err = q.q.exec(ctx, `INSERT INTO x12_interchanges (sender_qual, sender_id, control, message_id, seen_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, senderQual, senderID, control, messageID, t)
		return q.err("record interchange", err)
	})
	return dup, err
}
