package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SyncObject is a business object the sync follows across systems (an
// order, a shipment, an invoice): its current state and data, derived from
// its append-only SyncEvents.
type SyncObject struct {
	Kind      string    `json:"kind"` // order, shipment, invoice
	Key       string    `json:"key"`  // its primary business key (order number, shipment ID, invoice number)
	State     string    `json:"state"`
	Data      string    `json:"data"` // JSON: what the sync knows (parties, charges, holds, systems)
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SyncEvent is one entry of a business object's history.
type SyncEvent struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`        // the object
	Event     string    `json:"event"`      // created, tendered, tender_accepted, shipped, delivered, pod, invoiced, held, released, ...
	System    string    `json:"system"`     // the system or partner it came from or went to
	MessageID string    `json:"message_id"` // the message that carried it, if any
	Detail    string    `json:"detail"`
}

// SyncRef correlates a reference value (PO, BOL, PRO, shipment ID, invoice
// number, ...) with a business object.
type SyncRef struct {
	Value string `json:"value"`
	Type  string `json:"type"` // po, bol, pro, shipment_id, invoice_number, order_number, ...
	Kind  string `json:"kind"`
	Key   string `json:"key"`
}

// SyncTimer is an SLA: something expected about an object by DueAt.
type SyncTimer struct {
	Name      string    `json:"name"` // e.g. invoice_after_delivery
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`
	DueAt     time.Time `json:"due_at"`
	Owner     string    `json:"owner"`  // it or operations
	Detail    string    `json:"detail"` // what is expected, for the breach's exception
	Status    string    `json:"status"` // pending, met, breached, cancelled
	CreatedAt time.Time `json:"created_at"`
	SettledAt time.Time `json:"settled_at"` // zero while pending
}

// SyncQueries are the sync stage's operations.
type SyncQueries interface {
	GetSyncObject(ctx context.Context, kind, key string) (*SyncObject, error)
	// GetSyncObjectForUpdate reads the object to change it in this
	// transaction: on PostgreSQL the row stays locked until the end, so two
	// instances changing one shipment do not lose each other's change.
	GetSyncObjectForUpdate(ctx context.Context, kind, key string) (*SyncObject, error)
	// EnsureSyncObject creates the object with an empty state unless it
	// exists, and returns it to change it in this transaction, locked as
	// GetSyncObjectForUpdate locks it: an object's first change takes turns
	// with another first change like any later one.
	EnsureSyncObject(ctx context.Context, kind, key string) (*SyncObject, error)
	// PutSyncObject creates or updates the object's state and data.
	PutSyncObject(ctx context.Context, o *SyncObject) error
	ListSyncObjects(ctx context.Context, kind, state string, limit int) ([]*SyncObject, error)
	CountSyncObjects(ctx context.Context) (map[[2]string]int, error)
	// StaleSyncObjects lists objects of a kind in one of the states, not
	// changed since before, oldest first.
	StaleSyncObjects(ctx context.Context, kind string, states []string, before time.Time, limit int) ([]*SyncObject, error)
	// AppendSyncEvent adds to the object's history (e.ID stays 0, as for
	// AppendEvent).
	AppendSyncEvent(ctx context.Context, e *SyncEvent) error
	// SyncEvents returns the object's history, oldest first.
	SyncEvents(ctx context.Context, kind, key string) ([]*SyncEvent, error)
	SyncEventsByMessage(ctx context.Context, messageID string) ([]*SyncEvent, error)
	AddSyncRefs(ctx context.Context, refs []SyncRef) error
	// SyncRefsByValue lists the objects a reference value points to.
	SyncRefsByValue(ctx context.Context, value string) ([]SyncRef, error)
	SyncRefs(ctx context.Context, kind, key string) ([]SyncRef, error)
	// SyncObjectOrRefs tells in one query whether an object of kind has
	// key value, and lists the references whose value it is (as
	// SyncRefsByValue).
	SyncObjectOrRefs(ctx context.Context, kind, value string) (exists bool, refs []SyncRef, err error)
	// AddObjectKeys gives the message the business keys of the objects
	// (kind, key pairs): the values of their references by type (po, bol,
	// order_number, ...; not "other"), each once, the first limit of them
	// by type and value, references added in this transaction included.
	// One statement, whose answer nobody needs: in a transaction it waits
	// as the other writes of that kind do.
	AddObjectKeys(ctx context.Context, messageID string, objects [][2]string, limit int) error
	// StartSyncTimer starts a pending timer; one already there (whatever
	// its status) is left as it is, and started is false.
	StartSyncTimer(ctx context.Context, t *SyncTimer) (started bool, err error)
	// SettleSyncTimer moves a pending timer to p.Status; false when there
	// was no pending timer of that name.
	SettleSyncTimer(ctx context.Context, p *SettleSyncTimerParams) (bool, error)
	DueSyncTimers(ctx context.Context, now time.Time, limit int) ([]*SyncTimer, error)
	SyncTimers(ctx context.Context, kind, key string) ([]*SyncTimer, error)
	QueueBatchItem(ctx context.Context, b *BatchItem) (bool, error)
	ClaimBatch(ctx context.Context, route string, limit int) (claim string, items []*BatchItem, err error)
	SettleBatch(ctx context.Context, claim, messageID string) error
	// ReleaseBatch puts a claim's items back to waiting.
	ReleaseBatch(ctx context.Context, claim string) error
	// CountSyncEvents counts the objects of a kind whose history holds event.
	CountSyncEvents(ctx context.Context, kind, event string) (int, error)
	GetSyncApplied(ctx context.Context, messageID string, seq int) (*SyncApplied, error)
	// PutSyncApplied records what a document did, replacing an earlier
	// record of it; in a first run (FirstRun) the record must be new, and
	// one there already fails the transaction (ErrConflict).
	PutSyncApplied(ctx context.Context, a *SyncApplied) error
}

const syncObjectCols = `kind, key, state, data, created_at, updated_at`

func scanSyncObject(r rowScanner) (*SyncObject, error) {
	o := &SyncObject{}
	return o, r.Scan(&o.Kind, &o.Key, &o.State, &o.Data, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt})
}

