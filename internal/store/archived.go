package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Archived is one entry of a group commit of the archive: a new message
// with its bookkeeping, keys, first events and hash chain record.
type Archived struct {
	Message *Message
	Entry   *ArchiveEntry
	Keys    []Key
	Events  []*Event // their IDs are not filled in
	Chain   *ChainRecord
	// Blob, when not nil, is the message's content, kept in the index
	// under BlobKey (archive_blobs) instead of in a blob store; messages
	// with the same content share it.
	BlobKey string
	Blob    []byte
}

// RecordArchived writes a batch of archived entries with a few multi-row
// statements per table instead of a handful per entry: the messages (with
// their message.received outbox events), archive entries, keys, events and
// chain records, and moves the chain head from the first record's
// predecessor to the last record. Call it with the chain locked
// (LockChain); the records must follow each other from the head
// (ErrConflict otherwise). ErrConflict, too, when an idempotency key is
// used already: the whole batch fails, as one of its statements did.
func (s *queries) RecordArchived(ctx context.Context, batch []*Archived) error {
	if len(batch) == 0 {
		return nil
	}
	var msgs, entries, keys, events, chain, outbox, blobs [][]any
	blobKeys := map[string]bool{}
	for i, a := range batch {
		if a.Blob != nil && !blobKeys[a.BlobKey] {
			if a.BlobKey == "" {
				return fmt.Errorf("store: record archived: %w: message %s has a blob without a key", ErrInvalid, a.Message.ID)
			}
			blobKeys[a.BlobKey] = true
			blobs = append(blobs, []any{a.BlobKey, a.Blob})
		}
		m := a.Message
		if err := s.newMessage(m); err != nil {
			return err
		}
		msgs = append(msgs, []any{m.ID, m.PartnerID, string(m.Direction), m.Transport, m.RemoteName, m.Size, m.SHA256, m.BlobRef, m.Status,
			m.CorrelationID, m.Format, strings.Join(m.DocTypes, ","), m.ParentID, m.ReceivedAt})
		if m.Status != "" { // as InsertMessage: its first event
			e, err := newMessageEvent(m, string(m.Status), nil)
			if err != nil {
				return err
			}
			if e != nil {
				outbox = append(outbox, []any{NewID(), s.now().UTC().Truncate(time.Microsecond), e.Type, e.ObjectKind, e.ObjectKey, e.Subject,
					e.PartnerID, e.MessageID, e.CorrelationID, string(e.Data)})
			}
		}
		if e := a.Entry; e != nil {
			entries = append(entries, e.args())
		}
		if err := checkKeys(m.ID, a.Keys); err != nil {
			return err
		}
		for _, k := range a.Keys {
			keys = append(keys, []any{m.ID, k.Kind, k.Value})
		}
		for _, e := range a.Events {
			if err := s.newEvent(e); err != nil {
				return err
			}
			events = append(events, []any{e.MessageID, e.At, e.Kind, e.Detail})
		}
		if r := a.Chain; r != nil {
			if r.Kind != ChainEntry && r.Kind != ChainTombstone || r.Hash == "" || r.PrevHash == "" || r.Seq < 1 {
				return fmt.Errorf("store: record archived: %w: chain record %d incomplete", ErrInvalid, r.Seq)
			}
			if i > 0 && len(chain) > 0 {
				if prev := batch[i-1].Chain; prev == nil || r.Seq != prev.Seq+1 || r.PrevHash != prev.Hash {
					return fmt.Errorf("store: record archived: %w: chain record %d does not follow the one before it", ErrConflict, r.Seq)
				}
			}
			r.At = r.At.UTC().Truncate(time.Microsecond)
			chain = append(chain, []any{r.Seq, r.Kind, r.MessageID, r.At, r.Detail, r.PrevHash, r.Hash})
		}
	}
	of := fmt.Sprintf(" (%d messages)", len(batch))
	if len(batch) == 1 { // a failed batch's fallback: name the message
		of = " of message " + batch[0].Message.ID
	}
	return s.atomic(ctx, func(q *queries) error {
		if err := q.insertRows(ctx, "insert messages"+of, `INSERT INTO messages (id, partner_id, direction, transport, remote_name, size, sha256, blob_ref, status,
		correlation_id, format, doc_types, parent_id, received_at) VALUES `, "", msgs); err != nil {
			return err
		}
		if err := q.insertRows(ctx, "keep blobs"+of, `INSERT INTO archive_blobs (key, bytes) VALUES `, " ON CONFLICT DO NOTHING", blobs); err != nil {
			return err
		}
		if err := q.insertRows(ctx, "append outbox events"+of, insertOutboxHead, "", outbox); err != nil {
			return err
		}
		if err := q.insertRows(ctx, "insert archive entries"+of, `INSERT INTO archive_entries (message_id, partner_id, idem_key, duplicate_of, purged_at) VALUES `, "", entries); err != nil {
			return err
		}
		if err := q.insertRows(ctx, "add message keys"+of, insertKeysHead, onConflictNothing, keys); err != nil {
			return err
		}
		if err := q.insertRows(ctx, "append message events"+of, `INSERT INTO message_events (message_id, at, kind, detail) VALUES `, "", events); err != nil {
			return err
		}
		if len(chain) == 0 {
			return nil
		}
		first, last := chain[0], chain[len(chain)-1]
		n, err := q.q.exec(ctx, `UPDATE archive_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4`,
			last[0], last[6], first[0].(int64)-1, first[5])
		if err != nil {
			return q.err("append chain"+of, err)
		}
		if n != 1 {
			return fmt.Errorf("store: append chain: %w: record %d does not follow the chain head", ErrConflict, first[0])
		}
		return q.insertRows(ctx, "append chain"+of, `INSERT INTO archive_chain (seq, kind, message_id, at, detail, prev_hash, hash) VALUES `, "", chain)
	})
}

// insertRows inserts rows with multi-row INSERTs: head is the statement up
// to VALUES, tail what follows the rows.
func (s *queries) insertRows(ctx context.Context, op, head, tail string, rows [][]any) error {
	for len(rows) > 0 {
		q, args, n := rowsSQL(head, tail, rows)
		if _, err := s.q.exec(ctx, q, args...); err != nil {
			return s.err(op, err)
		}
		rows = rows[n:]
	}
	return nil
}

// exactRows is the most rows (or values) one statement takes in their
// exact number.
const exactRows = 16

// chunk is how many of n rows or values one statement takes: all of them
// up to exactRows, else the largest power of two up to 64 that is not
// more, so that a few statement texts per table stay prepared.
func chunk(n int) int {
	if n <= exactRows {
		return n
	}
	c := 64
	for c > n {
		c /= 2
	}
	return c
}

// rowsSQL is the INSERT of the first n of rows (n: chunk; head is the
// statement up to VALUES, tail what follows the rows) and its arguments.
func rowsSQL(head, tail string, rows [][]any) (string, []any, int) {
	n := chunk(len(rows))
	cols := len(rows[0])
	var b strings.Builder
	b.Grow(len(head) + len(tail) + n*cols*5)
	b.WriteString(head)
	args := make([]any, 0, n*cols)
	for i, r := range rows[:n] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, v := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			args = append(args, v)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(len(args)))
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String(), args, n
}
