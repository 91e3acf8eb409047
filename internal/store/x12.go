package store

import (
	"context"
	"errors"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecordInterchangeParams says which interchange a message carried, for
// Queries.RecordInterchange.
type RecordInterchangeParams struct {
	// SenderQual is the sender's interchange ID qualifier (ISA05); callers
	// may scope it further (process prefixes the partner ID).
	SenderQual string
	// SenderID is the sender's interchange ID (ISA06).
	SenderID string
	// Control is the interchange control number (ISA13).
	Control string
	// MessageID is the message that carried the interchange.
	MessageID string
	// Within is the duplicate window: another message that carried the
	// same interchange less than this long ago is a duplicate.
	Within time.Duration
}

// RecordInterchange records that message p.MessageID carried interchange
// control number p.Control from the sender, and returns the id of another
// message that carried the same one within p.Within ("" when none).
// Recording the same message twice (a retried job) is not a duplicate.
//
// Of several transactions that record the same interchange at once (two
// instances sharing a database, say), exactly one sees no duplicate: the
// check and the insert run under a lock on the interchange, so the second
// waits for the first to commit and then sees its row. A unique key cannot
// do this, because a control number may come back after the window (a
// counter that wraps) and both rows are kept. On PostgreSQL the lock is a
// transaction-scoped advisory lock on the interchange; on SQLite every
// write transaction begins IMMEDIATE, holding the database's write lock,
// so the check and the insert are serialised already.
func (s *queries) RecordInterchange(ctx context.Context, p *RecordInterchangeParams) (string, error) {
	senderQual, senderID, control, messageID, within := p.SenderQual, p.SenderID, p.Control, p.MessageID, p.Within
	if pool, ok := poolBatcher(s.q); ok {
		return s.recordInterchangePG(ctx, pool, p)
	}
	if q, ok := s.q.(*pgTxQ); ok {
		if err := q.flush(ctx); err != nil {
			return "", s.err("record interchange", err)
		}
		return s.recordInterchangePG(q.ctx(ctx), q.conn, p)
	}
	var dup string
	err := s.atomic(ctx, func(q *queries) error {
		t := s.now()
		err := q.q.queryRow(ctx, interchangeSeenSQL,
			senderQual, senderID, control, messageID, t.Add(-within)).Scan(&dup)
		if err != nil && q.translate(err) != ErrNotFound {
			return q.err("record interchange", err)
		}
		_, err = q.q.exec(ctx, interchangeRecordSQL, senderQual, senderID, control, messageID, t)
		return q.err("record interchange", err)
	})
	return dup, err
}

// RecordInterchange's statements: another message's earlier record of the
// interchange within the window, and this message's.
const (
	// Only a record earlier than this message's own counts: a message
	// whose processing recorded the interchange and then crashed before
	// its outcome is the original when it runs again, even though a
	// later copy (the sender's retry, told it repeats this one) was
	// recorded meanwhile; otherwise both would be rejected.
	interchangeSeenSQL = `SELECT message_id FROM x12_interchanges o WHERE sender_qual = $1 AND sender_id = $2 AND control = $3
		AND message_id <> $4 AND seen_at >= $5
		AND NOT EXISTS (SELECT 1 FROM x12_interchanges mine WHERE mine.sender_qual = $1 AND mine.sender_id = $2 AND mine.control = $3
			AND mine.message_id = $4 AND (mine.seen_at < o.seen_at OR mine.seen_at = o.seen_at AND mine.message_id < o.message_id))
		ORDER BY seen_at LIMIT 1`
	interchangeRecordSQL = `INSERT INTO x12_interchanges (sender_qual, sender_id, control, message_id, seen_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`
)

// interchangeRecordPG is interchangeRecordSQL with a time after every
// earlier record of the interchange: the batch reads the clock before it
// waits for the lock, so a later holder's clock may be behind an earlier
// one's, and the first record must stay the earliest (the check names the
// earliest as the original).
const interchangeRecordPG = `INSERT INTO x12_interchanges (sender_qual, sender_id, control, message_id, seen_at)
	SELECT $1, $2, $3, $4, GREATEST($5::timestamptz, (SELECT max(seen_at) + interval '1 microsecond' FROM x12_interchanges
		WHERE sender_qual = $1 AND sender_id = $2 AND control = $3))
	ON CONFLICT DO NOTHING`

// batchSender sends statements in one round trip: a PostgreSQL pool (the
// batch is one implicit transaction) or transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// recordInterchangePG is RecordInterchange on PostgreSQL: the lock, the
// check and the insert in one round trip instead of five (BEGIN, three
// statements, COMMIT; processing records an interchange for every file).
// A batch runs as one transaction (implicit on the pool, or the caller's),
// so the advisory lock is held to its end; in READ COMMITTED each of its
// statements takes its snapshot when it starts, so the SELECT, which
// starts once the lock is granted, sees the previous holder's row.
func (s *queries) recordInterchangePG(ctx context.Context, sb batchSender, p *RecordInterchangeParams) (string, error) {
	t := s.now()
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, interchangeLockClass, interchangeLockKey(p.SenderQual, p.SenderID, p.Control))
	b.Queue(interchangeSeenSQL, p.SenderQual, p.SenderID, p.Control, p.MessageID, t.Add(-p.Within))
	b.Queue(interchangeRecordPG, p.SenderQual, p.SenderID, p.Control, p.MessageID, t)
	br := sb.SendBatch(ctx, b)
	var dup string
	_, err := br.Exec()
	if err == nil {
		if err = br.QueryRow().Scan(&dup); errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr // the implicit transaction's commit
	}
	if err != nil {
		return "", s.err("record interchange", err)
	}
	return dup, nil
}

// interchangeLockClass is the first key of RecordInterchange's advisory
// locks (the two-key form, apart from the migrations' one-key lock):
// "X12I".
const interchangeLockClass int32 = 0x58313249

// interchangeLockKey is the second key of the advisory lock on one
// interchange. Two interchanges whose keys collide only wait for each other.
func interchangeLockKey(senderQual, senderID, control string) int32 {
	h := fnv.New32a()
	for _, s := range []string{senderQual, senderID, control} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return int32(h.Sum32())
}