func (s *queries) GetSyncObject(ctx context.Context, kind, key string) (*SyncObject, error) {
	o, err := scanSyncObject(s.q.queryRow(ctx, `SELECT `+syncObjectCols+` FROM sync_objects WHERE kind = $1 AND key = $2`, kind, key))
	if err != nil {
		return nil, s.err("get "+kind+" "+key, err)
	}
	return o, nil
}

func (s *queries) GetSyncObjectForUpdate(ctx context.Context, kind, key string) (*SyncObject, error) {
	o, err := scanSyncObject(s.q.queryRow(ctx, `SELECT `+syncObjectCols+` FROM sync_objects WHERE kind = $1 AND key = $2`+s.forUpdate, kind, key))
	if err != nil {
		return nil, s.err("get "+kind+" "+key, err)
	}
	return o, nil
}

func (s *queries) EnsureSyncObject(ctx context.Context, kind, key string) (*SyncObject, error) {
	// One statement: an existing row is "updated" to itself, which locks
	// it (on PostgreSQL until the transaction ends) and returns it as it is.
	o, err := scanSyncObject(s.q.queryRow(ctx, `INSERT INTO sync_objects (`+syncObjectCols+`) VALUES ($1, $2, '', '{}', $3, $3)
		ON CONFLICT (kind, key) DO UPDATE SET kind = excluded.kind RETURNING `+syncObjectCols, kind, key, s.now()))
	if err != nil {
		return nil, s.err("ensure "+kind+" "+key, err)
	}
	return o, nil
}

