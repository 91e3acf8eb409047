package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/ratelimit"
	"github.com/wharfedi/wharf/internal/store"
)

// newLimits builds the rate limits of every door (config limits:): in
// the database on PostgreSQL, so that every instance shares one limit, in
// memory on SQLite (one instance). Decisions use the application's clock.
func newLimits(c *config.Config, st store.Store, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) *ratelimit.Doors {
	var backend ratelimit.Backend = ratelimit.NewMemory()
	if st.Driver() == "postgres" {
		backend = dbLimits{st}
	}
	return ratelimit.NewDoors(ratelimit.DoorsOptions{
		Limiter: ratelimit.New(backend, now),
		Limit: func(door, who string) ratelimit.Limit {
			r := c.Limits.API
			if door != ratelimit.DoorAPI {
				r = c.PartnerInbound(who)
			}
			return ratelimit.Limit{PerMinute: r.PerMinute, Burst: r.Burst}
		},
		Log: log, Now: now, Metrics: reg,
	})
}

// throttle is the check a transport asks at door for a partner: the wait
// in whole seconds and why, or 0 when the request may pass.
func throttle(d *ratelimit.Doors, door string) func(ctx context.Context, partner string) (int, string) {
	return func(ctx context.Context, partner string) (int, string) {
		if rf := d.Check(ctx, door, partner, partner); rf != nil {
			return rf.RetrySeconds(), rf.Error()
		}
		return 0, ""
	}
}

// dbLimits is the store's rate_limits table as a ratelimit.Backend.
type dbLimits struct{ st store.Store }

func (d dbLimits) Take(ctx context.Context, key string, now time.Time, emission, tolerance time.Duration) (bool, time.Time, error) {
	return d.st.TakeRateLimit(ctx, key, now, emission, tolerance)
}

var _ ratelimit.Backend = dbLimits{}
