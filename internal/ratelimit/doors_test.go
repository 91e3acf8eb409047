package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wharfedi/wharf/internal/ratelimit"
)

func TestDoorsCountAndLogOncePerWindow(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	d := ratelimit.NewDoors(ratelimit.DoorsOptions{
		Limiter: ratelimit.New(ratelimit.NewMemory(), now),
		Limit: func(door, who string) ratelimit.Limit {
			if who == "acme" {
				return ratelimit.Limit{PerMinute: 6, Burst: 2}
			}
			return ratelimit.Limit{PerMinute: 600, Burst: 100}
		},
		Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: now, Metrics: reg,
	})
	ctx := context.Background()
	refused := 0
	for i := 0; i < 20; i++ { // 10x acme's burst, in one instant
		if r := d.Check(ctx, ratelimit.DoorSFTP, "acme", "acme"); r != nil {
			refused++
			if i == 19 && r.Error() != "rate limit of partner acme at sftp: 6 files per minute (burst 2); retry in 10 s" {
				t.Fatalf("refusal reads %q", r.Error())
			}
		}
		if r := d.Check(ctx, ratelimit.DoorSFTP, "beta", "beta"); r != nil {
			t.Fatalf("beta refused while acme floods: %v", r)
		}
	}
	if refused != 18 {
		t.Fatalf("%d refused, want 18", refused)
	}
	if got := testutil.ToFloat64(d.Count(ratelimit.DoorSFTP, "acme")); got != 18 {
		t.Fatalf("wharf_throttled_total{door=sftp,partner=acme} = %v", got)
	}
	if n := strings.Count(logs.String(), "throttled"); n != 1 {
		t.Fatalf("%d log lines in one window, want 1:\n%s", n, logs.String())
	}
	clock = clock.Add(time.Minute)
	for i := 0; i < 5; i++ {
		d.Check(ctx, ratelimit.DoorSFTP, "acme", "acme")
	}
	if n := strings.Count(logs.String(), "throttled"); n != 2 {
		t.Fatalf("%d log lines after a second window, want 2", n)
	}
}
