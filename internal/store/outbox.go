package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The transactional outbox (migration 0017). Every event Wharf publishes
// is a row written in the same transaction as the change that caused it:
// the store writes the message and exception events itself (InsertMessage,
// SetMessageStatus, SetSentGroupAck, RaiseException, SetExceptionStatus),
// the sync engine writes its milestones with AppendOutbox. Package events
// reads the rows back in commit order and publishes them to each sink.
//
// Order. seq numbers rows as they are written; on PostgreSQL a row with a
// smaller seq can commit after a larger one, so a cursor over seq could
// pass over it. AssignOutbox therefore gives committed rows a position
// (pos), one assigner at a time under the lock of outbox_head, in seq
// order: positions only ever become visible in increasing order, and a
// sink's cursor over pos misses nothing. Two events about one object are
// written under that object's row lock (the message, the exception, the
// sync object), so their seq order, and then their pos order, is the order
// of the changes.

// OutboxEvent is one event of the outbox.
type OutboxEvent struct {
	Seq int64 `json:"seq"` // order of writing
	// Pos is the order of commit, 0 until AssignOutbox gave it one.
	Pos int64 `json:"pos"`
	// ID is the event's stable identity (a UUIDv7, the CloudEvents id):
	// consumers deduplicate by it.
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Type string    `json:"type"` // shipment.delivered, message.dead_letter, exception.opened, ...
	// ObjectKind and ObjectKey name the object the event is about (order
	// PO-1, message 0190..., exception 0190...); events about one object
	// are published in order.
	ObjectKind    string `json:"object_kind"`
	ObjectKey     string `json:"object_key"`
	Subject       string `json:"subject"` // the business key
	PartnerID     string `json:"partner_id"`
	MessageID     string `json:"message_id"`
	CorrelationID string `json:"correlation_id"`
	// Data is the event's JSON payload: the canonical document and the
	// object's state, the message's index entry, the exception.
	Data json.RawMessage `json:"data"`
}

