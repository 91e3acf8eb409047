package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// querier is the seam between the shared SQL and a driver. Queries use $N
// placeholders, which both PostgreSQL and SQLite accept.
type querier interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rowsIter, error)
	queryRow(ctx context.Context, q string, args ...any) rowScanner
}

type rowsIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type rowScanner interface {
	Scan(dest ...any) error
}

// queries implements Queries over a querier. atomic runs fn in a
// transaction: a new one on a Store, the current one inside a Tx.
type queries struct {
	q         querier
	translate func(error) error
	atomic    func(ctx context.Context, fn func(*queries) error) error
	// forUpdate locks rows read for a read-modify-write (PostgreSQL);
	// empty on SQLite, whose write transactions are serialised already.
	forUpdate string
	// clock stamps what the store writes itself; nil is the wall clock.
	clock func() time.Time
	// micros is the SQL of a timestamp column as unix microseconds (SQLite
	// stores them so; PostgreSQL converts its timestamptz), with %s for
	// the column.
	micros string
	// draws coalesces the store's concurrent control-number draws; nil in
	// a transaction, whose draws are its own.
	draws *draws
}

// isPostgres tells a PostgreSQL querier (the pool's or a transaction's).
func isPostgres(q querier) bool {
	switch q.(type) {
	case pgQ, *pgTxQ:
		return true
	}
	return false
}

// single runs fn, one statement that is atomic alone (a write of several
// rows read back through query): on PostgreSQL as it is, one round trip
// instead of BEGIN, the statement and COMMIT (in the caller's transaction
// when there is one); on SQLite in a transaction, because a write outside
// one would commit, and sync, by itself instead of joining the group
// commit (groupQ joins it for exec and queryRow only).
func (s *queries) single(ctx context.Context, fn func(*queries) error) error {
	if isPostgres(s.q) {
		return fn(s)
	}
	return s.atomic(ctx, fn)
}

// execLater runs a write whose answer nobody needs (an insert that does
// nothing on conflict, an upsert): in a PostgreSQL transaction it goes to
// the server with the transaction's next statement (pgTxQ); elsewhere now.
func (s *queries) execLater(ctx context.Context, label, q string, args ...any) error {
	if t, ok := s.q.(*pgTxQ); ok {
		t.due(q)
		t.later = append(t.later, laterStmt{label: "store: " + label, sql: q, args: args})
		return nil
	}
	_, err := s.q.exec(ctx, q, args...)
	return s.err(label, err)
}

// insertLater inserts rows whose answer nobody needs into a table nothing
// references (history, outbox events, keys, references): head is the
// statement up to VALUES ("INSERT INTO t (cols) VALUES "), tail what
// follows the rows. In a transaction the rows wait and go with those of
// every other insertLater of that statement in it: one multi-row INSERT,
// before the first statement that names the table or at the end
// (waitingRows). Outside a transaction they are inserted now.
func (s *queries) insertLater(ctx context.Context, label, head, tail string, rows ...[]any) error {
	if len(rows) == 0 {
		return nil
	}
	switch t := s.q.(type) {
	case *pgTxQ:
		t.rows.add(label, head, tail, rows)
		return nil
	case *sqliteTxQ:
		t.rows.add(label, head, tail, rows)
		return nil
	}
	if len(rows) > exactRows { // more than one statement (rowsSQL): all or none
		return s.atomic(ctx, func(q *queries) error { return q.insertRows(ctx, label, head, tail, rows) })
	}
	return s.insertRows(ctx, label, head, tail, rows)
}

// epochMicros is the driver's SQL for col as unix microseconds.
func (s *queries) epochMicros(col string) string {
	if s.micros == "" {
		return col
	}
	return fmt.Sprintf(s.micros, col)
}

