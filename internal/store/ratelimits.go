package store

import (
	"context"
	"time"
)

// RateLimitQueries keep the rate limits' state in the database, so that
// several instances share one limit (ratelimits.go). The shape is the
// ratelimit package's Backend.
type RateLimitQueries interface {
	// TakeRateLimit takes one GCRA decision for key in one statement: the
	// request is allowed when the key's theoretical arrival time (TAT) is
	// at most tolerance after now, and then the TAT moves to
	// max(TAT, now)+emission; refused, the TAT stays. It returns the
	// decision and the TAT after it. now is the caller's clock, not the
	// store's: the decision is the limiter's.
	TakeRateLimit(ctx context.Context, key string, now time.Time, emission, tolerance time.Duration) (bool, time.Time, error)
}

func (s *queries) TakeRateLimit(ctx context.Context, key string, now time.Time, emission, tolerance time.Duration) (bool, time.Time, error) {
	n := now.UnixNano()
	var allowed bool
	var tat int64
	// In ON CONFLICT DO UPDATE every SET expression reads the row as it
	// was, so allowed and tat are decided on the same old TAT.
	err := s.q.queryRow(ctx, `INSERT INTO rate_limits (limit_key, tat, allowed) VALUES ($1, $5, TRUE)
		ON CONFLICT (limit_key) DO UPDATE SET
			allowed = (rate_limits.tat - $2 <= $4),
			tat = CASE WHEN rate_limits.tat - $2 <= $4
				THEN (CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END) + $3
				ELSE rate_limits.tat END
		RETURNING allowed, tat`,
		key, n, int64(emission), int64(tolerance), n+int64(emission)).Scan(&allowed, &tat)
	if err != nil {
		return false, time.Time{}, s.err("rate limit", err)
	}
	return allowed, time.Unix(0, tat).UTC(), nil
}
