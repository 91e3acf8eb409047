package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/ratelimit"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// A token over its limit gets 429 with Retry-After and an error naming
// the limit and the token; another token flooding at ten times its limit
// meanwhile never throttles the first.
func TestAPITokenRateLimit(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		doors := ratelimit.NewDoors(ratelimit.DoorsOptions{
			Limiter: ratelimit.New(ratelimit.NewMemory(), now),
			Limit: func(door, who string) ratelimit.Limit {
				if door != ratelimit.DoorAPI {
					t.Errorf("API request checked at door %q", door)
				}
				return ratelimit.Limit{PerMinute: 6, Burst: 3}
			},
			Now: now,
		})
		fsb, err := archive.NewFS(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		a, err := archive.New(st, archive.Options{Blobs: fsb})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Store: st, Archive: a, Limits: doors, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		s.Mount(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		flood, _, err := MintToken(ctx, st, store.RoleAuditor, "flooder")
		if err != nil {
			t.Fatal(err)
		}
		quiet, _, err := MintToken(ctx, st, store.RoleAuditor, "quiet")
		if err != nil {
			t.Fatal(err)
		}
		get := func(tok string) (*http.Response, apiError) {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apiError
			_ = json.NewDecoder(resp.Body).Decode(&e)
			return resp, e
		}
		codes := map[int]int{}
		var last *http.Response
		var lastErr apiError
		for i := 0; i < 30; i++ { // ten times the burst, in one instant
			last, lastErr = get(flood)
			codes[last.StatusCode]++
			if i%10 == 0 {
				if resp, e := get(quiet); resp.StatusCode != 200 {
					t.Fatalf("quiet token got %d (%s) while another floods", resp.StatusCode, e.Error)
				}
			}
		}
		if codes[200] != 3 || codes[429] != 27 {
			t.Fatalf("flooder's statuses %v, want 3 × 200 and 27 × 429", codes)
		}
		if ra := last.Header.Get("Retry-After"); ra != "10" {
			t.Fatalf("Retry-After %q, want 10 (one request costs 10 s; the burst allows 20 s ahead)", ra)
		}
		if !strings.Contains(lastErr.Error, "rate limit of token:") || !strings.Contains(lastErr.Error, "(flooder)") ||
			!strings.Contains(lastErr.Error, "6 requests per minute") {
			t.Fatalf("429 error %q does not name the limit and the token", lastErr.Error)
		}
		if n := testutil.ToFloat64(doors.Count(ratelimit.DoorAPI, "")); n != 27 {
			t.Fatalf("throttled count %v, want 27", n)
		}
		clock = clock.Add(10 * time.Second)
		if resp, _ := get(flood); resp.StatusCode != 200 {
			t.Fatalf("after its Retry-After the token got %d", resp.StatusCode)
		}
	})
}
