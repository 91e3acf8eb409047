package store

import (
	"context"
	"fmt"
	"time"
)

// AuditEvent records an action outside any one message: an SFTP login or
// refusal, a session's totals, an operator's action. Append-only.
type AuditEvent struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // partner ID, user or token name
	Kind   string    `json:"kind"`   // login, login_refused, logout, ...
	Remote string    `json:"remote"` // remote address
	Detail string    `json:"detail"`
}

// AppendAudit adds an audit event.
func (s *queries) AppendAudit(ctx context.Context, e *AuditEvent) error {
	if e.Kind == "" {
		return fmt.Errorf("store: append audit: %w: kind is required", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	err := s.q.queryRow(ctx, `INSERT INTO audit_events (at, actor, kind, remote, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		e.At, e.Actor, e.Kind, e.Remote, e.Detail).Scan(&e.ID)
	return s.err("append audit", err)
}

// AuditEvents returns an actor's audit events (all actors for ""), newest first.
func (s *queries) AuditEvents(ctx context.Context, actor string, limit int) ([]*AuditEvent, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT id, at, actor, kind, remote, detail FROM audit_events`
	var args []any
	if actor != "" {
		q += ` WHERE actor = $1`
		args = append(args, actor)
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
	rows, err := s.q.query(ctx, q, args...)
	if err != nil {
		return nil, s.err("audit events", err)
	}
	defer rows.Close()
	var out []*AuditEvent
	for rows.Next() {
		e := &AuditEvent{}
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Actor, &e.Kind, &e.Remote, &e.Detail); err != nil {
			return nil, s.err("audit events", err)
		}
		out = append(out, e)
	}
	return out, s.err("audit events", rows.Err())
}
