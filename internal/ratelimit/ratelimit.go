// Package ratelimit owns Wharf's rate limits: one decision (GCRA, the
// generic cell rate algorithm) over a small Backend that keeps one
// theoretical arrival time per key, in memory for a single instance or in
// the store's database so that several instances share one limit.
//
// A limit of N per minute with a burst of B lets B requests through at
// once, then one every minute/N. The caller's clock decides: Limiter never
// reads the wall clock, so tests pass fixed times.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limit is a sustained rate with a burst. A zero Limit (PerMinute 0) is no
// limit at all.
type Limit struct {
	PerMinute int // requests (or files) per minute
	Burst     int // how many may come at once; at least 1
}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.PerMinute <= 0 }

// String is "N per minute, burst B".
func (l Limit) String() string {
	return fmt.Sprintf("%d per minute, burst %d", l.PerMinute, l.Burst)
}

// emission is the time one request costs; tolerance how far ahead of now
// the theoretical arrival time may run (burst-1 emissions).
func (l Limit) emission() time.Duration { return time.Minute / time.Duration(l.PerMinute) }
func (l Limit) tolerance() time.Duration {
	b := l.Burst
	if b < 1 {
		b = 1
	}
	return time.Duration(b-1) * l.emission()
}

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// RetryAfter is how long a refused caller should wait before the next
	// request can pass (zero when allowed).
	RetryAfter time.Duration
}

// RetrySeconds is RetryAfter rounded up to whole seconds, at least 1: the
// value of a Retry-After header.
func (d Decision) RetrySeconds() int {
	s := int(math.Ceil(d.RetryAfter.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Backend keeps the theoretical arrival time (TAT) per key and takes one
// GCRA decision atomically: with tat' = max(tat, now), the request is
// allowed if tat'-now <= tolerance, and then tat becomes tat'+emission;
// refused, tat is unchanged and returned. A Backend is safe for
// concurrent use; a shared one (the database) makes the decision in one
// statement so that instances never over-admit.
type Backend interface {
	Take(ctx context.Context, key string, now time.Time, emission, tolerance time.Duration) (allowed bool, tat time.Time, err error)
}

// Limiter takes decisions against a Backend with the caller's clock.
type Limiter struct {
	backend Backend
	now     func() time.Time
}

// New returns a Limiter over backend; now is the application's clock.
func New(backend Backend, now func() time.Time) *Limiter {
	if backend == nil || now == nil {
		panic("ratelimit: New needs a backend and a clock")
	}
	return &Limiter{backend: backend, now: now}
}

// ErrBackend wraps a backend failure; callers let the request through
// (a broken limiter must not stop business) and log it.
var ErrBackend = errors.New("ratelimit: backend")

// Allow decides one request under key. An Off limit always allows.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if l == nil || lim.Off() {
		return Decision{Allowed: true}, nil
	}
	now := l.now()
	ok, tat, err := l.backend.Take(ctx, key, now, lim.emission(), lim.tolerance())
	if err != nil {
		return Decision{Allowed: true}, fmt.Errorf("%w: %v", ErrBackend, err)
	}
	if ok {
		return Decision{Allowed: true}, nil
	}
	wait := tat.Sub(now) - lim.tolerance()
	if wait < 0 {
		wait = 0
	}
	return Decision{RetryAfter: wait}, nil
}

// Memory is the in-process Backend: one instance (SQLite deployments).
type Memory struct {
	mu  sync.Mutex
	tat map[string]time.Time // per key (door and token or partner: a bounded set), its theoretical arrival time
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{tat: map[string]time.Time{}} }

// Take implements Backend.
func (m *Memory) Take(_ context.Context, key string, now time.Time, emission, tolerance time.Duration) (bool, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now // an idle key starts afresh
	}
	if tat.Sub(now) > tolerance {
		return false, tat, nil
	}
	m.tat[key] = tat.Add(emission)
	return true, tat.Add(emission), nil
}

var _ Backend = (*Memory)(nil)
