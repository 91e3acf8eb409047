package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The AS2 tables (migration 0004): partner_as2 holds a partner's AS2 name
// and certificates (PEM, several during a rotation); as2_messages the
// bookkeeping of each AS2 message by (partner, AS2 Message-ID, direction).

// PartnerAS2 is a partner's AS2 name and certificates.
type PartnerAS2 struct {
	PartnerID string
	AS2ID     string
	CertsPEM  []string // one PEM CERTIFICATE block each
	UpdatedAt time.Time
}

// AS2Message is the bookkeeping of one AS2 message.
type AS2Message struct {
	PartnerID    string
	AS2MessageID string
	Direction    Direction
	MessageID    string // archived payload
	RawID        string // archived raw request (in) or sent body (out)
	MDNID        string // archived MDN (sent for in, received for out)
	MIC          string
	Disposition  string
	MDNMode      string // sync, async, none
	MDNURL       string
	Status       string
	Deadline     time.Time // zero: none
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AS2Queries are the AS2 operations, part of [Queries].
type AS2Queries interface {
	// SetPartnerAS2 records the partner's AS2 name and certificates.
	// ErrNotFound when the partner does not exist; ErrConflict when another
	// partner uses the AS2 name.
	SetPartnerAS2(ctx context.Context, p *PartnerAS2) error
	GetPartnerAS2(ctx context.Context, partnerID string) (*PartnerAS2, error)
	PartnerByAS2ID(ctx context.Context, as2ID string) (*PartnerAS2, error)
	// PutAS2Message creates or replaces the record; CreatedAt is kept.
	PutAS2Message(ctx context.Context, m *AS2Message) error
	GetAS2Message(ctx context.Context, partnerID, as2MessageID string, dir Direction) (*AS2Message, error)
	// AS2MessageByArchiveID finds the record whose payload, raw or MDN
	// archived message is id.
	AS2MessageByArchiveID(ctx context.Context, id string) (*AS2Message, error)
	// OverdueAS2Messages lists records in status whose deadline passed, oldest first.
	OverdueAS2Messages(ctx context.Context, status string, before time.Time, limit int) ([]*AS2Message, error)

	// AddAS2PendingMDN records (or replaces) an async MDN Wharf waits for.
	AddAS2PendingMDN(ctx context.Context, p *AS2PendingMDN) error
	// GetAS2PendingMDN returns the pending entry, or ErrNotFound.
	GetAS2PendingMDN(ctx context.Context, partnerID, as2MessageID string) (*AS2PendingMDN, error)
	// TakeAS2PendingMDN removes and returns the pending entry: exactly one
	// caller gets it (the MDN, or the overdue check); others get ErrNotFound.
	TakeAS2PendingMDN(ctx context.Context, partnerID, as2MessageID string) (*AS2PendingMDN, error)
	// TakeOverdueAS2MDNs removes and returns up to limit entries whose
	// deadline is before the given time, oldest deadline first.
	TakeOverdueAS2MDNs(ctx context.Context, before time.Time, limit int) ([]*AS2PendingMDN, error)
}

// AS2PendingMDN is an async MDN Wharf waits for (migration 0008): the
// outbound payload it settles, the MIC it must carry, whether it must be
// signed, and when waiting becomes an exception.
type AS2PendingMDN struct {
	PartnerID    string
	AS2MessageID string
	MessageID    string // the archived outbound payload
	MIC          string // "base64, alg" expected in Received-Content-MIC; "" when none
	SignedMDN    bool
	Deadline     time.Time
	CreatedAt    time.Time
}

const certSep = "\n"

func (s *queries) SetPartnerAS2(ctx context.Context, p *PartnerAS2) error {
	if strings.TrimSpace(p.AS2ID) == "" || len(p.AS2ID) > 128 {
		return fmt.Errorf("store: partner %s: %w: an AS2 name has 1 to 128 characters", p.PartnerID, ErrInvalid)
	}
	t := s.now()
	return s.atomic(ctx, func(q *queries) error {
		if _, err := q.GetPartner(ctx, p.PartnerID); err != nil {
			return err
		}
		other, err := q.PartnerByAS2ID(ctx, p.AS2ID)
		if err == nil && other.PartnerID != p.PartnerID {
			return fmt.Errorf("store: partner %s: %w: AS2 name %q already belongs to partner %s", p.PartnerID, ErrConflict, p.AS2ID, other.PartnerID)
		}
		_, err = q.q.exec(ctx, `INSERT INTO partner_as2 (partner_id, as2_id, certs, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (partner_id) DO UPDATE SET as2_id = excluded.as2_id, certs = excluded.certs, updated_at = excluded.updated_at`,
			p.PartnerID, p.AS2ID, strings.Join(p.CertsPEM, certSep), t)
		if err != nil {
			return q.err("set partner as2 "+p.PartnerID, err)
		}
		p.UpdatedAt = t
		return nil
	})
}

func (s *queries) partnerAS2(ctx context.Context, where string, arg string) (*PartnerAS2, error) {
	var p PartnerAS2
	var certs string
	err := s.q.queryRow(ctx, `SELECT partner_id, as2_id, certs, updated_at FROM partner_as2 WHERE `+where, arg).
		Scan(&p.PartnerID, &p.AS2ID, &certs, timeCol{&p.UpdatedAt})
	if err != nil {
		return nil, fmt.Errorf("store: as2 partner %q: %w", arg, s.translate(err))
	}
	for _, blk := range strings.SplitAfter(certs, "-----END CERTIFICATE-----") {
		if blk = strings.TrimSpace(blk); blk != "" {
			p.CertsPEM = append(p.CertsPEM, blk+"\n")
		}
	}
	return &p, nil
}

func (s *queries) GetPartnerAS2(ctx context.Context, partnerID string) (*PartnerAS2, error) {
	return s.partnerAS2(ctx, `partner_id = $1`, partnerID)
}

func (s *queries) PartnerByAS2ID(ctx context.Context, as2ID string) (*PartnerAS2, error) {
	return s.partnerAS2(ctx, `as2_id = $1`, as2ID)
}

func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (s *queries) PutAS2Message(ctx context.Context, m *AS2Message) error {
	t := s.now()
	_, err := s.q.exec(ctx, `INSERT INTO as2_messages (partner_id, as2_message_id, direction, message_id, raw_id, mdn_id, mic,
			disposition, mdn_mode, mdn_url, status, deadline, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
		ON CONFLICT (partner_id, as2_message_id, direction) DO UPDATE SET message_id = excluded.message_id,
			raw_id = excluded.raw_id, mdn_id = excluded.mdn_id, mic = excluded.mic, disposition = excluded.disposition,
			mdn_mode = excluded.mdn_mode, mdn_url = excluded.mdn_url, status = excluded.status,
			deadline = excluded.deadline, updated_at = excluded.updated_at`,
		m.PartnerID, m.AS2MessageID, string(m.Direction), m.MessageID, m.RawID, m.MDNID, m.MIC,
		m.Disposition, m.MDNMode, m.MDNURL, m.Status, optTime(m.Deadline), t)
	if err != nil {
		return s.err("put as2 message "+m.AS2MessageID, err)
	}
	m.UpdatedAt = t
	return nil
}

const as2Cols = `partner_id, as2_message_id, direction, message_id, raw_id, mdn_id, mic, disposition, mdn_mode, mdn_url, status, deadline, created_at, updated_at`

func scanAS2(r rowScanner) (*AS2Message, error) {
	var m AS2Message
	var dir string
	err := r.Scan(&m.PartnerID, &m.AS2MessageID, &dir, &m.MessageID, &m.RawID, &m.MDNID, &m.MIC, &m.Disposition,
		&m.MDNMode, &m.MDNURL, &m.Status, timeCol{&m.Deadline}, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt})
	m.Direction = Direction(dir)
	return &m, err
}