// timeCol scans a time stored as unix microseconds (SQLite) or timestamptz (PostgreSQL).
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*c.t = time.UnixMicro(x).UTC()
	case time.Time:
		*c.t = x.UTC()
	case nil:
		*c.t = time.Time{}
	default:
		return fmt.Errorf("store: cannot scan %T as time", v)
	}
	return nil
}

var _ sql.Scanner = timeCol{}

// now is the store's clock: every timestamp the store writes itself
// (received_at, updated_at, created_at, event times) comes from here, so a
// caller that injects a clock with WithClock sees one time everywhere.
func (s *queries) now() time.Time {
	if s.clock != nil {
		return s.clock().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *queries) err(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, s.translate(err))
}

// ValidPartnerID reports whether id can name a partner: 1 to 64 characters
// of letters, digits, '.', '_' and '-', starting with a letter or digit. The
// ID becomes an SFTP user name and a folder name, so nothing else is allowed.
func ValidPartnerID(id string) error {
	if id == "" || len(id) > 64 {
		return Invalid("partner id %q must be 1 to 64 characters", id)
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '.' || r == '_' || r == '-'))
		if !ok {
			return Invalid("partner id %q: character %q at position %d is not allowed (use letters, digits, '.', '_', '-')", id, r, i+1)
		}
	}
	return nil
}

// ParseSSHKey parses one authorized_keys line and returns its SHA256
// fingerprint and the normalised line (type, base64, comment).
func ParseSSHKey(line string) (fingerprint, normalised string, err error) {
	pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return "", "", fmt.Errorf("%w: ssh public key: %w", ErrInvalid, err)
	}
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	if comment != "" {
		norm += " " + comment
	}
	return ssh.FingerprintSHA256(pk), norm, nil
}

func (s *queries) UpsertPartner(ctx context.Context, p *Partner) error {
	if err := ValidPartnerID(p.ID); err != nil {
		return fmt.Errorf("store: upsert partner: %w", err)
	}
	type key struct{ fp, line string }
	var keys []key
	for _, line := range p.SSHKeys {
		fp, norm, err := ParseSSHKey(line)
		if err != nil {
			return fmt.Errorf("store: upsert partner %s: %w", p.ID, err)
		}
		keys = append(keys, key{fp, norm})
	}
	for _, x := range p.X12IDs {
		if x.Qualifier == "" || x.ID == "" {
			return fmt.Errorf("store: upsert partner %s: %w: x12 id %q needs QUALIFIER:ID", p.ID, ErrInvalid, x.String())
		}
	}
	if p.Source == "" {
		p.Source = "cli"
	}
	t := s.now()
	return s.atomic(ctx, func(q *queries) error {
		created := t
		err := q.q.queryRow(ctx, `SELECT created_at FROM partners WHERE id = $1`, p.ID).Scan(timeCol{&created})
		if err != nil && q.translate(err) != ErrNotFound {
			return q.err("upsert partner "+p.ID, err)
		}
		if _, err := q.q.exec(ctx, `INSERT INTO partners (id, name, source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, source = excluded.source, updated_at = excluded.updated_at`,
			p.ID, p.Name, p.Source, created, t); err != nil {
			return q.err("upsert partner "+p.ID, err)
		}
		if _, err := q.q.exec(ctx, `DELETE FROM partner_x12_ids WHERE partner_id = $1`, p.ID); err != nil {
			return q.err("upsert partner "+p.ID, err)
		}
		for _, x := range p.X12IDs {
			if _, err := q.q.exec(ctx, `INSERT INTO partner_x12_ids (partner_id, qualifier, ident) VALUES ($1, $2, $3)`, p.ID, x.Qualifier, x.ID); err != nil {
				err = q.translate(err)
				if err == ErrConflict {
					owner, _ := q.PartnerByX12ID(ctx, x)
					if owner != nil {
						return fmt.Errorf("store: upsert partner %s: %w: x12 id %s already belongs to partner %s", p.ID, ErrConflict, x, owner.ID)
					}
				}
				return fmt.Errorf("store: upsert partner %s: x12 id %s: %w", p.ID, x, err)
			}
		}
		if _, err := q.q.exec(ctx, `DELETE FROM partner_ssh_keys WHERE partner_id = $1`, p.ID); err != nil {
			return q.err("upsert partner "+p.ID, err)
		}
		for i, k := range keys {
			if _, err := q.q.exec(ctx, `INSERT INTO partner_ssh_keys (fingerprint, partner_id, authorized_key, position) VALUES ($1, $2, $3, $4)`, k.fp, p.ID, k.line, i); err != nil {
				err = q.translate(err)
				if err == ErrConflict {
					return fmt.Errorf("store: upsert partner %s: %w: ssh key %s is already registered (to this or another partner)", p.ID, ErrConflict, k.fp)
				}
				return fmt.Errorf("store: upsert partner %s: ssh key: %w", p.ID, err)
			}
		}
		p.CreatedAt, p.UpdatedAt = created, t
		return nil
	})
}