func (s *queries) PutSyncObject(ctx context.Context, o *SyncObject) error {
	if o.Kind == "" || o.Key == "" || o.State == "" {
		return fmt.Errorf("store: put sync object: %w: kind, key and state are required", ErrInvalid)
	}
	if o.Data == "" {
		o.Data = "{}"
	}
	o.UpdatedAt = s.now()
	if o.CreatedAt.IsZero() {
		o.CreatedAt = o.UpdatedAt
	}
	return s.execLater(ctx, "put "+o.Kind+" "+o.Key, `INSERT INTO sync_objects (`+syncObjectCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state, data = excluded.data, updated_at = excluded.updated_at`,
		o.Kind, o.Key, o.State, o.Data, o.CreatedAt.UTC(), o.UpdatedAt)
}

func (s *queries) ListSyncObjects(ctx context.Context, kind, state string, limit int) ([]*SyncObject, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	q := `SELECT ` + syncObjectCols + ` FROM sync_objects WHERE kind = $1`
	args := []any{kind}
	if state != "" {
		q += ` AND state = $2`
		args = append(args, state)
	}
	q += fmt.Sprintf(` ORDER BY updated_at DESC LIMIT %d`, limit)
	rows, err := s.q.query(ctx, q, args...)
	if err != nil {
		return nil, s.err("list sync objects", err)
	}
	defer rows.Close()
	var out []*SyncObject
	for rows.Next() {
		o, err := scanSyncObject(rows)
		if err != nil {
			return nil, s.err("list sync objects", err)
		}
		out = append(out, o)
	}
	return out, s.err("list sync objects", rows.Err())
}

func (s *queries) StaleSyncObjects(ctx context.Context, kind string, states []string, before time.Time, limit int) ([]*SyncObject, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	if len(states) == 0 {
		return nil, nil
	}
	var w filter
	w.add("kind = ?", kind)
	w.add("updated_at < ?", before.UTC())
	w.in("state", states)
	rows, err := s.q.query(ctx, `SELECT `+syncObjectCols+` FROM sync_objects`+w.where()+fmt.Sprintf(` ORDER BY updated_at LIMIT %d`, limit), w.args...)
	if err != nil {
		return nil, s.err("stale sync objects", err)
	}
	defer rows.Close()
	var out []*SyncObject
	for rows.Next() {
		o, err := scanSyncObject(rows)
		if err != nil {
			return nil, s.err("stale sync objects", err)
		}
		out = append(out, o)
	}
	return out, s.err("stale sync objects", rows.Err())
}

func (s *queries) CountSyncObjects(ctx context.Context) (map[[2]string]int, error) {
	rows, err := s.q.query(ctx, `SELECT kind, state, COUNT(*) FROM sync_objects GROUP BY kind, state`)
	if err != nil {
		return nil, s.err("count sync objects", err)
	}
	defer rows.Close()
	out := map[[2]string]int{}
	for rows.Next() {
		var k, st string
		var n int
		if err := rows.Scan(&k, &st, &n); err != nil {
			return nil, s.err("count sync objects", err)
		}
		out[[2]string{k, st}] = n
	}
	return out, s.err("count sync objects", rows.Err())
}

func (s *queries) AppendSyncEvent(ctx context.Context, e *SyncEvent) error {
	if e.Kind == "" || e.Key == "" || e.Event == "" {
		return fmt.Errorf("store: append sync event: %w: kind, key and event are required", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	return s.insertLater(ctx, "append sync event "+e.Event+" to "+e.Kind+" "+e.Key, `INSERT INTO sync_events (at, kind, key, event, system, message_id, detail) VALUES `, "",
		[]any{e.At, e.Kind, e.Key, e.Event, e.System, e.MessageID, e.Detail})
}

func (s *queries) syncEvents(ctx context.Context, where string, args ...any) ([]*SyncEvent, error) {
	rows, err := s.q.query(ctx, `SELECT id, at, kind, key, event, system, message_id, detail FROM sync_events WHERE `+where+` ORDER BY id LIMIT 10000`, args...)
	if err != nil {
		return nil, s.err("sync events", err)
	}
	defer rows.Close()
	var out []*SyncEvent
	for rows.Next() {
		e := &SyncEvent{}
		if err := rows.Scan(&e.ID, timeCol{&e.At}, &e.Kind, &e.Key, &e.Event, &e.System, &e.MessageID, &e.Detail); err != nil {
			return nil, s.err("sync events", err)
		}
		out = append(out, e)
	}
	return out, s.err("sync events", rows.Err())
}

func (s *queries) SyncEvents(ctx context.Context, kind, key string) ([]*SyncEvent, error) {
	return s.syncEvents(ctx, `kind = $1 AND key = $2`, kind, key)
}

func (s *queries) SyncEventsByMessage(ctx context.Context, messageID string) ([]*SyncEvent, error) {
	return s.syncEvents(ctx, `message_id = $1`, messageID)
}

func (s *queries) AddSyncRefs(ctx context.Context, refs []SyncRef) error {
	rows := make([][]any, 0, len(refs))
	for _, r := range refs {
		if r.Value != "" {
			rows = append(rows, []any{r.Value, r.Type, r.Kind, r.Key})
		}
	}
	return s.insertLater(ctx, "add sync refs", `INSERT INTO sync_refs (value, ref_type, kind, key) VALUES `, onConflictNothing, rows...)
}

func (s *queries) syncRefs(ctx context.Context, where string, args ...any) ([]SyncRef, error) {
	rows, err := s.q.query(ctx, `SELECT value, ref_type, kind, key FROM sync_refs WHERE `+where+` ORDER BY kind, key, ref_type, value LIMIT 1000`, args...)
	if err != nil {
		return nil, s.err("sync refs", err)
	}
	defer rows.Close()
	var out []SyncRef
	for rows.Next() {
		var r SyncRef
		if err := rows.Scan(&r.Value, &r.Type, &r.Kind, &r.Key); err != nil {
			return nil, s.err("sync refs", err)
		}
		out = append(out, r)
	}
	return out, s.err("sync refs", rows.Err())
}

func (s *queries) SyncRefsByValue(ctx context.Context, value string) ([]SyncRef, error) {
	return s.syncRefs(ctx, `value = $1`, value)
}

func (s *queries) SyncRefs(ctx context.Context, kind, key string) ([]SyncRef, error) {
	return s.syncRefs(ctx, `kind = $1 AND key = $2`, kind, key)
}

func (s *queries) SyncObjectOrRefs(ctx context.Context, kind, value string) (bool, []SyncRef, error) {
	rows, err := s.q.query(ctx, `SELECT 0, '', '', kind, key FROM sync_objects WHERE kind = $1 AND key = $2
		UNION ALL SELECT 1, value, ref_type, kind, key FROM sync_refs WHERE value = $2
		ORDER BY 1, 4, 5, 3, 2 LIMIT 1001`, kind, value)
	if err != nil {
		return false, nil, s.err("sync object or refs "+value, err)
	}
	defer rows.Close()
	exists := false
	var refs []SyncRef
	for rows.Next() {
		var ref int
		var r SyncRef
		if err := rows.Scan(&ref, &r.Value, &r.Type, &r.Kind, &r.Key); err != nil {
			return false, nil, s.err("sync object or refs "+value, err)
		}
		if ref == 0 {
			exists = true
		} else {
			refs = append(refs, r)
		}
	}
	return exists, refs, s.err("sync object or refs "+value, rows.Err())
}

func (s *queries) AddObjectKeys(ctx context.Context, messageID string, objects [][2]string, limit int) error {
	if len(objects) == 0 || limit <= 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO message_keys (message_id, kind, value) SELECT CAST($1 AS TEXT), ref_type, value FROM sync_refs WHERE (`)
	args := []any{messageID, limit}
	for i, o := range objects {
		if i > 0 {
			b.WriteString(" OR ")
		}
		args = append(args, o[0], o[1])
		fmt.Fprintf(&b, "kind = $%d AND key = $%d", len(args)-1, len(args))
	}
	b.WriteString(`) AND ref_type NOT IN ('', 'other') AND value <> '' GROUP BY ref_type, value ORDER BY ref_type, value LIMIT $2 ON CONFLICT DO NOTHING`)
	return s.execLater(ctx, "add the keys of what message "+messageID+" changed", b.String(), args...)
}

