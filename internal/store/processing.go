package store

import (
	"context"
	"slices"
)

// The processing queue (migration 0022). A message whose processing is due
// carries processing = '' from the transaction that archived it; an
// instance claims a batch of them at once (processing = its instance ID)
// and the stage's last transaction clears the column (NULL), so the claim
// ends exactly when the outcome commits. A claim belongs to a live
// instance: the survivor that fails a silent instance over returns its
// claims (ReleaseProcessing), as does a single SQLite server at start.

// ProcessingQueries are the processing queue's operations, part of [Queries].
type ProcessingQueries interface {
	// QueueProcessing makes the message's processing due: call it in the
	// transaction that inserts the message.
	QueueProcessing(ctx context.Context, id string) error
	// ClaimProcessing claims up to limit due messages nobody holds for
	// owner, oldest first, and returns their IDs in that order. Claimers on
	// several instances never get the same message.
	ClaimProcessing(ctx context.Context, owner string, limit int) ([]string, error)
	// ProcessingDone ends the message's claim: its processing is no longer
	// due. Call it in the transaction that records the outcome.
	ProcessingDone(ctx context.Context, id string) error
	// ReleaseProcessing returns owner's claims to the queue (every claim
	// when owner is "") and reports how many.
	ReleaseProcessing(ctx context.Context, owner string) (int64, error)
	// ProcessingDue reports how many messages' processing is due, claimed
	// or not.
	ProcessingDue(ctx context.Context) (int64, error)
}

func (s *queries) QueueProcessing(ctx context.Context, id string) error {
	n, err := s.q.exec(ctx, `UPDATE messages SET processing = '' WHERE id = $1 AND processing IS NULL`, id)
	if err == nil && n == 0 {
		var due bool // already queued is fine; a message that does not exist is not
		err = s.q.queryRow(ctx, `SELECT processing IS NOT NULL FROM messages WHERE id = $1`, id).Scan(&due)
	}
	return s.err("queue processing of message "+id, err)
}

func (s *queries) ClaimProcessing(ctx context.Context, owner string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Nothing due: no write (on SQLite an idle claimer would otherwise take
	// the one writer at every poll). The partial index makes both cheap.
	var due bool
	if err := s.q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE processing = '')`).Scan(&due); err != nil || !due {
		return nil, s.err("claim messages to process", err)
	}
	skip := ""
	if s.forUpdate != "" { // PostgreSQL: claimers pass over each other's rows
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var ids []string
	err := s.atomic(ctx, func(q *queries) error {
		rows, err := q.q.query(ctx, `UPDATE messages SET processing = $1 WHERE id IN
			(SELECT id FROM messages WHERE processing = '' ORDER BY received_at, id LIMIT $2`+skip+`) RETURNING id`, owner, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.err("claim messages to process", err)
	}
	slices.Sort(ids) // UUIDv7: the order of arrival
	return ids, nil
}

func (s *queries) ProcessingDone(ctx context.Context, id string) error {
	_, err := s.q.exec(ctx, `UPDATE messages SET processing = NULL WHERE id = $1 AND processing IS NOT NULL`, id)
	return s.err("end the processing claim of message "+id, err)
}

func (s *queries) ReleaseProcessing(ctx context.Context, owner string) (int64, error) {
	var n int64
	var err error
	if owner == "" {
		n, err = s.q.exec(ctx, `UPDATE messages SET processing = '' WHERE processing IS NOT NULL AND processing <> ''`)
	} else {
		n, err = s.q.exec(ctx, `UPDATE messages SET processing = '' WHERE processing = $1`, owner)
	}
	return n, s.err("return processing claims", err)
}

func (s *queries) ProcessingDue(ctx context.Context) (int64, error) {
	var n int64
	err := s.q.queryRow(ctx, `SELECT count(*) FROM messages WHERE processing IS NOT NULL`).Scan(&n)
	return n, s.err("count messages due for processing", err)
}