func (s *queries) GetPartner(ctx context.Context, id string) (*Partner, error) {
	ps, err := s.partners(ctx, `WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("store: partner %q: %w", id, ErrNotFound)
	}
	return ps[0], nil
}

func (s *queries) ListPartners(ctx context.Context) ([]*Partner, error) {
	return s.partners(ctx, ``)
}

func (s *queries) PartnerByX12ID(ctx context.Context, x X12ID) (*Partner, error) {
	ps, err := s.partners(ctx, `WHERE id = (SELECT partner_id FROM partner_x12_ids WHERE qualifier = $1 AND ident = $2)`, x.Qualifier, x.ID)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("store: partner with x12 id %s: %w", x, ErrNotFound)
	}
	return ps[0], nil
}

func (s *queries) PartnerBySSHKey(ctx context.Context, fingerprint string) (*Partner, error) {
	ps, err := s.partners(ctx, `WHERE id = (SELECT partner_id FROM partner_ssh_keys WHERE fingerprint = $1)`, fingerprint)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("store: partner with ssh key %s: %w", fingerprint, ErrNotFound)
	}
	return ps[0], nil
}

func (s *queries) SetPartnerDisabled(ctx context.Context, id string, disabled bool) error {
	q, args := `UPDATE partners SET disabled_at = NULL WHERE id = $1`, []any{id}
	if disabled {
		q, args = `UPDATE partners SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1`, []any{id, s.now()}
	}
	n, err := s.q.exec(ctx, q, args...)
	if err != nil {
		return s.err("disable partner "+id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: partner %q: %w", id, ErrNotFound)
	}
	return nil
}

func (s *queries) partners(ctx context.Context, where string, args ...any) ([]*Partner, error) {
	rows, err := s.q.query(ctx, `SELECT id, name, source, created_at, updated_at, disabled_at FROM partners `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, s.err("list partners", err)
	}
	var out []*Partner
	byID := map[string]*Partner{}
	for rows.Next() {
		p := &Partner{}
		if err := rows.Scan(&p.ID, &p.Name, &p.Source, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, timeCol{&p.DisabledAt}); err != nil {
			rows.Close()
			return nil, s.err("list partners", err)
		}
		out = append(out, p)
		byID[p.ID] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.err("list partners", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// Children: one query each, filtered the same way as the parents.
	sub := `SELECT id FROM partners ` + where
	rows, err = s.q.query(ctx, `SELECT partner_id, qualifier, ident FROM partner_x12_ids WHERE partner_id IN (`+sub+`) ORDER BY partner_id, qualifier, ident`, args...)
	if err != nil {
		return nil, s.err("list partner x12 ids", err)
	}
	for rows.Next() {
		var pid string
		var x X12ID
		if err := rows.Scan(&pid, &x.Qualifier, &x.ID); err != nil {
			rows.Close()
			return nil, s.err("list partner x12 ids", err)
		}
		byID[pid].X12IDs = append(byID[pid].X12IDs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.err("list partner x12 ids", err)
	}
	rows, err = s.q.query(ctx, `SELECT partner_id, authorized_key FROM partner_ssh_keys WHERE partner_id IN (`+sub+`) ORDER BY partner_id, position`, args...)
	if err != nil {
		return nil, s.err("list partner ssh keys", err)
	}
	for rows.Next() {
		var pid, line string
		if err := rows.Scan(&pid, &line); err != nil {
			rows.Close()
			return nil, s.err("list partner ssh keys", err)
		}
		byID[pid].SSHKeys = append(byID[pid].SSHKeys, line)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.err("list partner ssh keys", err)
	}
	return out, nil
}

func (s *queries) NextCounter(ctx context.Context, partnerID, name string) (int64, error) {
	v, err := s.NextCounters(ctx, partnerID, name)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

func (s *queries) NextCounters(ctx context.Context, partnerID string, names ...string) ([]int64, error) {
	if len(names) == 0 {
		return nil, nil
	}
	for i, n := range names {
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("store: next counters of %s: %w: %s named twice", partnerID, ErrInvalid, n)
		}
	}
	if s.draws == nil {
		return s.drawCounters(ctx, partnerID, names, 1)
	}
	key := partnerID + "\x00" + strings.Join(names, "\x00")
	for {
		last, k, i, err := s.draws.do(ctx, key, func(k int64) ([]int64, error) {
			v, err := s.drawCounters(ctx, partnerID, names, k)
			if err != nil && ctx.Err() != nil {
				return nil, leaderGone{err}
			}
			return v, err
		})
		var gone leaderGone
		if errors.As(err, &gone) && ctx.Err() == nil {
			continue // the draw ran on another caller's context, which ended: draw again
		}
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(names))
		for j := range names {
			out[j] = last[j] - k + 1 + i
		}
		return out, nil
	}
}

// drawCounters adds k to each of the partner's counters named (a counter
// not there yet starts at k) and returns their values after, in the order
// named: the k numbers drawn of each are the k up to that value.
func (s *queries) drawCounters(ctx context.Context, partnerID string, names []string, k int64) ([]int64, error) {
	var b strings.Builder
	args := []any{partnerID, k}
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		args = append(args, n)
		fmt.Fprintf(&b, "($1, $%d, $2)", len(args))
	}
	q := `INSERT INTO counters (partner_id, name, value) VALUES ` + b.String() + `
		ON CONFLICT (partner_id, name) DO UPDATE SET value = counters.value + excluded.value RETURNING name, value`
	got := map[string]int64{}
	read := func(rows rowsIter) error {
		defer rows.Close()
		for rows.Next() {
			var n string
			var v int64
			if err := rows.Scan(&n, &v); err != nil {
				return err
			}
			got[n] = v
		}
		return rows.Err()
	}
	var err error
	if sb, ok := poolBatcher(s.q); ok {
		// Processing draws numbers for every file: on PostgreSQL one
		// round trip, the rows released before the flush (countersPG).
		err = countersPG(ctx, sb, q, args, read)
	} else {
		err = s.single(ctx, func(q2 *queries) error {
			rows, err := q2.q.query(ctx, q, args...)
			if err != nil {
				return err
			}
			return read(rows)
		})
	}
	if err != nil {
		return nil, s.err("next counters of "+partnerID, err)
	}
	out := make([]int64, len(names))
	for i, n := range names {
		v, ok := got[n]
		if !ok {
			return nil, s.err("next counters of "+partnerID, fmt.Errorf("no value returned for %s", n))
		}
		out[i] = v
	}
	return out, nil
}

// NewID returns a new time-ordered message id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// newMessage checks a message about to be inserted and fills its ID and
// receive time when they are empty (InsertMessage, RecordArchived).
func (s *queries) newMessage(m *Message) error {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.Direction != Inbound && m.Direction != Outbound {
		return fmt.Errorf("store: insert message: %w: direction %q must be in or out", ErrInvalid, m.Direction)
	}
	if m.Status != "" && !m.Status.Valid() {
		return fmt.Errorf("store: insert message: %w: unknown status %q", ErrInvalid, m.Status)
	}
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = s.now()
	}
	m.ReceivedAt = m.ReceivedAt.UTC().Truncate(time.Microsecond)
	return nil
}

func (s *queries) InsertMessage(ctx context.Context, m *Message) error {
	if err := s.newMessage(m); err != nil {
		return err
	}
	// The message and its first outbox event (message.received, or
	// message.waiting) commit together.
	return s.atomic(ctx, func(q *queries) error {
		_, err := q.q.exec(ctx, `INSERT INTO messages (id, partner_id, direction, transport, remote_name, size, sha256, blob_ref, status,
		correlation_id, format, doc_types, parent_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			m.ID, m.PartnerID, string(m.Direction), m.Transport, m.RemoteName, m.Size, m.SHA256, m.BlobRef, m.Status,
			m.CorrelationID, m.Format, strings.Join(m.DocTypes, ","), m.ParentID, m.ReceivedAt)
		if err != nil {
			return q.err("insert message", err)
		}
		if m.Status == "" {
			return nil // no status, nothing to tell
		}
		return q.messageEvent(ctx, m, string(m.Status), nil)
	})
}