const syncTimerCols = `name, kind, key, due_at, owner, detail, status, created_at, settled_at`

func (s *queries) StartSyncTimer(ctx context.Context, t *SyncTimer) (bool, error) {
	if t.Name == "" || t.Kind == "" || t.Key == "" || t.DueAt.IsZero() {
		return false, fmt.Errorf("store: start timer: %w: name, object and due time are required", ErrInvalid)
	}
	if t.Owner == "" {
		t.Owner = OwnerOperations
	}
	t.Status = "pending"
	t.CreatedAt = s.now()
	n, err := s.q.exec(ctx, `INSERT INTO sync_timers (name, kind, key, due_at, owner, detail, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`, t.Name, t.Kind, t.Key, t.DueAt.UTC(), t.Owner, t.Detail, t.Status, t.CreatedAt)
	return n == 1, s.err("start timer "+t.Name, err)
}

// SettleSyncTimerParams names a pending timer and its outcome, for
// SyncQueries.SettleSyncTimer.
type SettleSyncTimerParams struct {
	// Name is the timer's name (the SLA), e.g. invoice_after_delivery.
	Name string
	// Kind is the object's kind: order, shipment, invoice.
	Kind string
	// Key is the object's primary business key.
	Key string
	// Status is the outcome: met, breached or cancelled.
	Status string
}

