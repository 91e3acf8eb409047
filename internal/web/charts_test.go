package web

import (
	"context"
	"encoding/json"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Traffic per partner and hour: every hour of the window is a point, empty
// ones included; messages, errors and latency land in the hour they were
// received; the console draws them as SVG bars and a latency line.
func TestHourlyTraffic(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		now := time.Date(2026, 12, 4, 15, 42, 0, 0, time.UTC)
		f.s.o.Now = func() time.Time { return now }
		add := func(partner string, dir store.Direction, status lifecycle.Status, received time.Time, latency time.Duration, kind lifecycle.EventKind) {
			t.Helper()
			m := &store.Message{PartnerID: partner, Direction: dir, Transport: "sftp", Status: status, SHA256: "00", BlobRef: "fs:x", ReceivedAt: received}
			if err := st.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			if kind != "" {
				if err := st.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: kind, At: received.Add(latency)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		h := func(hour, min int) time.Time { return time.Date(2026, 12, 4, hour, min, 0, 0, time.UTC) }
		add("acme", store.Inbound, lifecycle.StatusProcessed, h(15, 5), 2*time.Second, lifecycle.EventMapped)
		add("acme", store.Inbound, lifecycle.StatusRejected, h(15, 10), 4*time.Second, lifecycle.EventMapped)
		add("acme", store.Outbound, lifecycle.StatusDeadLetter, h(9, 30), 10*time.Minute, lifecycle.EventDeadLetter)
		add("bolt", store.Outbound, lifecycle.StatusReceived, h(14, 0), 0, "")
		add("acme", store.Inbound, lifecycle.StatusProcessed, now.Add(-30*time.Hour), time.Second, lifecycle.EventMapped) // only in 7d

		resp, b := f.call("GET", "/api/v1/overview/hourly", store.RoleAuditor, nil)
		var out hourlyOut
		if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("hourly: %d %v %s", resp.StatusCode, err, b)
		}
		if out.Window != "24h" || !out.Since.Equal(h(15, 0).Add(-23*time.Hour)) || len(out.Partners) != 2 {
			t.Fatalf("24h: window %s since %v, %d partners", out.Window, out.Since, len(out.Partners))
		}
		acme := out.Partners[0]
		if acme.Partner != "acme" || acme.In != 2 || acme.Out != 1 || acme.Errors != 2 || len(acme.Hours) != 24 {
			t.Fatalf("acme: %+v", acme)
		}
		last, nine := acme.Hours[23], acme.Hours[17]
		if !last.Hour.Equal(h(15, 0)) || last.In != 2 || last.Errors != 1 || last.Settled != 2 || last.LatencyAvgMs != 3000 || last.LatencyMaxMs != 4000 {
			t.Fatalf("acme's 15:00: %+v", last)
		}
		if !nine.Hour.Equal(h(9, 0)) || nine.Out != 1 || nine.Errors != 1 || nine.LatencyMaxMs != 600000 {
			t.Fatalf("acme's 09:00: %+v", nine)
		}
		if bolt := out.Partners[1]; bolt.Out != 1 || bolt.Hours[22].Settled != 0 || bolt.Hours[22].LatencyAvgMs != 0 {
			t.Fatalf("bolt: %+v", bolt)
		}
		_, b = f.call("GET", "/api/v1/overview/hourly?window=7d&partner=acme", store.RoleAuditor, nil)
		if err := json.Unmarshal(b, &out); err != nil || len(out.Partners) != 1 || len(out.Partners[0].Hours) != 168 || out.Partners[0].In != 3 {
			t.Fatalf("7d for acme: %s", b)
		}
		if resp, b := f.call("GET", "/api/v1/overview/hourly?window=1y", store.RoleAuditor, nil); resp.StatusCode != 400 || !strings.Contains(string(b), "24h") {
			t.Fatalf("a bad window: %d %s", resp.StatusCode, b)
		}
		get := signIn(t, st, f.srv.URL, store.RoleAuditor)
		code, page := get("/ui/charts")
		page = html.UnescapeString(page)
		for _, want := range []string{`data-partner="acme"`, "Throughput", "Errors", "Latency", "Fri 04 Dec 15:00 UTC: 2 in, 0 out", "Fri 04 Dec 15:00 UTC: 1 of 2 messages in error",
			"mean 3.0 s, max 4.0 s (2 settled)", "<polyline points=", "mean latency"} {
			if !strings.Contains(page, want) {
				t.Errorf("the charts page lacks %q", want)
			}
		}
		if code != 200 || t.Failed() {
			t.Fatalf("charts page %d:\n%s", code, page)
		}
		if code, page := get("/ui/charts?window=7d"); code != 200 || !strings.Contains(page, "Thu 03") {
			t.Fatalf("7 days page %d:\n%s", code, page)
		}
	})
}