func (s *queries) GetAS2Message(ctx context.Context, partnerID, as2MessageID string, dir Direction) (*AS2Message, error) {
	m, err := scanAS2(s.q.queryRow(ctx, `SELECT `+as2Cols+` FROM as2_messages WHERE partner_id = $1 AND as2_message_id = $2 AND direction = $3`,
		partnerID, as2MessageID, string(dir)))
	if err != nil {
		return nil, fmt.Errorf("store: as2 message %s: %w", as2MessageID, s.translate(err))
	}
	return m, nil
}

func (s *queries) AS2MessageByArchiveID(ctx context.Context, id string) (*AS2Message, error) {
	m, err := scanAS2(s.q.queryRow(ctx, `SELECT `+as2Cols+` FROM as2_messages WHERE message_id = $1 OR mdn_id = $1 OR raw_id = $1
		ORDER BY created_at LIMIT 1`, id))
	if err != nil {
		return nil, fmt.Errorf("store: as2 message for %s: %w", id, s.translate(err))
	}
	return m, nil
}

func (s *queries) OverdueAS2Messages(ctx context.Context, status string, before time.Time, limit int) ([]*AS2Message, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.q.query(ctx, `SELECT `+as2Cols+` FROM as2_messages WHERE status = $1 AND deadline IS NOT NULL AND deadline < $2
		ORDER BY deadline LIMIT $3`, status, before.UTC(), limit)
	if err != nil {
		return nil, s.err("overdue as2 messages", err)
	}
	defer rows.Close()
	var out []*AS2Message
	for rows.Next() {
		m, err := scanAS2(rows)
		if err != nil {
			return nil, s.err("overdue as2 messages", err)
		}
		out = append(out, m)
	}
	return out, s.err("overdue as2 messages", rows.Err())
}

