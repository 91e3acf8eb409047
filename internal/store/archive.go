package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The archive's tables (migration 0002): archive_entries holds per-message
// archive bookkeeping (idempotency key, duplicate flag, tombstone),
// archive_chain the append-only hash chain, archive_head its single-row head.
// The store keeps the rows; package archive owns what the hashes cover.

// GenesisHash is the PrevHash of the first chain record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Chain record kinds.
const (
	ChainEntry     = "entry"     // a message was archived
	ChainTombstone = "tombstone" // retention removed a message's blob
)

// ChainLink is a position in the archive's hash chain.
type ChainLink struct {
	Seq  int64 // 0 before the first record
	Hash string
}

// ChainRecord is one record of the hash chain.
type ChainRecord struct {
	Seq       int64
	Kind      string // ChainEntry or ChainTombstone
	MessageID string
	At        time.Time
	Detail    string
	PrevHash  string
	Hash      string
}

// ArchiveEntry is the archive's bookkeeping for one message.
type ArchiveEntry struct {
	MessageID   string
	PartnerID   string
	IdemKey     string    // the caller's idempotency key, "" for none
	DuplicateOf string    // earlier message of the same partner with the same content
	PurgedAt    time.Time // zero while the blob is kept
}

// ArchiveQueries are the archive's operations, part of [Queries].
type ArchiveQueries interface {
	// LockChain locks the chain head until the transaction ends and returns
	// it. Call it inside WithTx: appends, purges and blob deletions that hold
	// this lock are serial across processes.
	LockChain(ctx context.Context) (ChainLink, error)
	// AppendChain adds r after the head and moves the head to it. r.Seq must
	// be head.Seq+1 and r.PrevHash the head's hash, else ErrConflict.
	AppendChain(ctx context.Context, r *ChainRecord) error
	// RecordArchived writes a batch of new entries (archived.go).
	RecordArchived(ctx context.Context, batch []*Archived) error
	// ChainHead returns the head without locking it.
	ChainHead(ctx context.Context) (ChainLink, error)
	// ChainRecords returns up to limit records with Seq > after, in order,
	// each with its message and archive entry.
	ChainRecords(ctx context.Context, after int64, limit int) ([]*ChainedMessage, error)
	// UnchainedMessages lists messages that no chain entry record names.
	UnchainedMessages(ctx context.Context, limit int) ([]string, error)

	// InsertArchiveEntry records a message's archive bookkeeping;
	// ErrConflict when the partner already used the idempotency key.
	InsertArchiveEntry(ctx context.Context, e *ArchiveEntry) error
	GetArchiveEntry(ctx context.Context, messageID string) (*ArchiveEntry, error)
	// GetMessageEntry returns the message, its archive entry (nil when it
	// has none) and the bytes of its blob when the index keeps it (nil
	// otherwise), in one query.
	GetMessageEntry(ctx context.Context, id string) (*Message, *ArchiveEntry, []byte, error)
	ArchiveEntryByKey(ctx context.Context, partnerID, idemKey string) (*ArchiveEntry, error)
	// ArchivedKeys returns which of keys (idempotency keys) the partner has
	// an archived message with, a statement for up to 64 keys.
	ArchivedKeys(ctx context.Context, partnerID string, keys []string) (map[string]bool, error)
	// FirstWithContents returns, for each pair of a partner ID and a
	// sha256, the earliest message of the partner with that content ("" for
	// none), in one statement for up to 64 pairs (the archive's group
	// commit looks up every file of a batch at once).
	FirstWithContents(ctx context.Context, contents [][2]string) ([]string, error)
	// SetBlobRef records where a message's blob now lives.
	SetBlobRef(ctx context.Context, messageID, ref string) error
	// MarkPurged makes the entry a tombstone; ErrNotFound when it is missing
	// or already purged.
	MarkPurged(ctx context.Context, messageID string, at time.Time) error
	// CountBlobRefs counts unpurged messages whose blob ref is ref, a
	// content-addressed one (ending with the content's sha256).
	CountBlobRefs(ctx context.Context, ref string) (int, error)
	// MessagesWithBlobPrefix lists unpurged messages whose blob ref starts
	// with prefix, oldest first; an index holds those of spools (spool:...).
	MessagesWithBlobPrefix(ctx context.Context, prefix string, limit int) ([]*Message, error)
	// PurgeCandidates lists unpurged messages received before f.Before, of
	// one partner or ("") all, oldest first, after the cursor f.After/AfterID.
	PurgeCandidates(ctx context.Context, f PurgeFilter) ([]*Message, error)

	// KeepBlob records (or moves the date of) a blob that a purge could not
	// delete before until, because the blob store holds it under retention.
	KeepBlob(ctx context.Context, k KeptBlob) error
	// KeptBlobsDue lists kept blobs whose date is at or before now, oldest first.
	KeptBlobsDue(ctx context.Context, now time.Time, limit int) ([]KeptBlob, error)
	// ForgetKeptBlob removes the record of a kept blob (deleted, or in use again).
	ForgetKeptBlob(ctx context.Context, ref string) error

	// ArchiveBlob returns the bytes of a blob the index keeps (a small blob
	// of a folder archive, written by RecordArchived); ErrNotFound when
	// there is none under key.
	ArchiveBlob(ctx context.Context, key string) ([]byte, error)
	// PutArchiveBlob keeps a blob's bytes in the index under key (nothing
	// when a blob is there already: keys name content).
	PutArchiveBlob(ctx context.Context, key string, b []byte) error
	// ArchiveBlobSize returns the size of a blob the index keeps;
	// ErrNotFound when there is none under key.
	ArchiveBlobSize(ctx context.Context, key string) (int64, error)
	// DeleteArchiveBlob deletes a blob the index keeps; none under key is
	// not an error.
	DeleteArchiveBlob(ctx context.Context, key string) error
}

