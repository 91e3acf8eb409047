package store

import (
	"context"
	"time"
)

// RecordInterchange records that message messageID carried interchange
// control number control from the sender, and returns the id of another
// message that carried the same one within the window ("" when none).
// Recording the same message twice (a retried job) is not a duplicate.
func (s *queries) RecordInterchange(ctx context.Context, senderQual, senderID, control, messageID string, within time.Duration) (string, error) {
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
