package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/ratelimit"
)

// Exercise-like checks shared by every backend live in Check; here the
// memory backend runs them.
func TestMemory(t *testing.T) {
	Check(t, func() ratelimit.Backend { return ratelimit.NewMemory() })
}

func TestOffAllowsEverything(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := ratelimit.New(ratelimit.NewMemory(), func() time.Time { return clock })
	for i := 0; i < 1000; i++ {
		d, err := l.Allow(context.Background(), "k", ratelimit.Limit{})
		if err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v %v", i, d, err)
		}
	}
}

// Check runs the behaviour every backend must have, with a fixed clock.
func Check(t *testing.T, backend func() ratelimit.Backend) {
	ctx := context.Background()
	t.Run("BurstThenRate", func(t *testing.T) {
		clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		l := ratelimit.New(backend(), func() time.Time { return clock })
		lim := ratelimit.Limit{PerMinute: 60, Burst: 5}
		for i := 0; i < 5; i++ {
			if d, err := l.Allow(ctx, "a", lim); err != nil || !d.Allowed {
				t.Fatalf("burst request %d refused: %+v %v", i, d, err)
			}
		}
		d, err := l.Allow(ctx, "a", lim)
		if err != nil || d.Allowed {
			t.Fatalf("6th request allowed: %+v %v", d, err)
		}
		if d.RetryAfter != time.Second || d.RetrySeconds() != 1 {
			t.Fatalf("retry after %v (%d s), want 1s", d.RetryAfter, d.RetrySeconds())
		}
		// Another key is not touched by a's flood.
		if d, _ := l.Allow(ctx, "b", lim); !d.Allowed {
			t.Fatal("key b refused while a floods")
		}
		clock = clock.Add(time.Second)
		if d, _ := l.Allow(ctx, "a", lim); !d.Allowed {
			t.Fatal("a refused after waiting its Retry-After")
		}
		if d, _ := l.Allow(ctx, "a", lim); d.Allowed {
			t.Fatal("a allowed twice within one emission")
		}
		clock = clock.Add(time.Minute)
		n := 0
		for i := 0; i < 10; i++ {
			if d, _ := l.Allow(ctx, "a", lim); d.Allowed {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("after a quiet minute %d requests passed, want the burst of 5", n)
		}
	})
	t.Run("TenTimesTheLimit", func(t *testing.T) {
		clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		l := ratelimit.New(backend(), func() time.Time { return clock })
		lim := ratelimit.Limit{PerMinute: 120, Burst: 10}
		passed := map[string]int{}
		// 60 s: the flooder sends 20 a second (10x), the quiet key 1 a second.
		for s := 0; s < 60; s++ {
			for i := 0; i < 20; i++ {
				clock = clock.Add(50 * time.Millisecond)
				if d, _ := l.Allow(ctx, "flood", lim); d.Allowed {
					passed["flood"]++
				}
				if i == 0 {
					if d, _ := l.Allow(ctx, "quiet", lim); d.Allowed {
						passed["quiet"]++
					}
				}
			}
		}
		if passed["quiet"] != 60 {
			t.Fatalf("quiet key passed %d of 60", passed["quiet"])
		}
		// 120 per minute plus the burst, minus the rounding of the edge.
		if f := passed["flood"]; f < 120 || f > 130 {
			t.Fatalf("flooder passed %d in a minute, want 120..130", f)
		}
	})
}
