package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The processing queue (migration 0022). A message whose processing is due
// has a row in processing_queue from the transaction that archived it; an
// instance claims a batch of them at once (owner = its instance ID) and
// the stage's last transaction deletes the row, so the claim ends exactly
// when the outcome commits. A claim belongs to a live instance: only an
// instance with a row in instances (store.BeatInstance) claims; the
// survivor that fails a silent instance over returns its claims
// (ReleaseProcessing), any instance's heartbeat returns claims whose owner
// has no row (ReleaseOrphanedProcessing), and a single SQLite server
// returns every claim at start.

// ProcessingQueries are the processing queue's operations, part of [Queries].
type ProcessingQueries interface {
	// QueueProcessing makes the message's processing due: call it in the
	// transaction that inserts the message.
	QueueProcessing(ctx context.Context, id string) error
	// ClaimProcessing claims up to limit due messages nobody holds for
	// owner, oldest first, and returns them in that order; nothing while
	// owner has no row in instances. Claimers on several instances never
	// get the same message.
	ClaimProcessing(ctx context.Context, owner string, limit int) ([]ProcessingClaim, error)
	// ProcessingDone ends owner's claim of the message: its processing is
	// no longer due. Call it in the transaction that records the outcome.
	// ErrConflict when owner does not hold the claim (its instance was
	// failed over meanwhile and another one took the message): roll back.
	ProcessingDone(ctx context.Context, id, owner string) error
	// ProcessingOwner returns who holds the message's claim ("" for none,
	// ErrNotFound when its processing is not due).
	ProcessingOwner(ctx context.Context, id string) (string, error)
	// ReleaseProcessing returns owner's claims to the queue (every claim
	// when owner is "") and reports how many.
	ReleaseProcessing(ctx context.Context, owner string) (int64, error)
	// ReleaseOrphanedProcessing returns the claims whose owner has no row
	// in instances (an instance that crashed before its first heartbeat
	// was recorded, or whose row went while it held claims).
	ReleaseOrphanedProcessing(ctx context.Context) (int64, error)
	// ProcessingDue reports how many messages' processing is due, claimed
	// or not.
	ProcessingDue(ctx context.Context) (int64, error)
}

// A ProcessingClaim is a message whose processing an instance claimed.
type ProcessingClaim struct {
	MessageID string
	// First: the message's claim was never returned to the queue (by
	// ReleaseProcessing or ReleaseOrphanedProcessing: an instance that
	// stopped, crashed or was failed over while it held it), so this is
	// its first processing.
	First bool
}

func (s *queries) QueueProcessing(ctx context.Context, id string) error {
	// In a PostgreSQL transaction (the archive's group commit queues each
	// message it records) the insert goes with the next statement; a
	// message that does not exist then fails the transaction, named.
	op := "queue processing of message " + id
	err := s.execLater(ctx, op, `INSERT INTO processing_queue (message_id) VALUES ($1) ON CONFLICT DO NOTHING`, id)
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "foreign key") {
		return s.err(op, fmt.Errorf("%w: no message %s", ErrNotFound, id))
	}
	return err
}

func (s *queries) ClaimProcessing(ctx context.Context, owner string, limit int) ([]ProcessingClaim, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Nothing due: no write (on SQLite an idle claimer would otherwise take
	// the one writer at every poll). The index on owner makes both cheap.
	var due bool
	if err := s.q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM processing_queue WHERE owner = '')`).Scan(&due); err != nil || !due {
		return nil, s.err("claim messages to process", err)
	}
	skip := ""
	if s.forUpdate != "" { // PostgreSQL: claimers pass over each other's rows
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var claims []ProcessingClaim
	err := s.single(ctx, func(q *queries) error {
		rows, err := q.q.query(ctx, `UPDATE processing_queue SET owner = $1 WHERE message_id IN
			(SELECT message_id FROM processing_queue WHERE owner = '' ORDER BY message_id LIMIT $2`+skip+`)
			AND EXISTS (SELECT 1 FROM instances WHERE id = $1) RETURNING message_id, released`, owner, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c ProcessingClaim
			var released bool
			if err := rows.Scan(&c.MessageID, &released); err != nil {
				return err
			}
			c.First = !released
			claims = append(claims, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.err("claim messages to process", err)
	}
	// UUIDv7: the order of arrival
	slices.SortFunc(claims, func(a, b ProcessingClaim) int { return strings.Compare(a.MessageID, b.MessageID) })
	return claims, nil
}

func (s *queries) ProcessingDone(ctx context.Context, id, owner string) error {
	n, err := s.q.exec(ctx, `DELETE FROM processing_queue WHERE message_id = $1 AND owner = $2`, id, owner)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: %s does not hold the claim (failed over meanwhile?)", ErrConflict, owner)
	}
	return s.err("end the processing claim of message "+id, err)
}

func (s *queries) ProcessingOwner(ctx context.Context, id string) (string, error) {
	var owner string
	err := s.q.queryRow(ctx, `SELECT owner FROM processing_queue WHERE message_id = $1`, id).Scan(&owner)
	return owner, s.err("processing claim of message "+id, err)
}

func (s *queries) ReleaseProcessing(ctx context.Context, owner string) (int64, error) {
	var n int64
	var err error
	if owner == "" {
		n, err = s.q.exec(ctx, `UPDATE processing_queue SET owner = '', released = TRUE WHERE owner <> ''`)
	} else {
		n, err = s.q.exec(ctx, `UPDATE processing_queue SET owner = '', released = TRUE WHERE owner = $1`, owner)
	}
	return n, s.err("return processing claims", err)
}

func (s *queries) ReleaseOrphanedProcessing(ctx context.Context) (int64, error) {
	n, err := s.q.exec(ctx, `UPDATE processing_queue SET owner = '', released = TRUE WHERE owner <> ''
		AND NOT EXISTS (SELECT 1 FROM instances WHERE id = processing_queue.owner)`)
	return n, s.err("return orphaned processing claims", err)
}

func (s *queries) ProcessingDue(ctx context.Context) (int64, error) {
	var n int64
	err := s.q.queryRow(ctx, `SELECT count(*) FROM processing_queue`).Scan(&n)
	return n, s.err("count messages due for processing", err)
}