// KeptBlob is a blob a purge left in place until a retention date.
type KeptBlob struct {
	BlobRef   string    `json:"blob_ref"`
	MessageID string    `json:"message_id"`
	Until     time.Time `json:"until"`
}

// ChainedMessage is a chain record with the message it names (for verify).
type ChainedMessage struct {
	ChainRecord
	Message *Message
	Entry   *ArchiveEntry // nil when the message has no archive entry
}

func (s *queries) LockChain(ctx context.Context) (ChainLink, error) {
	var l ChainLink
	// An UPDATE takes the row lock on PostgreSQL; SQLite transactions are
	// already exclusive (BEGIN IMMEDIATE).
	err := s.q.queryRow(ctx, `UPDATE archive_head SET seq = seq WHERE id = 1 RETURNING seq, hash`).Scan(&l.Seq, &l.Hash)
	if err != nil {
		return l, s.err("lock archive chain", err)
	}
	return l, nil
}

func (s *queries) AppendChain(ctx context.Context, r *ChainRecord) error {
	if r.Kind != ChainEntry && r.Kind != ChainTombstone {
		return fmt.Errorf("store: append chain: %w: kind %q", ErrInvalid, r.Kind)
	}
	if r.Hash == "" || r.PrevHash == "" || r.Seq < 1 {
		return fmt.Errorf("store: append chain: %w: seq, prev hash and hash are required", ErrInvalid)
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	return s.atomic(ctx, func(q *queries) error {
		n, err := q.q.exec(ctx, `UPDATE archive_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4`,
			r.Seq, r.Hash, r.Seq-1, r.PrevHash)
		if err != nil {
			return q.err("append chain", err)
		}
		if n != 1 {
			return fmt.Errorf("store: append chain: %w: record %d does not follow the chain head", ErrConflict, r.Seq)
		}
		_, err = q.q.exec(ctx, `INSERT INTO archive_chain (seq, kind, message_id, at, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.Seq, r.Kind, r.MessageID, r.At, r.Detail, r.PrevHash, r.Hash)
		return q.err("append chain", err)
	})
}

func (s *queries) ChainHead(ctx context.Context) (ChainLink, error) {
	var l ChainLink
	err := s.q.queryRow(ctx, `SELECT seq, hash FROM archive_head WHERE id = 1`).Scan(&l.Seq, &l.Hash)
	return l, s.err("archive chain head", err)
}

// entryJoinCols are a message's columns (m) and its archive entry's (e,
// of a LEFT JOIN), as scanMessageEntry reads them.
var entryJoinCols = `m.` + strings.ReplaceAll(messageCols, ", ", ", m.") + `, e.message_id, e.idem_key, e.duplicate_of, e.purged_at`

// scanMessageEntry reads entryJoinCols after the columns in head.
func scanMessageEntry(r rowScanner, head ...any) (*Message, *ArchiveEntry, error) {
	m := &Message{}
	var dir, docTypes string
	var eID, eKey, eDup *string
	var purged time.Time
	if err := r.Scan(append(head, &m.ID, &m.PartnerID, &dir, &m.Transport, &m.RemoteName, &m.Size, &m.SHA256, &m.BlobRef, &m.Status,
		&m.CorrelationID, &m.Format, &docTypes, &m.ParentID, timeCol{&m.ReceivedAt},
		&eID, &eKey, &eDup, timeCol{&purged})...); err != nil {
		return nil, nil, err
	}
	m.Direction = Direction(dir)
	if docTypes != "" {
		m.DocTypes = strings.Split(docTypes, ",")
	}
	var e *ArchiveEntry
	if eID != nil {
		e = &ArchiveEntry{MessageID: *eID, PartnerID: m.PartnerID, IdemKey: *eKey, DuplicateOf: *eDup, PurgedAt: purged}
	}
	return m, e, nil
}

func (s *queries) GetMessageEntry(ctx context.Context, id string) (*Message, *ArchiveEntry, []byte, error) {
	var blob []byte
	m, e, err := scanMessageEntry(s.q.queryRow(ctx, `SELECT b.bytes, `+entryJoinCols+` FROM messages m
		LEFT JOIN archive_entries e ON e.message_id = m.id
		LEFT JOIN archive_blobs b ON b.key = substr(m.blob_ref, 4) AND substr(m.blob_ref, 1, 3) = 'db:'
		WHERE m.id = $1`, id), &blob)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: message %s: %w", id, s.translate(err))
	}
	return m, e, blob, nil
}

func (s *queries) ChainRecords(ctx context.Context, after int64, limit int) ([]*ChainedMessage, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.q.query(ctx, `SELECT c.seq, c.kind, c.message_id, c.at, c.detail, c.prev_hash, c.hash, `+entryJoinCols+` FROM archive_chain c
		JOIN messages m ON m.id = c.message_id
		LEFT JOIN archive_entries e ON e.message_id = c.message_id
		WHERE c.seq > $1 ORDER BY c.seq LIMIT `+fmt.Sprint(limit), after)
	if err != nil {
		return nil, s.err("chain records", err)
	}
	defer rows.Close()
	var out []*ChainedMessage
	for rows.Next() {
		cm := &ChainedMessage{}
		m, e, err := scanMessageEntry(rows, &cm.Seq, &cm.Kind, &cm.MessageID, timeCol{&cm.At}, &cm.Detail, &cm.PrevHash, &cm.Hash)
		if err != nil {
			return nil, s.err("chain records", err)
		}
		cm.Message, cm.Entry = m, e
		out = append(out, cm)
	}
	return out, s.err("chain records", rows.Err())
}

func (s *queries) UnchainedMessages(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.q.query(ctx, `SELECT id FROM messages m WHERE NOT EXISTS
		(SELECT 1 FROM archive_chain c WHERE c.message_id = m.id AND c.kind = 'entry') ORDER BY id LIMIT `+fmt.Sprint(limit))
	if err != nil {
		return nil, s.err("unchained messages", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, s.err("unchained messages", err)
		}
		out = append(out, id)
	}
	return out, s.err("unchained messages", rows.Err())
}

// args are the entry's columns, in entryCols order.
func (e *ArchiveEntry) args() []any {
	var purged any
	if !e.PurgedAt.IsZero() {
		purged = e.PurgedAt.UTC().Truncate(time.Microsecond)
	}
	return []any{e.MessageID, e.PartnerID, e.IdemKey, e.DuplicateOf, purged}
}

func (s *queries) InsertArchiveEntry(ctx context.Context, e *ArchiveEntry) error {
	_, err := s.q.exec(ctx, `INSERT INTO archive_entries (message_id, partner_id, idem_key, duplicate_of, purged_at) VALUES ($1, $2, $3, $4, $5)`,
		e.args()...)
	return s.err("insert archive entry "+e.MessageID, err)
}

const entryCols = `message_id, partner_id, idem_key, duplicate_of, purged_at`

func scanEntry(r rowScanner) (*ArchiveEntry, error) {
	e := &ArchiveEntry{}
	if err := r.Scan(&e.MessageID, &e.PartnerID, &e.IdemKey, &e.DuplicateOf, timeCol{&e.PurgedAt}); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *queries) GetArchiveEntry(ctx context.Context, messageID string) (*ArchiveEntry, error) {
	e, err := scanEntry(s.q.queryRow(ctx, `SELECT `+entryCols+` FROM archive_entries WHERE message_id = $1`, messageID))
	if err != nil {
		return nil, fmt.Errorf("store: archive entry %s: %w", messageID, s.translate(err))
	}
	return e, nil
}

func (s *queries) ArchivedKeys(ctx context.Context, partnerID string, keys []string) (map[string]bool, error) {
	had := map[string]bool{}
	for len(keys) > 0 {
		n := chunk(len(keys))
		w := filter{conds: []string{"idem_key <> ''"}}
		w.add("partner_id = ?", partnerID)
		w.in("idem_key", keys[:n])
		rows, err := s.q.query(ctx, `SELECT idem_key FROM archive_entries`+w.where(), w.args...)
		if err != nil {
			return nil, s.err("archived keys of "+partnerID, err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, s.err("archived keys of "+partnerID, err)
			}
			had[k] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.err("archived keys of "+partnerID, err)
		}
		keys = keys[n:]
	}
	return had, nil
}

func (s *queries) ArchiveEntryByKey(ctx context.Context, partnerID, idemKey string) (*ArchiveEntry, error) {
	e, err := scanEntry(s.q.queryRow(ctx, `SELECT `+entryCols+` FROM archive_entries WHERE partner_id = $1 AND idem_key = $2 AND idem_key <> ''`, partnerID, idemKey))
	if err != nil {
		return nil, fmt.Errorf("store: archive entry %s/%s: %w", partnerID, idemKey, s.translate(err))
	}
	return e, nil
}

// The archive's lookups of messages by content, which messages_content
// serves (TestQueryPlans checks both databases' plans).
// (firstWithContentsSQL is the other.)
const countBlobRefsSQL = `SELECT count(*) FROM messages m JOIN archive_entries e ON e.message_id = m.id
	WHERE m.sha256 = $2 AND m.blob_ref = $1 AND e.purged_at IS NULL`

// contentsChunk is the most pairs FirstWithContents looks up in one
// statement; fewer are padded to a power of two (repeating the last), so
// that a handful of statement texts serve every batch size.
const contentsChunk = 64

// firstWithContentsSQL looks up n pairs: one row (i, id) per pair, id
// NULL when the partner has no message with that content.
func firstWithContentsSQL(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, `SELECT %d, (SELECT id FROM messages WHERE partner_id = $%d AND sha256 = $%d ORDER BY received_at, id LIMIT 1)`, i, 2*i+1, 2*i+2)
	}
	return b.String()
}

func (s *queries) FirstWithContents(ctx context.Context, contents [][2]string) ([]string, error) {
	out := make([]string, len(contents))
	for start := 0; start < len(contents); start += contentsChunk {
		chunk := contents[start:min(start+contentsChunk, len(contents))]
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, 0, 2*n)
		for i := range n {
			c := chunk[min(i, len(chunk)-1)]
			args = append(args, c[0], c[1])
		}
		rows, err := s.q.query(ctx, firstWithContentsSQL(n), args...)
		if err != nil {
			return nil, s.err("first with contents", err)
		}
		for rows.Next() {
			var i int
			var id *string
			if err := rows.Scan(&i, &id); err != nil {
				rows.Close()
				return nil, s.err("first with contents", err)
			}
			if i < len(chunk) && id != nil {
				out[start+i] = *id
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.err("first with contents", err)
		}
	}
	return out, nil
}

func (s *queries) SetBlobRef(ctx context.Context, messageID, ref string) error {
	n, err := s.q.exec(ctx, `UPDATE messages SET blob_ref = $1 WHERE id = $2`, ref, messageID)
	if err != nil {
		return s.err("set blob ref", err)
	}
	if n == 0 {
		return fmt.Errorf("store: message %s: %w", messageID, ErrNotFound)
	}
	return nil
}

func (s *queries) MarkPurged(ctx context.Context, messageID string, at time.Time) error {
	n, err := s.q.exec(ctx, `UPDATE archive_entries SET purged_at = $1 WHERE message_id = $2 AND purged_at IS NULL`,
		at.UTC().Truncate(time.Microsecond), messageID)
	if err != nil {
		return s.err("mark purged", err)
	}
	if n == 0 {
		return fmt.Errorf("store: archive entry %s: %w (missing or already purged)", messageID, ErrNotFound)
	}
	return nil
}

func (s *queries) ArchiveBlob(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	if err := s.q.queryRow(ctx, `SELECT bytes FROM archive_blobs WHERE key = $1`, key).Scan(&b); err != nil {
		return nil, fmt.Errorf("store: archive blob %s: %w", key, s.translate(err))
	}
	return b, nil
}

func (s *queries) PutArchiveBlob(ctx context.Context, key string, b []byte) error {
	return s.insertRows(ctx, "keep blob "+key, `INSERT INTO archive_blobs (key, bytes) VALUES `, " ON CONFLICT DO NOTHING", [][]any{{key, b}})
}

func (s *queries) ArchiveBlobSize(ctx context.Context, key string) (int64, error) {
	var n int64
	if err := s.q.queryRow(ctx, `SELECT length(bytes) FROM archive_blobs WHERE key = $1`, key).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: archive blob %s: %w", key, s.translate(err))
	}
	return n, nil
}

func (s *queries) DeleteArchiveBlob(ctx context.Context, key string) error {
	_, err := s.q.exec(ctx, `DELETE FROM archive_blobs WHERE key = $1`, key)
	return s.err("delete archive blob "+key, err)
}

func (s *queries) CountBlobRefs(ctx context.Context, ref string) (int, error) {
	var n int
	// A content-addressed ref ends with its content's hash, which
	// messages_content finds; messages have no index of their refs, so
	// another ref (none Wharf makes) is counted by a scan.
	q, args := `SELECT count(*) FROM messages m JOIN archive_entries e ON e.message_id = m.id
		WHERE m.blob_ref = $1 AND e.purged_at IS NULL`, []any{ref}
	if sum := ref[strings.LastIndexByte(ref, '/')+1:]; IsHexSHA256(sum) {
		q, args = countBlobRefsSQL, []any{ref, sum}
	}
	err := s.q.queryRow(ctx, q, args...).Scan(&n)
	return n, s.err("count blob refs", err)
}

// IsHexSHA256 tells whether s is a sha256 in lower-case hex, as content
// addresses and message rows hold it.
func IsHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *queries) MessagesWithBlobPrefix(ctx context.Context, prefix string, limit int) ([]*Message, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.messageList(ctx, "messages with blob prefix", blobPrefixSQL(prefix, limit), prefix+"%")
}

// blobPrefixSQL lists live messages whose blob ref starts with $1. For a
// spool's prefix, the literal spool:% term lets both databases use
// messages_spooled (the spool uploads' every-30-seconds look); any other
// prefix is a scan.
func blobPrefixSQL(prefix string, limit int) string {
	spooled := ""
	if strings.HasPrefix(prefix, "spool:") {
		spooled = `m.blob_ref LIKE 'spool:%' AND `
	}
	return `SELECT m.` + strings.ReplaceAll(messageCols, ", ", ", m.") + ` FROM messages m
		JOIN archive_entries e ON e.message_id = m.id
		WHERE ` + spooled + `m.blob_ref LIKE $1 AND e.purged_at IS NULL ORDER BY m.received_at, m.id LIMIT ` + fmt.Sprint(limit)
}

// PurgeFilter selects purge candidates.
type PurgeFilter struct {
	PartnerID string // "" for all partners
	Before    time.Time
	After     time.Time // cursor: the last candidate's ReceivedAt
	AfterID   string    // and ID
	Limit     int       // default 1000
}

func (s *queries) PurgeCandidates(ctx context.Context, f PurgeFilter) ([]*Message, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT m.` + strings.ReplaceAll(messageCols, ", ", ", m.") + ` FROM messages m JOIN archive_entries e ON e.message_id = m.id
		WHERE e.purged_at IS NULL AND m.received_at < $1`
	args := []any{f.Before.UTC()}
	if f.PartnerID != "" {
		args = append(args, f.PartnerID)
		q += fmt.Sprintf(` AND m.partner_id = $%d`, len(args))
	}
	if f.AfterID != "" {
		args = append(args, f.After.UTC(), f.AfterID)
		q += fmt.Sprintf(` AND (m.received_at > $%d OR (m.received_at = $%d AND m.id > $%d))`, len(args)-1, len(args)-1, len(args))
	}
	q += ` ORDER BY m.received_at, m.id LIMIT ` + fmt.Sprint(limit)
	return s.messageList(ctx, "purge candidates", q, args...)
}

func (s *queries) messageList(ctx context.Context, op, q string, args ...any) ([]*Message, error) {
	rows, err := s.q.query(ctx, q, args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []*Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, m)
	}
	return out, s.err(op, rows.Err())
}

func (s *queries) KeepBlob(ctx context.Context, k KeptBlob) error {
	_, err := s.q.exec(ctx, `INSERT INTO archive_kept_blobs (blob_ref, message_id, until_at) VALUES ($1, $2, $3)
		ON CONFLICT (blob_ref) DO UPDATE SET message_id = excluded.message_id, until_at = excluded.until_at`,
		k.BlobRef, k.MessageID, k.Until.UTC().Truncate(time.Microsecond))
	return s.err("keep blob", err)
}

func (s *queries) KeptBlobsDue(ctx context.Context, now time.Time, limit int) ([]KeptBlob, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.q.query(ctx, `SELECT blob_ref, message_id, until_at FROM archive_kept_blobs
		WHERE until_at <= $1 ORDER BY until_at, blob_ref LIMIT $2`, now.UTC().Truncate(time.Microsecond), limit)
	if err != nil {
		return nil, s.err("kept blobs due", err)
	}
	defer rows.Close()
	var out []KeptBlob
	for rows.Next() {
		var k KeptBlob
		if err := rows.Scan(&k.BlobRef, &k.MessageID, timeCol{&k.Until}); err != nil {
			return nil, s.err("kept blobs due", err)
		}
		out = append(out, k)
	}
	return out, s.err("kept blobs due", rows.Err())
}

func (s *queries) ForgetKeptBlob(ctx context.Context, ref string) error {
	_, err := s.q.exec(ctx, `DELETE FROM archive_kept_blobs WHERE blob_ref = $1`, ref)
	return s.err("forget kept blob", err)
}