// OutboxSink is a sink's cursor and counters.
type OutboxSink struct {
	Name string `json:"name"`
	// Pos: every event up to this position was acknowledged by the sink's
	// broker (or did not match the sink's filter).
	Pos         int64     `json:"pos"`
	Owner       string    `json:"owner"` // the instance holding the lease, "" for none
	LeaseUntil  time.Time `json:"lease_until"`
	Published   int64     `json:"published"`
	Failures    int64     `json:"failures"`
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ClaimOutboxSinkParams asks for a sink's lease, for OutboxQueries.ClaimOutboxSink.
type ClaimOutboxSinkParams struct {
	Sink  string
	Owner string    // the instance asking
	Now   time.Time // another owner's lease that ends before Now has lapsed
	Until time.Time // the lease's new end
}

// AdvanceOutboxSinkParams records what a sink's broker acknowledged, for
// OutboxQueries.AdvanceOutboxSink.
type AdvanceOutboxSinkParams struct {
	Sink      string
	Owner     string
	Pos       int64 // the cursor's new position (it never moves back)
	Published int64 // how many events were published since the last call
}

// OutboxQueries are the outbox's operations, part of [Queries].
type OutboxQueries interface {
	// AppendOutbox writes e (ID, At filled when empty; Seq stays 0, the
	// events read back carry it) in the caller's transaction: call it
	// inside the WithTx that makes the change.
	AppendOutbox(ctx context.Context, e *OutboxEvent) error
	// AssignOutbox gives up to limit committed events without a position
	// their positions, in order of writing, and returns how many it gave.
	// Safe from any number of processes: assigners take turns.
	AssignOutbox(ctx context.Context, limit int) (int, error)
	// OutboxAfter returns up to limit events with a position after pos, in
	// position order.
	OutboxAfter(ctx context.Context, pos int64, limit int) ([]*OutboxEvent, error)
	// OutboxSince returns up to limit positioned events written at or
	// after since with a position after pos, in position order (replay).
	OutboxSince(ctx context.Context, since time.Time, pos int64, limit int) ([]*OutboxEvent, error)
	// OutboxHead returns the last position given.
	OutboxHead(ctx context.Context) (int64, error)
	// OutboxPending returns the oldest event not past pos (unpositioned
	// events included) and how many there are: a sink's lag.
	OutboxPending(ctx context.Context, pos int64) (oldest time.Time, n int64, err error)
	// PruneOutbox deletes up to limit events written before before whose
	// position is at most pos (every sink has them), oldest first; with a
	// negative pos (no sink is configured), every such event, positioned
	// or not.
	PruneOutbox(ctx context.Context, before time.Time, pos int64, limit int) (int, error)

	// ClaimOutboxSink takes or renews a sink's lease and returns the sink.
	// A sink seen for the first time starts at the current head: it
	// publishes the events written from then on ('wharf events replay'
	// sends older ones). ErrConflict while another owner's lease runs.
	ClaimOutboxSink(ctx context.Context, p *ClaimOutboxSinkParams) (*OutboxSink, error)
	// AdvanceOutboxSink moves the sink's cursor forward; ErrConflict when
	// p.Owner no longer holds the lease (another instance took over).
	AdvanceOutboxSink(ctx context.Context, p *AdvanceOutboxSinkParams) error
	// FailOutboxSink counts a failed attempt and keeps its error.
	FailOutboxSink(ctx context.Context, sink, owner, msg string, at time.Time) error
	// ReleaseOutboxSink gives the lease up (an instance that stops).
	ReleaseOutboxSink(ctx context.Context, sink, owner string) error
	// OutboxSinks lists every sink seen, by name.
	OutboxSinks(ctx context.Context) ([]*OutboxSink, error)
}

// Evidence is archived but never processed nor delivered (AS2 requests
// and MDNs, see package lifecycle): its messages make no events.
var evidenceTransports = map[string]bool{"as2-raw": true, "as2-mdn": true, "as2-mdn-in": true}

// outboxWriteCols are the columns of an outbox event as written (outboxArgs).
const outboxWriteCols = `id, at, type, object_kind, object_key, subject, partner_id, message_id, correlation_id, data`

const insertOutboxHead = `INSERT INTO outbox_events (` + outboxWriteCols + `) VALUES `

func (s *queries) AppendOutbox(ctx context.Context, e *OutboxEvent) error {
	if err := s.fillOutbox(e); err != nil {
		return err
	}
	return s.insertLater(ctx, "append outbox event "+e.Type, insertOutboxHead, "", outboxArgs(e))
}

// fillOutbox checks e and gives it its ID, time and data when it has none.
func (s *queries) fillOutbox(e *OutboxEvent) error {
	if e.Type == "" {
		return fmt.Errorf("store: append outbox event: %w: type is required", ErrInvalid)
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	}
	if !json.Valid(e.Data) {
		return fmt.Errorf("store: append outbox event %s: %w: data is not JSON", e.Type, ErrInvalid)
	}
	return nil
}

// outboxArgs are the values of outboxWriteCols for e.
func outboxArgs(e *OutboxEvent) []any {
	return []any{e.ID, e.At, e.Type, e.ObjectKind, e.ObjectKey, e.Subject, e.PartnerID, e.MessageID, e.CorrelationID, string(e.Data)}
}

// messageEvent writes a message's event (type "message."+what) with its
// index entry and extra fields as data.
func (s *queries) messageEvent(ctx context.Context, m *Message, what string, extra map[string]any) error {
	e, err := newMessageEvent(m, what, extra)
	if e == nil || err != nil {
		return err
	}
	return s.AppendOutbox(ctx, e)
}

// newMessageEvent is a message's event, nil for evidence (which makes none).
func newMessageEvent(m *Message, what string, extra map[string]any) (*OutboxEvent, error) {
	if evidenceTransports[m.Transport] {
		return nil, nil
	}
	data := map[string]any{"message": m}
	for k, v := range extra {
		data[k] = v
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("store: message %s event: %w", m.ID, err)
	}
	return &OutboxEvent{Type: "message." + what, ObjectKind: "message", ObjectKey: m.ID, Subject: m.ID,
		PartnerID: m.PartnerID, MessageID: m.ID, CorrelationID: m.CorrelationID, Data: b}, nil
}

// exceptionEvent writes an exception's event (type "exception."+what).
func (s *queries) exceptionEvent(ctx context.Context, e *Exception, what, actor, comment string) error {
	b, err := json.Marshal(map[string]any{"exception": e, "actor": actor, "comment": comment})
	if err != nil {
		return fmt.Errorf("store: exception %s event: %w", e.ID, err)
	}
	return s.AppendOutbox(ctx, &OutboxEvent{Type: "exception." + what, ObjectKind: "exception", ObjectKey: e.ID,
		Subject: cmp.Or(e.ObjectKey, e.ID), PartnerID: e.PartnerID, MessageID: e.MessageID, Data: b})
}

func (s *queries) AssignOutbox(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	// Nothing to give a position: no write (on SQLite an idle publisher
	// would otherwise commit, and sync, at every poll).
	var waiting bool
	if err := s.q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox_events WHERE pos IS NULL)`).Scan(&waiting); err != nil {
		return 0, s.err("assign outbox positions", err)
	}
	if !waiting {
		return 0, nil
	}
	var n int64
	// Alone: every assigner waits for the head row's lock (pgGroup).
	err := s.atomic(Alone(ctx), func(q *queries) error {
		var head int64
		// The UPDATE takes the head row's lock: assigners take turns, and
		// each sees every row the one before it numbered.
		if err := q.q.queryRow(ctx, `UPDATE outbox_head SET pos = pos WHERE id = 1 RETURNING pos`).Scan(&head); err != nil {
			return q.err("assign outbox positions", err)
		}
		var err error
		n, err = q.q.exec(ctx, `UPDATE outbox_events SET pos = $1 + r.rn FROM
			(SELECT seq, row_number() OVER (ORDER BY seq) AS rn FROM outbox_events WHERE pos IS NULL ORDER BY seq LIMIT `+fmt.Sprint(limit)+`) AS r
			WHERE outbox_events.seq = r.seq`, head)
		if err != nil {
			return q.err("assign outbox positions", err)
		}
		if n == 0 {
			return nil
		}
		_, err = q.q.exec(ctx, `UPDATE outbox_head SET pos = $1 WHERE id = 1`, head+n)
		return q.err("assign outbox positions", err)
	})
	return int(n), err
}

const outboxCols = `seq, COALESCE(pos, 0), id, at, type, object_kind, object_key, subject, partner_id, message_id, correlation_id, data`

func (s *queries) outboxEvents(ctx context.Context, op, where string, args ...any) ([]*OutboxEvent, error) {
	rows, err := s.q.query(ctx, `SELECT `+outboxCols+` FROM outbox_events WHERE `+where, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []*OutboxEvent
	for rows.Next() {
		e := &OutboxEvent{}
		var data string
		if err := rows.Scan(&e.Seq, &e.Pos, &e.ID, timeCol{&e.At}, &e.Type, &e.ObjectKind, &e.ObjectKey, &e.Subject,
			&e.PartnerID, &e.MessageID, &e.CorrelationID, &data); err != nil {
			return nil, s.err(op, err)
		}
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	return out, s.err(op, rows.Err())
}

func outboxLimit(limit int) int {
	if limit <= 0 || limit > 10000 {
		return 1000
	}
	return limit
}

func (s *queries) OutboxAfter(ctx context.Context, pos int64, limit int) ([]*OutboxEvent, error) {
	return s.outboxEvents(ctx, "outbox events", fmt.Sprintf(`pos > $1 ORDER BY pos LIMIT %d`, outboxLimit(limit)), pos)
}

func (s *queries) OutboxSince(ctx context.Context, since time.Time, pos int64, limit int) ([]*OutboxEvent, error) {
	return s.outboxEvents(ctx, "outbox events since", fmt.Sprintf(`pos > $1 AND at >= $2 ORDER BY pos LIMIT %d`, outboxLimit(limit)), pos, since.UTC())
}

func (s *queries) OutboxHead(ctx context.Context) (int64, error) {
	var head int64
	err := s.q.queryRow(ctx, `SELECT pos FROM outbox_head WHERE id = 1`).Scan(&head)
	return head, s.err("outbox head", err)
}

func (s *queries) OutboxPending(ctx context.Context, pos int64) (time.Time, int64, error) {
	var oldest time.Time
	var n int64
	err := s.q.queryRow(ctx, `SELECT MIN(at), COUNT(*) FROM outbox_events WHERE pos > $1 OR pos IS NULL`, pos).Scan(timeCol{&oldest}, &n)
	return oldest, n, s.err("outbox pending", err)
}

func (s *queries) PruneOutbox(ctx context.Context, before time.Time, pos int64, limit int) (int, error) {
	cond := `pos IS NOT NULL AND pos <= $2`
	if pos < 0 {
		cond = `$2 < 0` // no sink: nothing will publish them
	}
	n, err := s.q.exec(ctx, `DELETE FROM outbox_events WHERE seq IN (SELECT seq FROM outbox_events
		WHERE at < $1 AND `+cond+` ORDER BY at LIMIT `+fmt.Sprint(outboxLimit(limit))+`)`, before.UTC(), pos)
	return int(n), s.err("prune outbox", err)
}

const outboxSinkCols = `name, pos, owner, lease_until, published, failures, last_error, last_error_at, updated_at`

func scanOutboxSink(r rowScanner) (*OutboxSink, error) {
	k := &OutboxSink{}
	err := r.Scan(&k.Name, &k.Pos, &k.Owner, timeCol{&k.LeaseUntil}, &k.Published, &k.Failures, &k.LastError, timeCol{&k.LastErrorAt}, timeCol{&k.UpdatedAt})
	return k, err
}

func (s *queries) ClaimOutboxSink(ctx context.Context, p *ClaimOutboxSinkParams) (*OutboxSink, error) {
	if p.Sink == "" || p.Owner == "" {
		return nil, fmt.Errorf("store: claim outbox sink: %w: sink and owner are required", ErrInvalid)
	}
	var out *OutboxSink
	// Alone: the sink's row is every publisher's (pgGroup).
	err := s.atomic(Alone(ctx), func(q *queries) error {
		now := s.now()
		if _, err := q.q.exec(ctx, `INSERT INTO outbox_sinks (name, pos, updated_at) SELECT $1, pos, $2 FROM outbox_head WHERE id = 1
			ON CONFLICT (name) DO NOTHING`, p.Sink, now); err != nil {
			return q.err("claim outbox sink "+p.Sink, err)
		}
		k, err := scanOutboxSink(q.q.queryRow(ctx, `UPDATE outbox_sinks SET owner = $2, lease_until = $3
			WHERE name = $1 AND (owner = $2 OR owner = '' OR lease_until IS NULL OR lease_until < $4) RETURNING `+outboxSinkCols,
			p.Sink, p.Owner, p.Until.UTC().Truncate(time.Microsecond), p.Now.UTC()))
		if errors.Is(q.translate(err), ErrNotFound) {
			cur, _ := scanOutboxSink(q.q.queryRow(ctx, `SELECT `+outboxSinkCols+` FROM outbox_sinks WHERE name = $1`, p.Sink))
			return fmt.Errorf("store: outbox sink %s: %w: instance %s publishes it until %s", p.Sink, ErrConflict, cur.Owner, cur.LeaseUntil.Format(time.RFC3339))
		}
		if err != nil {
			return q.err("claim outbox sink "+p.Sink, err)
		}
		out = k
		return nil
	})
	return out, err
}

func (s *queries) AdvanceOutboxSink(ctx context.Context, p *AdvanceOutboxSinkParams) error {
	n, err := s.q.exec(ctx, `UPDATE outbox_sinks SET pos = $3, published = published + $4, updated_at = $5
		WHERE name = $1 AND owner = $2 AND pos <= $3`, p.Sink, p.Owner, p.Pos, p.Published, s.now())
	if err != nil {
		return s.err("advance outbox sink "+p.Sink, err)
	}
	if n == 0 {
		return fmt.Errorf("store: advance outbox sink %s: %w: instance %s no longer holds its lease", p.Sink, ErrConflict, p.Owner)
	}
	return nil
}

func (s *queries) FailOutboxSink(ctx context.Context, sink, owner, msg string, at time.Time) error {
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	_, err := s.q.exec(ctx, `UPDATE outbox_sinks SET failures = failures + 1, last_error = $3, last_error_at = $4, updated_at = $4
		WHERE name = $1 AND owner = $2`, sink, owner, strings.ToValidUTF8(msg, "?"), at.UTC().Truncate(time.Microsecond))
	return s.err("fail outbox sink "+sink, err)
}

func (s *queries) ReleaseOutboxSink(ctx context.Context, sink, owner string) error {
	_, err := s.q.exec(ctx, `UPDATE outbox_sinks SET owner = '', lease_until = NULL WHERE name = $1 AND owner = $2`, sink, owner)
	return s.err("release outbox sink "+sink, err)
}

func (s *queries) OutboxSinks(ctx context.Context) ([]*OutboxSink, error) {
	rows, err := s.q.query(ctx, `SELECT `+outboxSinkCols+` FROM outbox_sinks ORDER BY name`)
	if err != nil {
		return nil, s.err("outbox sinks", err)
	}
	defer rows.Close()
	var out []*OutboxSink
	for rows.Next() {
		k, err := scanOutboxSink(rows)
		if err != nil {
			return nil, s.err("outbox sinks", err)
		}
		out = append(out, k)
	}
	return out, s.err("outbox sinks", rows.Err())
}
