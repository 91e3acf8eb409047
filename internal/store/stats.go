package store

import (
	"context"
	"fmt"
	"strings"
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

// HourlyStat is one partner's traffic of one hour: messages received in
// it (inbound and outbound), the errors among them (lifecycle's IsError:
// rejected, dead letter, failed) and the latency of those that reached
// their outcome: from received to the first mapped (inbound), delivered,
// dead-letter or failed event of its history.
type HourlyStat struct {
	PartnerID  string
	Hour       time.Time // UTC, on the hour
	In, Out    int64
	Errors     int64
	Settled    int64         // messages with a latency
	LatencySum time.Duration // of the settled ones
	LatencyMax time.Duration
}

// settledKinds are the events that end a message's way through Wharf.
var settledKinds = []lifecycle.EventKind{lifecycle.EventMapped, lifecycle.EventDelivered, lifecycle.EventDeadLetter, lifecycle.EventFailed}

// HourlyStats groups the messages received at or after since by partner
// and hour, in one statement (the latency of each message is the first
// settling event of its history, looked up by the index on message_id).
func (s *queries) HourlyStats(ctx context.Context, since time.Time) ([]*HourlyStat, error) {
	var kinds, errs []string
	args := []any{since.UTC()}
	for _, k := range settledKinds {
		args = append(args, string(k))
		kinds = append(kinds, fmt.Sprintf("$%d", len(args)))
	}
	for _, st := range lifecycle.Statuses() {
		if st.IsError() {
			args = append(args, string(st))
			errs = append(errs, fmt.Sprintf("$%d", len(args)))
		}
	}
	rec := s.epochMicros("m.received_at")
	q := `SELECT partner_id, hour, count(*),
			CAST(COALESCE(sum(CASE WHEN direction = 'in' THEN 1 ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(sum(CASE WHEN failed THEN 1 ELSE 0 END), 0) AS BIGINT),
			count(latency), CAST(COALESCE(sum(latency), 0) AS BIGINT), CAST(COALESCE(max(latency), 0) AS BIGINT)
		FROM (SELECT m.partner_id, m.direction, m.status IN (` + strings.Join(errs, ", ") + `) AS failed,
				` + rec + ` / 3600000000 AS hour,
				(SELECT min(` + s.epochMicros("e.at") + `) FROM message_events e WHERE e.message_id = m.id AND e.kind IN (` + strings.Join(kinds, ", ") + `)) - ` + rec + ` AS latency
			FROM messages m WHERE m.received_at >= $1) x
		GROUP BY partner_id, hour ORDER BY partner_id, hour`
	rows, err := s.q.query(ctx, q, args...)
	if err != nil {
		return nil, s.err("hourly stats", err)
	}
	defer rows.Close()
	var out []*HourlyStat
	for rows.Next() {
		h := &HourlyStat{}
		var hour, n, sum, mx int64
		if err := rows.Scan(&h.PartnerID, &hour, &n, &h.In, &h.Errors, &h.Settled, &sum, &mx); err != nil {
			return nil, s.err("hourly stats", err)
		}
		h.Hour = time.Unix(hour*3600, 0).UTC()
		h.Out = n - h.In
		h.LatencySum, h.LatencyMax = time.Duration(sum)*time.Microsecond, time.Duration(mx)*time.Microsecond
		out = append(out, h)
	}
	return out, s.err("hourly stats", rows.Err())
}

// UnacknowledgedSentGroups returns sent groups whose acknowledgment was due
// before now and has not come (lifecycle.AckStatus.Awaited: none or
// overdue), newest first.
func (s *queries) UnacknowledgedSentGroups(ctx context.Context, now time.Time) ([]*SentGroup, error) {
	return s.sentGroups(ctx, "unacknowledged sent groups", `ack_status IN ($1, $2) AND due_at IS NOT NULL AND due_at < $3`,
		string(lifecycle.AckNone), string(lifecycle.AckOverdue), now.UTC())
}
