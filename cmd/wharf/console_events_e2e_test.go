package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// TestConsoleEventSubscriptions: the overview shows each event
// subscription's lag and failures, in headless Chromium against a real
// wharf serve publishing to the real NATS: one subscription caught up,
// one whose subjects no stream holds (its events wait, its failures and
// the broker's reason are on the page).
func TestConsoleEventSubscriptions(t *testing.T) {
	url := testenv.NATS(t)
	ctx, _ := browserCtx(t)
	art := artifactDir(t)
	dir := t.TempDir()
	prefix, stream := testenv.RandName("wharfui"), testenv.RandName("WHARFUI")
	yaml := fmt.Sprintf("partners:\n  - {id: acme, role: carrier}\nevents:\n"+
		"  - {name: tms, to: %q, prefix: %s, stream: %s, types: [message.*]}\n"+
		"  - {name: nostream, to: %q, prefix: %s, types: [message.*]}\n", url, prefix, stream, url, testenv.RandName("wharfnostream"))
	cfgPath := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgPath, []byte(yaml), 0o600)
	t.Cleanup(func() {
		if s, err := wnats.Connect(context.Background(), wnats.Options{URL: url}); err == nil {
			s.JetStream().DeleteStream(context.Background(), stream)
			s.Close()
		}
	})
	// Both subscriptions start at the outbox's beginning.
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.SetData(filepath.Join(dir, "wharf-data"))
	st, err := app.OpenStore(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tms", "nostream"} {
		now := time.Now()
		if _, err := st.ClaimOutboxSink(context.Background(), &store.ClaimOutboxSinkParams{Sink: s, Owner: "test", Now: now, Until: now}); err != nil {
			t.Fatal(err)
		}
		st.ReleaseOutboxSink(context.Background(), s, "test")
	}
	st.Close()

	srv, _, cli := consoleServer(t, dir, yaml)
	defer srv.stop(t)
	note := filepath.Join(dir, "note.txt")
	os.WriteFile(note, []byte("a file that makes message events\n"), 0o600)
	cli("archive", "put", "--partner", "acme", note)
	waitFor(t, "tms caught up and nostream failing", func() bool {
		return sinkMetric(t, srv.http, "wharf_events_published_total", "tms") >= 1 && eventsPending(t, srv.http, "tms") == 0 &&
			eventsPending(t, srv.http, "nostream") >= 1 && sinkMetric(t, srv.http, "wharf_events_failed_total", "nostream") >= 1
	})
	tok := strings.Fields(strings.TrimSpace(cli("token", "create", "--role", "auditor", "--name", "e2e-events")))[0]
	var section, tms, broken string
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.http+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#signin-token`)),
		chromedp.SendKeys(chromedp.ID(`token`), tok),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`#event-subscriptions`)),
		textOf(`#event-subscriptions`, &section),
		textOf(`#sink-tms`, &tms),
		textOf(`#sink-nostream`, &broken),
		screenshot(art, "event-subscriptions"),
	)
	if err != nil {
		t.Fatalf("overview: %v", err)
	}
	t.Logf("screenshot in %s", art)
	if up := strings.ToUpper(section); !strings.Contains(up, "LAG") || !strings.Contains(up, "FAILURES") {
		t.Fatalf("the section has no lag or failures column:\n%s", section)
	}
	if !strings.Contains(tms, "caught up") || strings.Contains(tms, "no stream") {
		t.Fatalf("tms row: %q, want caught up without errors", tms)
	}
	// The broken subscription: its pending events, a lag instead of
	// "caught up", its failures and why (JetStream has no stream for its
	// subjects).
	if strings.Contains(broken, "caught up") || !strings.Contains(broken, "no stream holds") || !strings.Contains(broken, "nats stream add") {
		t.Fatalf("nostream row: %q, want its lag, failures and the reason", broken)
	}
}
