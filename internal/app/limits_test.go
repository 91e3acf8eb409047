package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// limitsConfig: acme may post 6 a minute with a burst of 3, beta has the
// default inbound limit.
func limitsConfig(dir, dsn string) string {
	y := "data: " + filepath.Join(dir, "data") + "\nhttp: {addr: \"127.0.0.1:0\"}\nsftp: {addr: \"127.0.0.1:0\"}\n"
	if dsn != "" {
		y += "database: {url: \"" + dsn + "\"}\narchive: {url: " + filepath.Join(filepath.Dir(dir), "shared-archive") + "}\n"
	}
	return y + `limits:
  inbound: {per_minute: 600, burst: 100}
partners:
  - id: acme
    http: {token_sha256: ` + sha("acme-token") + `}
    limits: {per_minute: 6, burst: 3}
  - id: beta
    http: {token_sha256: ` + sha("beta-token") + `}
`
}

// The HTTP inbound door of the whole application: acme floods at ten
// times its limit, gets 429 with Retry-After beyond its burst, and only
// what was accepted is archived; beta is never refused meanwhile; /metrics
// counts the refusals. On PostgreSQL two instances share acme's limit.
func TestInboundRateLimitAcrossTheApp(t *testing.T) {
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			clock := func() time.Time { return now }
			dsn := ""
			instances := 1
			if db == "Postgres" {
				dsn = testenv.DSN(t, "Postgres")
				instances = 2
			}
			var urls []string
			var apps []*App
			for i := 0; i < instances; i++ {
				dir := filepath.Join(t.TempDir(), fmt.Sprint("node", i))
				os.MkdirAll(dir, 0o750)
				cfgFile := filepath.Join(dir, "wharf.yaml")
				os.WriteFile(cfgFile, []byte(limitsConfig(dir, dsn)), 0o600)
				a, err := New(ctx, mustConfig(t, cfgFile), Options{Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				srv := httptest.NewServer(a.http)
				defer srv.Close()
				urls = append(urls, srv.URL)
				apps = append(apps, a)
			}
			post := func(base, partner string, i int) *http.Response {
				req, _ := http.NewRequest("POST", base+"/api/v1/inbound/"+partner+"?filename=f"+fmt.Sprint(i)+".txt", strings.NewReader(fmt.Sprint("doc ", i)))
				req.Header.Set("Authorization", "Bearer "+partner+"-token")
				req.Header.Set("Content-Type", "text/plain")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res
			}
			codes := map[int]int{}
			for i := 0; i < 30; i++ { // ten times acme's burst, spread over the instances
				res := post(urls[i%len(urls)], "acme", i)
				codes[res.StatusCode]++
				if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				if i%6 == 0 {
					if res := post(urls[(i/6)%len(urls)], "beta", i); res.StatusCode != 201 {
						t.Fatalf("beta got %d while acme floods", res.StatusCode)
					}
				}
			}
			if codes[201] != 3 || codes[429] != 27 {
				t.Fatalf("acme's statuses %v across %d instance(s), want 3 × 201 and 27 × 429", codes, instances)
			}
			ms, err := apps[0].Store.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 3 {
				t.Fatalf("%d acme messages archived, want the 3 accepted", len(ms))
			}
			var throttled int
			for _, a := range apps {
				res, err := http.Get(urlOf(t, a) + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				for _, l := range strings.Split(string(b), "\n") {
					var n int
					if _, err := fmt.Sscanf(l, `wharf_throttled_total{door="http",partner="acme"} %d`, &n); err == nil {
						throttled += n
					}
					if strings.HasPrefix(l, `wharf_throttled_total{door="http",partner="beta"}`) {
						t.Fatalf("beta counted as throttled: %s", l)
					}
				}
			}
			if throttled != 27 {
				t.Fatalf("wharf_throttled_total for acme at http sums to %d, want 27", throttled)
			}
		})
	}
}

func urlOf(t *testing.T, a *App) string {
	srv := httptest.NewServer(a.http)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Each door takes the partner's own limit (or limits.inbound) and keeps
// its own budget; the API takes limits.api per token.
func TestLimitsPerDoorAndPartner(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgFile, []byte(limitsConfig(dir, "")), 0o600)
	c := mustConfig(t, cfgFile)
	c.Limits.API.PerMinute, c.Limits.API.Burst = 60, 1
	st, err := store.Open(context.Background(), filepath.Join(dir, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	d := newLimits(c, st, func() time.Time { return now }, nil, nil)
	passed := func(door, who string, n int) int {
		ok := 0
		for i := 0; i < n; i++ {
			if d.Check(context.Background(), door, who, who) == nil {
				ok++
			}
		}
		return ok
	}
	for _, tc := range []struct {
		door, who string
		want      int
	}{
		{"sftp", "acme", 3},   // acme's own burst
		{"as2", "acme", 3},    // another door, its own budget
		{"sftp", "beta", 100}, // limits.inbound's burst
		{"api", "token:t1 (ci)", 1},
		{"api", "token:t2 (ops)", 1},
	} {
		if got := passed(tc.door, tc.who, 200); got != tc.want {
			t.Errorf("%s at %s: %d of 200 passed, want %d", tc.who, tc.door, got, tc.want)
		}
	}
	wait, why := throttle(d, "sftp")(context.Background(), "acme")
	if wait != 10 || why != "rate limit of partner acme at sftp: 6 files per minute (burst 3); retry in 10 s" {
		t.Fatalf("throttle answered %d %q", wait, why)
	}
}
