package store

import (
	"context"
	"fmt"
	"time"
)

// SyncObjectFilter selects business objects for the API's resource lists
// (GET /api/v1/orders, ...). Zero fields do not filter.
type SyncObjectFilter struct {
	Kind  string // required: order, shipment, invoice, inventory
	Key   string // one object (to check a partner's access to it)
	State string
	// Partner keeps the objects whose history names the partner as the
	// system an event came from or went to; a refused update (event
	// "refused") does not make an object the sender's.
	Partner      string
	UpdatedSince time.Time
	// Held: "true" the objects whose billing is held, "false" the others.
	Held string
	// Overdue: "true" the objects with a breached timer or a pending one
	// due before Now, "false" the others.
	Overdue string
	Now     time.Time
	// Paging, newest change first: the UpdatedAt and Key of the last one seen.
	BeforeUpdated time.Time
	BeforeKey     string
	Limit         int // default and at most 1000
}

// ObjectQueries are the business-object lists the API serves, part of [Queries].
type ObjectQueries interface {
	// FindSyncObjects lists the objects f selects, newest change first
	// (updated_at, then key, descending).
	FindSyncObjects(ctx context.Context, f *SyncObjectFilter) ([]*SyncObject, error)
}

// heldData matches the data of an object whose billing is held: the sync
// engine writes it as compact JSON (sync.Data, "billing":"held").
const heldData = `%"billing":"held"%`

// FindSyncObjects implements ObjectQueries.
func (s *queries) FindSyncObjects(ctx context.Context, f *SyncObjectFilter) ([]*SyncObject, error) {
	if f.Kind == "" {
		return nil, fmt.Errorf("store: find sync objects: %w: kind is required", ErrInvalid)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var w filter
	w.add("o.kind = ?", f.Kind)
	if f.Key != "" {
		w.add("o.key = ?", f.Key)
	}
	if f.State != "" {
		w.add("o.state = ?", f.State)
	}
	if f.Partner != "" {
		w.add(`EXISTS (SELECT 1 FROM sync_events e WHERE e.kind = o.kind AND e.key = o.key AND e.event <> 'refused' AND e.system = ?)`, f.Partner)
	}
	if !f.UpdatedSince.IsZero() {
		w.add("o.updated_at >= ?", f.UpdatedSince.UTC())
	}
	switch f.Held {
	case "true":
		w.add("o.data LIKE ?", heldData)
	case "false":
		w.add("o.data NOT LIKE ?", heldData)
	}
	overdue := `EXISTS (SELECT 1 FROM sync_timers t WHERE t.kind = o.kind AND t.key = o.key AND (t.status = 'breached' OR (t.status = 'pending' AND t.due_at < ?)))`
	switch f.Overdue {
	case "true":
		w.add(overdue, f.Now.UTC())
	case "false":
		w.add("NOT "+overdue, f.Now.UTC())
	}
	if !f.BeforeUpdated.IsZero() {
		w.args = append(w.args, f.BeforeUpdated.UTC(), f.BeforeKey)
		n := len(w.args)
		w.conds = append(w.conds, fmt.Sprintf("(o.updated_at < $%d OR (o.updated_at = $%d AND o.key < $%d))", n-1, n-1, n))
	}
	rows, err := s.q.query(ctx, `SELECT o.kind, o.key, o.state, o.data, o.created_at, o.updated_at FROM sync_objects o`+w.where()+
		fmt.Sprintf(` ORDER BY o.updated_at DESC, o.key DESC LIMIT %d`, limit), w.args...)
	if err != nil {
		return nil, s.err("find sync objects", err)
	}
	defer rows.Close()
	var out []*SyncObject
	for rows.Next() {
		o, err := scanSyncObject(rows)
		if err != nil {
			return nil, s.err("find sync objects", err)
		}
		out = append(out, o)
	}
	return out, s.err("find sync objects", rows.Err())
}