const messageCols = `id, partner_id, direction, transport, remote_name, size, sha256, blob_ref, status, correlation_id, format, doc_types, parent_id, received_at`

func scanMessage(r rowScanner) (*Message, error) {
	m := &Message{}
	var dir, docTypes string
	if err := r.Scan(&m.ID, &m.PartnerID, &dir, &m.Transport, &m.RemoteName, &m.Size, &m.SHA256, &m.BlobRef, &m.Status,
		&m.CorrelationID, &m.Format, &docTypes, &m.ParentID, timeCol{&m.ReceivedAt}); err != nil {
		return nil, err
	}
	m.Direction = Direction(dir)
	if docTypes != "" {
		m.DocTypes = strings.Split(docTypes, ",")
	}
	return m, nil
}

func (s *queries) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := scanMessage(s.q.queryRow(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("store: message %s: %w", id, s.translate(err))
	}
	return m, nil
}

func (s *queries) SetMessageStatus(ctx context.Context, id string, status lifecycle.Status) error {
	if !status.Valid() {
		return fmt.Errorf("store: set status of message %s: %w: unknown status %q", id, ErrInvalid, status)
	}
	return s.atomic(ctx, func(q *queries) error {
		if changed, err := q.changeStatus(ctx, id, status, ""); changed || err != nil {
			return q.err("set message status", err)
		}
		var n int
		if err := q.q.queryRow(ctx, `SELECT count(*) FROM messages WHERE id = $1`, id).Scan(&n); err != nil {
			return q.err("set message status", err)
		}
		if n == 0 {
			return fmt.Errorf("store: message %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

func (s *queries) SetMessageOutcome(ctx context.Context, id string, status lifecycle.Status, format string, docTypes []string) error {
	if !status.Valid() {
		return fmt.Errorf("store: set outcome of message %s: %w: unknown status %q", id, ErrInvalid, status)
	}
	return s.atomic(ctx, func(q *queries) error {
		changed, err := q.changeStatus(ctx, id, status, ", format = $3, doc_types = $4", format, strings.Join(docTypes, ","))
		if changed || err != nil {
			return q.err("set message outcome", err)
		}
		// The status was this one already (a retry), or there is no such
		// message (ErrNotFound).
		return q.SetMessageFormat(ctx, id, format, docTypes)
	})
}

func (s *queries) SetStatusOf(ctx context.Context, m *Message, status lifecycle.Status) error {
	return s.changeStatusOf(ctx, m, status, false, "", nil)
}

func (s *queries) SetOutcomeOf(ctx context.Context, m *Message, status lifecycle.Status, format string, docTypes []string) error {
	return s.changeStatusOf(ctx, m, status, true, format, docTypes)
}

// changeStatusOf is SetStatusOf (outcome false) and SetOutcomeOf: writes
// whose answer nobody needs (execLater). The UPDATE and the event's
// INSERT are one statement, so that the event is made when the status
// changed, as changeStatus makes it.
func (s *queries) changeStatusOf(ctx context.Context, m *Message, status lifecycle.Status, outcome bool, format string, docTypes []string) error {
	if !status.Valid() {
		return fmt.Errorf("store: set status of message %s: %w: unknown status %q", m.ID, ErrInvalid, status)
	}
	types := strings.Join(docTypes, ",")
	set, args := "", []any{string(status), m.ID}
	if outcome {
		set, args = ", format = $3, doc_types = $4", append(args, format, types)
	}
	label := "set status of message " + m.ID
	setFormat := `UPDATE messages SET format = $1, doc_types = $2 WHERE id = $3 AND (format <> $1 OR doc_types <> $2)`
	return s.atomic(ctx, func(q *queries) error {
		if _, ok := q.q.(*pgTxQ); !ok {
			// SQLite: no round trip to save, and no UPDATE in a WITH.
			changed, err := q.changeStatus(ctx, m.ID, status, set, args[2:]...)
			if err != nil || changed || !outcome {
				return q.err(label, err)
			}
			_, err = q.q.exec(ctx, setFormat, format, types, m.ID)
			return q.err(label, err)
		}
		to := *m
		to.Status = status
		if outcome {
			to.Format, to.DocTypes = format, docTypes
		}
		e, err := newMessageEvent(&to, string(status), nil)
		if err != nil {
			return err
		}
		update := `UPDATE messages SET status = $1` + set + ` WHERE id = $2 AND status <> $1`
		if e == nil { // evidence: no event
			err = q.execLater(ctx, label, update, args...)
		} else {
			if err := q.fillOutbox(e); err != nil {
				return err
			}
			ev := outboxArgs(e)
			err = q.execLater(ctx, label, `WITH u AS (`+update+` RETURNING id) INSERT INTO outbox_events (`+outboxWriteCols+`) SELECT `+
				placeholders(len(args)+1, len(ev))+` FROM u`, append(args, ev...)...)
		}
		if err != nil || !outcome {
			return err
		}
		// The status was this one already (a retry): the outcome's columns
		// still change.
		return q.execLater(ctx, "set format of message "+m.ID, setFormat, format, types, m.ID)
	})
}

// placeholders is "$from, ..." for n arguments.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// changeStatus moves the message to status, and sets the columns of set
// (", col = $3, ...", their args after status and id) with it. A change of
// status is an outbox event (message.delivered, ...) in the same
// transaction; recording the same status again is none. One statement
// changes the row and returns it for the event (it runs for most messages
// twice); changed is false when the status was this one already, or there
// is no such message.
func (q *queries) changeStatus(ctx context.Context, id string, status lifecycle.Status, set string, args ...any) (changed bool, err error) {
	m, err := scanMessage(q.q.queryRow(ctx, `UPDATE messages SET status = $1`+set+` WHERE id = $2 AND status <> $1 RETURNING `+messageCols,
		append([]any{string(status), id}, args...)...))
	if err == nil {
		return true, q.messageEvent(ctx, m, string(status), nil)
	}
	if q.translate(err) == ErrNotFound {
		return false, nil
	}
	return false, err
}

func (s *queries) SetMessageFormat(ctx context.Context, id, format string, docTypes []string) error {
	n, err := s.q.exec(ctx, `UPDATE messages SET format = $1, doc_types = $2 WHERE id = $3`, format, strings.Join(docTypes, ","), id)
	if err != nil {
		return s.err("set message format", err)
	}
	if n == 0 {
		return fmt.Errorf("store: message %s: %w", id, ErrNotFound)
	}
	return nil
}

// filter builds a WHERE clause with $N placeholders.
type filter struct {
	conds []string
	args  []any
}

// add adds cond, whose one "?" takes v.
func (f *filter) add(cond string, v any) {
	f.args = append(f.args, v)
	f.conds = append(f.conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(f.args))))
}

// in adds "col IN (vals...)"; nothing for no values.
func (f *filter) in(col string, vals []string) { f.list(col, "IN", vals) }

// notIn adds col NOT IN (vals); nothing for no values.
func (f *filter) notIn(col string, vals []string) { f.list(col, "NOT IN", vals) }

func (f *filter) list(col, op string, vals []string) {
	if len(vals) == 0 {
		return
	}
	var ph []string
	for _, v := range vals {
		f.args = append(f.args, v)
		ph = append(ph, fmt.Sprintf("$%d", len(f.args)))
	}
	f.conds = append(f.conds, col+" "+op+" ("+strings.Join(ph, ", ")+")")
}

// before adds keyset paging on (timeCol, id), newest first.
func (f *filter) before(timeCol string, at time.Time, id string) {
	if at.IsZero() {
		return
	}
	f.args = append(f.args, at.UTC(), id)
	n := len(f.args)
	f.conds = append(f.conds, fmt.Sprintf("(%s < $%d OR (%s = $%d AND id < $%d))", timeCol, n-1, timeCol, n-1, n))
}

// where returns " WHERE ..." or "".
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

func (s *queries) SearchMessages(ctx context.Context, f MessageFilter) ([]*Message, error) {
	var w filter
	if f.PartnerID != "" {
		w.add("partner_id = ?", f.PartnerID)
	}
	if f.Direction != "" {
		w.add("direction = ?", string(f.Direction))
	}
	if !f.Since.IsZero() {
		w.add("received_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		w.add("received_at < ?", f.Until.UTC())
	}
	if f.Key != "" {
		w.add("id IN (SELECT message_id FROM message_keys WHERE value = ?)", f.Key)
	}
	switch f.Traffic {
	case TrafficTest:
		w.add("id IN (SELECT message_id FROM message_keys WHERE value = ? AND kind = 'test')", KeyTest.Value)
	case TrafficProduction:
		w.add("id NOT IN (SELECT message_id FROM message_keys WHERE value = ? AND kind = 'test')", KeyTest.Value)
	}
	if f.Transport != "" {
		w.add("transport = ?", f.Transport)
	}
	w.notIn("transport", f.NotTransports)
	if f.Name != "" {
		w.add("remote_base = ?", f.Name)
	}
	var statuses []string
	for _, st := range f.Statuses {
		statuses = append(statuses, string(st))
	}
	w.in("status", statuses)
	w.before("received_at", f.Before, f.BeforeID)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT ` + messageCols + ` FROM messages` + w.where() + fmt.Sprintf(` ORDER BY received_at DESC, id DESC LIMIT %d`, limit)
	rows, err := s.q.query(ctx, q, w.args...)
	if err != nil {
		return nil, s.err("search messages", err)
	}
	defer rows.Close()
	var out []*Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, s.err("search messages", err)
		}
		out = append(out, m)
	}
	return out, s.err("search messages", rows.Err())
}

// checkKeys rejects a key without a kind or value.
func checkKeys(messageID string, keys []Key) error {
	for _, k := range keys {
		if k.Kind == "" || k.Value == "" {
			return fmt.Errorf("store: add key to message %s: %w: kind and value are required", messageID, ErrInvalid)
		}
	}
	return nil
}

func (s *queries) AddMessageKeys(ctx context.Context, messageID string, keys []Key) error {
	if err := checkKeys(messageID, keys); err != nil {
		return err
	}
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{messageID, k.Kind, k.Value}
	}
	return s.insertLater(ctx, "add keys to message "+messageID, insertKeysHead, onConflictNothing, rows...)
}

const (
	insertKeysHead    = `INSERT INTO message_keys (message_id, kind, value) VALUES `
	onConflictNothing = ` ON CONFLICT DO NOTHING`
)

func (s *queries) MessageKeys(ctx context.Context, messageID string) ([]Key, error) {
	rows, err := s.q.query(ctx, `SELECT kind, value FROM message_keys WHERE message_id = $1 ORDER BY kind, value`, messageID)
	if err != nil {
		return nil, s.err("message keys", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.Kind, &k.Value); err != nil {
			return nil, s.err("message keys", err)
		}
		out = append(out, k)
	}
	return out, s.err("message keys", rows.Err())
}

// newEvent checks an event to append and settles its time: now when
// unset, in UTC to the microsecond.
func (s *queries) newEvent(e *Event) error {
	if e.Kind == "" {
		return fmt.Errorf("store: append event: %w: kind is required", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	return nil
}

func (s *queries) AppendEvent(ctx context.Context, e *Event) error {
	if err := s.newEvent(e); err != nil {
		return err
	}
	return s.insertLater(ctx, "append event to message "+e.MessageID, `INSERT INTO message_events (message_id, at, kind, detail) VALUES `, "",
		[]any{e.MessageID, e.At, e.Kind, e.Detail})
}

func (s *queries) Events(ctx context.Context, messageID string) ([]*Event, error) {
	rows, err := s.q.query(ctx, `SELECT id, message_id, at, kind, detail FROM message_events WHERE message_id = $1 ORDER BY id`, messageID)
	if err != nil {
		return nil, s.err("events", err)
	}
	defer rows.Close()
	var out []*Event
	for rows.Next() {
		e := &Event{}
		if err := rows.Scan(&e.ID, &e.MessageID, timeCol{&e.At}, &e.Kind, &e.Detail); err != nil {
			return nil, s.err("events", err)
		}
		out = append(out, e)
	}
	return out, s.err("events", rows.Err())
}

func (s *queries) PauseSchedule(ctx context.Context, name, by string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("store: pause schedule: %w: no name", ErrInvalid)
	}
	_, err := s.q.exec(ctx, `INSERT INTO schedule_pauses (name, paused_at, paused_by) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, s.now(), by)
	return s.err("pause schedule "+name, err)
}

func (s *queries) ResumeSchedule(ctx context.Context, name string) error {
	_, err := s.q.exec(ctx, `DELETE FROM schedule_pauses WHERE name = $1`, name)
	return s.err("resume schedule "+name, err)
}

func (s *queries) SchedulePauses(ctx context.Context) (map[string]SchedulePause, error) {
	rows, err := s.q.query(ctx, `SELECT name, paused_at, paused_by FROM schedule_pauses`)
	if err != nil {
		return nil, s.err("schedule pauses", err)
	}
	defer rows.Close()
	out := map[string]SchedulePause{}
	for rows.Next() {
		var p SchedulePause
		if err := rows.Scan(&p.Name, timeCol{&p.At}, &p.By); err != nil {
			return nil, s.err("schedule pauses", err)
		}
		out[p.Name] = p
	}
	return out, s.err("schedule pauses", rows.Err())
}

func (s *queries) ScheduleLastRun(ctx context.Context, name string) (time.Time, bool, error) {
	var t time.Time
	err := s.q.queryRow(ctx, `SELECT last_slot FROM schedule_runs WHERE name = $1`, name).Scan(timeCol{&t})
	if err != nil {
		if s.translate(err) == ErrNotFound {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, s.err("schedule last run", err)
	}
	return t, true, nil
}

func (s *queries) RecordScheduleRun(ctx context.Context, name string, slot time.Time) error {
	slot = slot.UTC().Truncate(time.Microsecond)
	_, err := s.q.exec(ctx, `INSERT INTO schedule_runs (name, last_slot) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot WHERE schedule_runs.last_slot < excluded.last_slot`, name, slot)
	return s.err("record schedule run "+name, err)
}