func (s *queries) SettleSyncTimer(ctx context.Context, p *SettleSyncTimerParams) (bool, error) {
	name, kind, key, status := p.Name, p.Kind, p.Key, p.Status
	switch status {
	case "met", "breached", "cancelled":
	default:
		return false, fmt.Errorf("store: settle timer %s: %w: status %q", name, ErrInvalid, status)
	}
	n, err := s.q.exec(ctx, `UPDATE sync_timers SET status = $1, settled_at = $2 WHERE name = $3 AND kind = $4 AND key = $5 AND status = 'pending'`,
		status, s.now(), name, kind, key)
	return n == 1, s.err("settle timer "+name, err)
}

func (s *queries) timers(ctx context.Context, q string, args ...any) ([]*SyncTimer, error) {
	rows, err := s.q.query(ctx, `SELECT `+syncTimerCols+` FROM sync_timers WHERE `+q, args...)
	if err != nil {
		return nil, s.err("timers", err)
	}
	defer rows.Close()
	var out []*SyncTimer
	for rows.Next() {
		t := &SyncTimer{}
		if err := rows.Scan(&t.Name, &t.Kind, &t.Key, timeCol{&t.DueAt}, &t.Owner, &t.Detail, &t.Status, timeCol{&t.CreatedAt}, timeCol{&t.SettledAt}); err != nil {
			return nil, s.err("timers", err)
		}
		out = append(out, t)
	}
	return out, s.err("timers", rows.Err())
}

func (s *queries) DueSyncTimers(ctx context.Context, at time.Time, limit int) ([]*SyncTimer, error) {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	return s.timers(ctx, fmt.Sprintf(`status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT %d`, limit), at.UTC())
}

func (s *queries) SyncTimers(ctx context.Context, kind, key string) ([]*SyncTimer, error) {
	return s.timers(ctx, `kind = $1 AND key = $2 ORDER BY created_at, name`, kind, key)
}

// BatchItem is a document a batch route collects for its next run.
type BatchItem struct {
	ID        int64     `json:"id"`
	Route     string    `json:"route"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key"`
	Event     string    `json:"event"`
	SourceID  string    `json:"source_id"` // the message that caused it
	Doc       string    `json:"doc"`       // canonical JSON, already converted for the route
	Idem      string    `json:"idem"`      // the send it stands for; queued once
	CreatedAt time.Time `json:"created_at"`
	// Batch is "" while waiting, "claim:ID" while a run sends it, then the
	// outbound message that carried it.
	Batch string `json:"batch"`
}

// QueueBatchItem queues a document for its route's next run; false when
// one with the same Idem is already queued (a retried job).
func (s *queries) QueueBatchItem(ctx context.Context, b *BatchItem) (bool, error) {
	if b.Route == "" || b.Idem == "" || b.Doc == "" {
		return false, fmt.Errorf("store: queue batch item: %w: route, idempotency key and document are required", ErrInvalid)
	}
	b.CreatedAt = s.now()
	n, err := s.q.exec(ctx, `INSERT INTO sync_batch_items (route, kind, key, event, source_id, doc, idem, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (idem) DO NOTHING`, b.Route, b.Kind, b.Key, b.Event, b.SourceID, b.Doc, b.Idem, b.CreatedAt)
	return n == 1, s.err("queue batch item", err)
}

