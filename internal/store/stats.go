package store

import (
	"context"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// MessageStat counts messages of one partner, transport, direction and
// status received in a window (the console's overview and its metrics).
type MessageStat struct {
	PartnerID string
	Transport string
	Direction Direction
	Status    lifecycle.Status
	Count     int64
	Bytes     int64
}

// MessageStats counts messages received at or after since, grouped by
// partner, transport, direction and status.
func (s *queries) MessageStats(ctx context.Context, since time.Time) ([]*MessageStat, error) {
	rows, err := s.q.query(ctx, `SELECT partner_id, transport, direction, status, count(*), CAST(COALESCE(sum(size), 0) AS BIGINT)
		FROM messages WHERE received_at >= $1
		GROUP BY partner_id, transport, direction, status
		ORDER BY partner_id, transport, direction, status`, since.UTC())
	if err != nil {
		return nil, s.err("message stats", err)
	}
	defer rows.Close()
	var out []*MessageStat
	for rows.Next() {
		m := &MessageStat{}
		var dir, status string
		if err := rows.Scan(&m.PartnerID, &m.Transport, &dir, &status, &m.Count, &m.Bytes); err != nil {
			return nil, s.err("message stats", err)
		}
		m.Direction, m.Status = Direction(dir), lifecycle.Status(status)
		out = append(out, m)
	}
	return out, s.err("message stats", rows.Err())
}

// UnacknowledgedSentGroups returns sent groups whose acknowledgment was due
// before now and has not come (lifecycle.AckStatus.Awaited: none or
// overdue), newest first.
func (s *queries) UnacknowledgedSentGroups(ctx context.Context, now time.Time) ([]*SentGroup, error) {
	return s.sentGroups(ctx, "unacknowledged sent groups", `ack_status IN ($1, $2) AND due_at IS NOT NULL AND due_at < $3`,
		string(lifecycle.AckNone), string(lifecycle.AckOverdue), now.UTC())
}
