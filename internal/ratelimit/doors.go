package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Doors names where requests come in.
const (
	DoorAPI  = "api"  // the REST API, per token
	DoorHTTP = "http" // the HTTP inbound, per partner
	DoorAS2  = "as2"  // AS2 messages, per partner
	DoorSFTP = "sftp" // SFTP uploads (files), per partner
)

// Doors applies the limits at every door: it takes the decision, counts a
// refusal in wharf_throttled_total{door,partner} and logs it once per
// window (a minute) per door and caller, so that a flood does not flood
// the log too.
type Doors struct {
	lim    *Limiter
	limit  func(door, who string) Limit
	log    *slog.Logger
	now    func() time.Time
	count  *prometheus.CounterVec
	mu     sync.Mutex
	logged map[string]time.Time // door+who → when the last refusal was logged
}

// DoorsOptions configure NewDoors.
type DoorsOptions struct {
	Limiter *Limiter
	// Limit returns the limit of who at door (a token's actor for the API,
	// a partner ID at the inbound doors).
	Limit func(door, who string) Limit
	Log   *slog.Logger
	// Now is the application's clock (the log window).
	Now func() time.Time
	// Metrics, when set, receives wharf_throttled_total.
	Metrics prometheus.Registerer
}

// NewDoors returns the doors' limiter.
func NewDoors(o DoorsOptions) *Doors {
	d := &Doors{lim: o.Limiter, limit: o.Limit, log: o.Log, now: o.Now, logged: map[string]time.Time{},
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_throttled_total",
			Help: "Requests refused over a rate limit, per door (api, http, as2, sftp) and partner (empty for operator tokens).",
		}, []string{"door", "partner"})}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics != nil {
		o.Metrics.MustRegister(d.count)
	}
	return d
}

// Refusal is a request refused over its limit: Error is what the caller
// reads ("rate limit of partner acme at sftp: 60 files per minute (burst
// 10); retry in 1 s"; at the API the token instead of the partner).
type Refusal struct {
	Door, Who  string
	Limit      Limit
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	unit := "requests"
	if r.Door == DoorSFTP {
		unit = "files"
	}
	who := r.Who
	if r.Door != DoorAPI {
		who = "partner " + who
	}
	return fmt.Sprintf("rate limit of %s at %s: %d %s per minute (burst %d); retry in %d s",
		who, r.Door, r.Limit.PerMinute, unit, r.Limit.Burst, r.RetrySeconds())
}

// RetrySeconds is the Retry-After value, at least 1.
func (r *Refusal) RetrySeconds() int { return Decision{RetryAfter: r.RetryAfter}.RetrySeconds() }

// Check decides one request of who at door; partner labels the metric.
// It returns nil when the request may pass, a *Refusal when not. A
// backend failure lets the request pass and is logged: the limits protect
// Wharf, they must not stop business when the database hiccups.
func (d *Doors) Check(ctx context.Context, door, who, partner string) *Refusal {
	if d == nil {
		return nil
	}
	key := door + ":" + who
	lim := d.limit(door, who)
	dec, err := d.lim.Allow(ctx, key, lim)
	if err != nil {
		d.log.Warn("rate limit not checked", "door", door, "who", who, "err", err)
		return nil
	}
	if dec.Allowed {
		return nil
	}
	d.count.WithLabelValues(door, partner).Inc()
	r := &Refusal{Door: door, Who: who, Limit: lim, RetryAfter: dec.RetryAfter}
	now := d.now()
	d.mu.Lock()
	last, seen := d.logged[key]
	first := !seen || now.Sub(last) >= time.Minute
	if first {
		d.logged[key] = now
	}
	d.mu.Unlock()
	if first {
		d.log.Warn("throttled", "door", door, "who", who, "partner", partner, "limit", lim.String(), "retry_after_s", r.RetrySeconds())
	}
	return r
}

// Count is the wharf_throttled_total counter of door and partner.
func (d *Doors) Count(door, partner string) prometheus.Counter {
	return d.count.WithLabelValues(door, partner)
}