// ClaimBatch returns the route's items for one run, claimed under one key:
// the items of an earlier claim that was not settled (a run that crashed
// after claiming, to be sent again under the same key), else every waiting
// item (at most limit), newly claimed.
func (s *queries) ClaimBatch(ctx context.Context, route string, limit int) (claim string, items []*BatchItem, err error) {
	if limit <= 0 || limit > 100000 {
		limit = 100000
	}
	err = s.atomic(ctx, func(q *queries) error {
		row := q.q.queryRow(ctx, `SELECT batch FROM sync_batch_items WHERE route = $1 AND substr(batch, 1, 6) = 'claim:' ORDER BY id LIMIT 1`, route)
		if err := row.Scan(&claim); err != nil {
			if !isNoRows(q, err) {
				return err
			}
			claim = "claim:" + NewID()
			if _, err := q.q.exec(ctx, fmt.Sprintf(`UPDATE sync_batch_items SET batch = $1 WHERE id IN
				(SELECT id FROM sync_batch_items WHERE route = $2 AND batch = '' ORDER BY id LIMIT %d)`, limit), claim, route); err != nil {
				return err
			}
		}
		rows, err := q.q.query(ctx, `SELECT id, route, kind, key, event, source_id, doc, idem, created_at, batch FROM sync_batch_items WHERE batch = $1 ORDER BY id`, claim)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b := &BatchItem{}
			if err := rows.Scan(&b.ID, &b.Route, &b.Kind, &b.Key, &b.Event, &b.SourceID, &b.Doc, &b.Idem, timeCol{&b.CreatedAt}, &b.Batch); err != nil {
				return err
			}
			items = append(items, b)
		}
		return rows.Err()
	})
	return claim, items, s.err("claim batch "+route, err)
}

// SettleBatch records the outbound message that carried a claim's items.
func (s *queries) SettleBatch(ctx context.Context, claim, messageID string) error {
	_, err := s.q.exec(ctx, `UPDATE sync_batch_items SET batch = $1 WHERE batch = $2`, messageID, claim)
	return s.err("settle batch", err)
}

func isNoRows(q *queries, err error) bool { return errors.Is(q.translate(err), ErrNotFound) }

// SyncApplied records what the sync did with one document of a message.
type SyncApplied struct {
	MessageID string   `json:"message_id"`
	Seq       int      `json:"seq"`  // the document's position in the message, from 1
	Kind      string   `json:"kind"` // the object
	Key       string   `json:"key"`
	Events    []string `json:"events"`  // what applying it emitted
	Refused   bool     `json:"refused"` // the sender does not own the object
}

// GetSyncApplied returns the record of a document; ErrNotFound when it was never applied.
func (s *queries) GetSyncApplied(ctx context.Context, messageID string, seq int) (*SyncApplied, error) {
	a := &SyncApplied{MessageID: messageID, Seq: seq}
	var events string
	err := s.q.queryRow(ctx, `SELECT kind, key, events, refused FROM sync_applied WHERE message_id = $1 AND seq = $2`, messageID, seq).
		Scan(&a.Kind, &a.Key, &events, &a.Refused)
	if err != nil {
		return nil, s.err("sync applied", err)
	}
	if events != "" {
		a.Events = strings.Split(events, ",")
	}
	return a, nil
}

// PutSyncApplied records (or replaces) what applying a document did.
func (s *queries) PutSyncApplied(ctx context.Context, a *SyncApplied) error {
	q := `INSERT INTO sync_applied (message_id, seq, kind, key, events, refused) VALUES ($1, $2, $3, $4, $5, $6)`
	// A first run did not look for an earlier record: it checks here that
	// there is none. One there means the mark was wrong (a replay ran
	// first, a paused instance went on after its failover): the insert
	// fails its transaction, nothing of it is recorded, and the run fails,
	// to be retried by a job that looks and replaces the record.
	if !FirstRun(ctx) {
		q += ` ON CONFLICT (message_id, seq) DO UPDATE SET kind = excluded.kind, key = excluded.key, events = excluded.events, refused = excluded.refused`
	}
	return s.execLater(ctx, "put sync applied of message "+a.MessageID, q,
		a.MessageID, a.Seq, a.Kind, a.Key, strings.Join(a.Events, ","), a.Refused)
}

func (s *queries) ReleaseBatch(ctx context.Context, claim string) error {
	_, err := s.q.exec(ctx, `UPDATE sync_batch_items SET batch = '' WHERE batch = $1`, claim)
	return s.err("release batch", err)
}

func (s *queries) CountSyncEvents(ctx context.Context, kind, event string) (int, error) {
	var n int
	err := s.q.queryRow(ctx, `SELECT COUNT(DISTINCT key) FROM sync_events WHERE kind = $1 AND event = $2`, kind, event).Scan(&n)
	return n, s.err("count sync events", err)
}
