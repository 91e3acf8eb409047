package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Exception is one entry of the exceptions queue: something a person must
// look at, why, about which object, and who owns it. Exceptions come from
// every stage (mapping set a document aside, an acknowledgment is overdue,
// a system updated an object it does not own, a freight charge does not
// match, an SLA was breached, a delivery went to the dead letters). Its
// status changes; its history (ExceptionEvents) is append-only.
type Exception struct {
	ID         string `json:"id"`
	Reason     string `json:"reason"`      // short code: mapping, ack_overdue, ownership, dispute, sla.NAME, delivery, verify, certificate, ...
	Detail     string `json:"detail"`      // what happened, where, which partner, what to do
	Owner      string `json:"owner"`       // "it" or "operations" (default)
	ObjectKind string `json:"object_kind"` // order, shipment, invoice, message, partner, certificate, ...
	ObjectKey  string `json:"object_key"`  // the business key or id of the object
	PartnerID  string `json:"partner"`
	MessageID  string `json:"message_id"` // the message it is about, if any
	// DedupeKey: while an exception with this key is open, raising it again
	// adds a "repeated" event instead of a second entry.
	DedupeKey string    `json:"dedupe_key"`
	Status    string    `json:"status"` // open, resolved, dismissed
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Exception statuses.
const (
	ExceptionOpen      = "open"
	ExceptionResolved  = "resolved"
	ExceptionDismissed = "dismissed"
)

// Exception owners.
const (
	OwnerIT         = "it"
	OwnerOperations = "operations"
)

// ExceptionQueries are the exceptions queue's operations.
type ExceptionQueries interface {
	RaiseException(ctx context.Context, e *Exception) (created bool, err error)
	GetException(ctx context.Context, id string) (*Exception, error)
	ListExceptions(ctx context.Context, f ExceptionFilter) ([]*Exception, error)
	SetExceptionStatus(ctx context.Context, p *SetExceptionStatusParams) error
	AppendExceptionEvent(ctx context.Context, e *ExceptionEvent) error
	ExceptionEvents(ctx context.Context, id string) ([]*ExceptionEvent, error)
	CountOpenExceptions(ctx context.Context) (map[[2]string]int, error)
}

// ExceptionEvent is one entry of an exception's history.
type ExceptionEvent struct {
	ID          int64     `json:"id"`
	ExceptionID string    `json:"exception_id"`
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`  // raised, repeated, resolved, dismissed, reopened, retried, replayed, commented
	Actor       string    `json:"actor"` // "wharf" for the system, else a user or token name
	Comment     string    `json:"comment"`
}

// ExceptionFilter selects exceptions. Zero fields do not filter. Results
// are newest first; Before/BeforeID page like MessageFilter.
type ExceptionFilter struct {
	Statuses  []string
	Owner     string
	Reason    string // exact, or a prefix ending in '.' ("sla.")
	PartnerID string
	ObjectKey string
	MessageID string
	Before    time.Time
	BeforeID  string
	Limit     int // default 100, at most 1000
}

const exceptionCols = `id, reason, detail, owner, object_kind, object_key, partner_id, message_id, dedupe_key, status, created_at, updated_at`

func scanException(r rowScanner) (*Exception, error) {
	e := &Exception{}
	err := r.Scan(&e.ID, &e.Reason, &e.Detail, &e.Owner, &e.ObjectKind, &e.ObjectKey, &e.PartnerID, &e.MessageID,
		&e.DedupeKey, &e.Status, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt})
	return e, err
}

// RaiseException adds e to the queue (status open) with a "raised" event.
// When e.DedupeKey matches an open exception, that one gets a "repeated"
// event instead, e is filled from it and created is false.
func (s *queries) RaiseException(ctx context.Context, e *Exception) (created bool, err error) {
	if e.Reason == "" {
		return false, fmt.Errorf("store: raise exception: %w: reason is required", ErrInvalid)
	}
	if e.Owner == "" {
		e.Owner = OwnerOperations
	}
	if e.Owner != OwnerIT && e.Owner != OwnerOperations {
		return false, fmt.Errorf("store: raise exception: %w: owner %q (use it or operations)", ErrInvalid, e.Owner)
	}
	err = s.atomic(ctx, func(q *queries) error {
		if e.DedupeKey != "" {
			old, err := scanException(q.q.queryRow(ctx, `SELECT `+exceptionCols+` FROM exceptions WHERE dedupe_key = $1 AND status = 'open'`, e.DedupeKey))
			if err == nil {
				at := s.now()
				if _, err := q.q.exec(ctx, `UPDATE exceptions SET updated_at = $1 WHERE id = $2`, at, old.ID); err != nil {
					return err
				}
				old.UpdatedAt = at
				*e = *old
				return q.AppendExceptionEvent(ctx, &ExceptionEvent{ExceptionID: old.ID, At: at, Kind: "repeated", Actor: "wharf"})
			}
			if !errors.Is(q.translate(err), ErrNotFound) {
				return err
			}
		}
		if e.ID == "" {
			e.ID = NewID()
		}
		e.Status = ExceptionOpen
		e.CreatedAt = s.now()
		e.UpdatedAt = e.CreatedAt
		if _, err := q.q.exec(ctx, `INSERT INTO exceptions (`+exceptionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			e.ID, e.Reason, e.Detail, e.Owner, e.ObjectKind, e.ObjectKey, e.PartnerID, e.MessageID, e.DedupeKey, e.Status, e.CreatedAt, e.UpdatedAt); err != nil {
			return err
		}
		created = true
		if err := q.exceptionEvent(ctx, e, "opened", "wharf", ""); err != nil {
			return err
		}
		return q.AppendExceptionEvent(ctx, &ExceptionEvent{ExceptionID: e.ID, At: e.CreatedAt, Kind: "raised", Actor: "wharf", Comment: e.Detail})
	})
	return created, s.err("raise exception", err)
}

// GetException returns one exception; ErrNotFound when there is none.
func (s *queries) GetException(ctx context.Context, id string) (*Exception, error) {
	e, err := scanException(s.q.queryRow(ctx, `SELECT `+exceptionCols+` FROM exceptions WHERE id = $1`, id))
	if err != nil {
		return nil, s.err("get exception "+id, err)
	}
	return e, nil
}

// ListExceptions returns exceptions matching f, newest first.
func (s *queries) ListExceptions(ctx context.Context, f ExceptionFilter) ([]*Exception, error) {
	var w filter
	w.in("status", f.Statuses)
	if f.Owner != "" {
		w.add("owner = ?", f.Owner)
	}
	if strings.HasSuffix(f.Reason, ".") {
		w.add("substr(reason, 1, "+fmt.Sprint(len(f.Reason))+") = ?", f.Reason)
	} else if f.Reason != "" {
		w.add("reason = ?", f.Reason)
	}
	if f.PartnerID != "" {
		w.add("partner_id = ?", f.PartnerID)
	}
	if f.ObjectKey != "" {
		w.add("object_key = ?", f.ObjectKey)
	}
	if f.MessageID != "" {
		w.add("message_id = ?", f.MessageID)
	}
	w.before("created_at", f.Before, f.BeforeID)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + exceptionCols + ` FROM exceptions` + w.where() + fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, min(limit, 1000))
	rows, err := s.q.query(ctx, q, w.args...)
	if err != nil {
		return nil, s.err("list exceptions", err)
	}
	defer rows.Close()
	var out []*Exception
	for rows.Next() {
		e, err := scanException(rows)
		if err != nil {
			return nil, s.err("list exceptions", err)
		}
		out = append(out, e)
	}
	return out, s.err("list exceptions", rows.Err())
}

// SetExceptionStatusParams is an operator's (or Wharf's) change of an
// exception's status, for ExceptionQueries.SetExceptionStatus.
type SetExceptionStatusParams struct {
	// ID is the exception's ID.
	ID string
	// Status is the new status: ExceptionOpen, ExceptionResolved or
	// ExceptionDismissed.
	Status string
	// Actor is who changes it: "wharf" for the system, else a user or token
	// name. It goes into the exception's history.
	Actor string
	// Comment says why, for the exception's history (may be empty).
	Comment string
}

// SetExceptionStatus moves an exception to p.Status (open, resolved,
// dismissed) and records who did it and why. Reopening a closed exception
// is the event "reopened"; ErrConflict when another open exception holds
// its dedupe key; ErrInvalid for a status change to the same status.
func (s *queries) SetExceptionStatus(ctx context.Context, p *SetExceptionStatusParams) error {
	id, status, actor, comment := p.ID, p.Status, p.Actor, p.Comment
	switch status {
	case ExceptionOpen, ExceptionResolved, ExceptionDismissed:
	default:
		return fmt.Errorf("store: exception %s: %w: status %q (use open, resolved or dismissed)", id, ErrInvalid, status)
	}
	err := s.atomic(ctx, func(q *queries) error {
		e, err := q.GetException(ctx, id)
		if err != nil {
			return err
		}
		if e.Status == status {
			return Invalid("exception %s is already %s", id, status)
		}
		at := s.now()
		if _, err := q.q.exec(ctx, `UPDATE exceptions SET status = $1, updated_at = $2 WHERE id = $3`, status, at, id); err != nil {
			return q.translate(err)
		}
		kind := status
		if status == ExceptionOpen {
			kind = "reopened"
		}
		e.Status, e.UpdatedAt = status, at
		if err := q.exceptionEvent(ctx, e, kind, actor, comment); err != nil {
			return err
		}
		return q.AppendExceptionEvent(ctx, &ExceptionEvent{ExceptionID: id, At: at, Kind: kind, Actor: actor, Comment: comment})
	})
	return s.err("set exception status", err)
}

// AppendExceptionEvent adds to an exception's history (retried, replayed,
// commented, ...); events are never updated.
func (s *queries) AppendExceptionEvent(ctx context.Context, e *ExceptionEvent) error {
	if e.Kind == "" || e.ExceptionID == "" {
		return fmt.Errorf("store: append exception event: %w: exception id and kind are required", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	err := s.q.queryRow(ctx, `INSERT INTO exception_events (exception_id, at, kind, actor, comment) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		e.ExceptionID, e.At, e.Kind, e.Actor, e.Comment).Scan(&e.ID)
	return s.err("append exception event", err)
}

// ExceptionEvents returns an exception's history, oldest first.
func (s *queries) ExceptionEvents(ctx context.Context, id string) ([]*ExceptionEvent, error) {
	rows, err := s.q.query(ctx, `SELECT id, exception_id, at, kind, actor, comment FROM exception_events WHERE exception_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, s.err("exception events", err)
	}
	defer rows.Close()
	var out []*ExceptionEvent
	for rows.Next() {
		e := &ExceptionEvent{}
		if err := rows.Scan(&e.ID, &e.ExceptionID, timeCol{&e.At}, &e.Kind, &e.Actor, &e.Comment); err != nil {
			return nil, s.err("exception events", err)
		}
		out = append(out, e)
	}
	return out, s.err("exception events", rows.Err())
}

// CountOpenExceptions counts open exceptions by reason and owner, for metrics.
func (s *queries) CountOpenExceptions(ctx context.Context) (map[[2]string]int, error) {
	rows, err := s.q.query(ctx, `SELECT reason, owner, COUNT(*) FROM exceptions WHERE status = 'open' GROUP BY reason, owner`)
	if err != nil {
		return nil, s.err("count exceptions", err)
	}
	defer rows.Close()
	out := map[[2]string]int{}
	for rows.Next() {
		var r, o string
		var n int
		if err := rows.Scan(&r, &o, &n); err != nil {
			return nil, s.err("count exceptions", err)
		}
		out[[2]string{r, o}] = n
	}
	return out, s.err("count exceptions", rows.Err())
}