func (s *queries) AddAS2PendingMDN(ctx context.Context, p *AS2PendingMDN) error {
	if p.Deadline.IsZero() || p.MessageID == "" {
		return fmt.Errorf("store: pending as2 mdn %s: %w: a deadline and the outbound message are required", p.AS2MessageID, ErrInvalid)
	}
	signed := 0
	if p.SignedMDN {
		signed = 1
	}
	t := s.now()
	_, err := s.q.exec(ctx, `INSERT INTO as2_pending_mdns (partner_id, as2_message_id, message_id, mic, signed_mdn, deadline, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (partner_id, as2_message_id) DO UPDATE SET message_id = excluded.message_id, mic = excluded.mic,
			signed_mdn = excluded.signed_mdn, deadline = excluded.deadline`,
		p.PartnerID, p.AS2MessageID, p.MessageID, p.MIC, signed, p.Deadline.UTC().Truncate(time.Microsecond), t)
	if err != nil {
		return s.err("add pending as2 mdn "+p.AS2MessageID, err)
	}
	p.CreatedAt = t
	return nil
}

const pendingCols = `partner_id, as2_message_id, message_id, mic, signed_mdn, deadline, created_at`

func scanPending(r rowScanner) (*AS2PendingMDN, error) {
	var p AS2PendingMDN
	var signed int64
	err := r.Scan(&p.PartnerID, &p.AS2MessageID, &p.MessageID, &p.MIC, &signed, timeCol{&p.Deadline}, timeCol{&p.CreatedAt})
	p.SignedMDN = signed != 0
	return &p, err
}

func (s *queries) GetAS2PendingMDN(ctx context.Context, partnerID, as2MessageID string) (*AS2PendingMDN, error) {
	p, err := scanPending(s.q.queryRow(ctx, `SELECT `+pendingCols+` FROM as2_pending_mdns WHERE partner_id = $1 AND as2_message_id = $2`,
		partnerID, as2MessageID))
	if err != nil {
		return nil, fmt.Errorf("store: pending as2 mdn %s: %w", as2MessageID, s.translate(err))
	}
	return p, nil
}

func (s *queries) TakeAS2PendingMDN(ctx context.Context, partnerID, as2MessageID string) (*AS2PendingMDN, error) {
	p, err := scanPending(s.q.queryRow(ctx, `DELETE FROM as2_pending_mdns WHERE partner_id = $1 AND as2_message_id = $2
		RETURNING `+pendingCols, partnerID, as2MessageID))
	if err != nil {
		return nil, fmt.Errorf("store: pending as2 mdn %s: %w", as2MessageID, s.translate(err))
	}
	return p, nil
}

func (s *queries) TakeOverdueAS2MDNs(ctx context.Context, before time.Time, limit int) ([]*AS2PendingMDN, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.q.query(ctx, `DELETE FROM as2_pending_mdns WHERE (partner_id, as2_message_id) IN (
			SELECT partner_id, as2_message_id FROM as2_pending_mdns WHERE deadline < $1 ORDER BY deadline LIMIT $2)
		RETURNING `+pendingCols, before.UTC(), limit)
	if err != nil {
		return nil, s.err("overdue as2 mdns", err)
	}
	defer rows.Close()
	var out []*AS2PendingMDN
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, s.err("overdue as2 mdns", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("overdue as2 mdns", err)
	}
	// RETURNING does not keep the subquery's order.
	sort.Slice(out, func(i, j int) bool { return out[i].Deadline.Before(out[j].Deadline) })
	return out, nil
}
