package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

func exerciseRateLimits(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	// A limit of 60 a minute with a burst of 3: emission 1 s, tolerance 2 s.
	const emission, tolerance = time.Second, 2 * time.Second
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("RateLimits", func(t *testing.T) {
		s, _ := open(t)
		for i := 0; i < 3; i++ {
			ok, tat, err := s.TakeRateLimit(ctx, "tok", t0, emission, tolerance)
			if err != nil || !ok {
				t.Fatalf("burst request %d: %v %v", i, ok, err)
			}
			if want := t0.Add(time.Duration(i+1) * emission); !tat.Equal(want) {
				t.Fatalf("request %d: tat %v, want %v", i, tat, want)
			}
		}
		ok, tat, err := s.TakeRateLimit(ctx, "tok", t0, emission, tolerance)
		if err != nil || ok {
			t.Fatalf("4th request in the same instant: allowed=%v %v", ok, err)
		}
		if !tat.Equal(t0.Add(3 * emission)) {
			t.Fatalf("refusal moved the tat to %v", tat)
		}
		if ok, _, _ := s.TakeRateLimit(ctx, "other", t0, emission, tolerance); !ok {
			t.Fatal("another key refused")
		}
		// A second later one more passes; after a long pause the TAT
		// restarts from now, not from the past.
		if ok, _, _ := s.TakeRateLimit(ctx, "tok", t0.Add(time.Second), emission, tolerance); !ok {
			t.Fatal("refused after one emission")
		}
		ok, tat, _ = s.TakeRateLimit(ctx, "tok", t0.Add(time.Hour), emission, tolerance)
		if !ok || !tat.Equal(t0.Add(time.Hour+emission)) {
			t.Fatalf("after an hour: allowed=%v tat=%v", ok, tat)
		}
	})
	t.Run("RateLimitsSharedByInstances", func(t *testing.T) {
		a, dsn := open(t)
		b, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		// Two instances on one database, each sending 3 at the same instant
		// and 3 more a second later: 3 + 1 pass in all, not twice that.
		passed := 0
		for _, at := range []time.Time{t0, t0.Add(time.Second)} {
			for i := 0; i < 3; i++ {
				for _, s := range []store.Store{a, b} {
					ok, _, err := s.TakeRateLimit(ctx, "partner:acme", at, emission, tolerance)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						passed++
					}
				}
			}
		}
		if passed != 4 {
			t.Fatalf("%d requests passed across two instances, want 4", passed)
		}
	})
}
