package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	whttp "github.com/wharfedi/wharf/transports/http"
)

func TestEventsTailReplayStatus(t *testing.T) {
	url := testenv.NATS(t)
	ctx := context.Background()
	dir := t.TempDir()
	prefix, stream := testenv.RandName("wharfcli"), testenv.RandName("WHARFCLI")
	cfgPath := filepath.Join(dir, "wharf.yaml")
	body := fmt.Sprintf("data: %s\npartners:\n  - {id: acme, role: carrier}\nevents:\n  - {name: tms, to: %q, prefix: %s, stream: %s, types: [message.*], filter: {role: carrier}}\n",
		filepath.Join(dir, "data"), url, prefix, stream)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.PrepareData(c.Data); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	st, err := app.OpenStore(ctx, c, store.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"acme", "beta", "acme"} {
		m := &store.Message{PartnerID: p, Direction: store.Inbound, Transport: "sftp", RemoteName: fmt.Sprintf("f%d.x12", i), Status: lifecycle.StatusReceived}
		if err := st.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RaiseException(ctx, &store.Exception{Reason: "mapping", PartnerID: "acme"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, errs, code := runIn(t, "events", "tail", "--config", cfgPath, "--since", "2026-01-01", "--no-follow", "--type", "message.*")
	if code != 0 || strings.Count(out, "message.received") != 3 || strings.Contains(out, "exception.opened") || !strings.Contains(out, "partner=beta") {
		t.Fatalf("tail: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runIn(t, "events", "tail", "--config", cfgPath, "--since", "2026-01-01", "--no-follow", "--json")
	if code != 0 || strings.Count(out, `"specversion":"1.0"`) != 4 || !strings.Contains(out, `"type":"wharf.exception.opened"`) {
		t.Fatalf("tail --json: %d\n%s%s", code, out, errs)
	}
	if _, errs, code := runIn(t, "events", "tail", "--config", cfgPath, "--type", "wharf.message.received"); code != 2 || !strings.Contains(errs, "without the \"wharf.\" prefix") {
		t.Fatalf("tail with a prefixed type: %d %s", code, errs)
	}
	// Replay to the subscription: the carrier's (acme's) message events.
	out, errs, code = runIn(t, "events", "replay", "--config", cfgPath, "--to", "tms", "--since", "2026-01-01")
	if code != 0 || !strings.Contains(out, "2 events published again to tms") {
		t.Fatalf("replay: %d\n%s%s", code, out, errs)
	}
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	defer js.DeleteStream(ctx, stream)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream %s after the replay: %+v %v", stream, info, err)
	}
	if _, errs, code := runIn(t, "events", "replay", "--config", cfgPath, "--to", "nope", "--since", "2026-01-01"); code != 1 || !strings.Contains(errs, `no event subscription "nope"`) {
		t.Fatalf("replay to an unknown subscription: %d %s", code, errs)
	}
	out, errs, code = runIn(t, "events", "status", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "tms") || !strings.Contains(out, "PENDING") {
		t.Fatalf("status: %d\n%s%s", code, out, errs)
	}
}

// wharf events replay to a webhook subscription archives the events as its
// messages; wharf serve delivers them, signed, each once.
func TestEventsReplayToWebhook(t *testing.T) {
	secret := []byte("replay-secret")
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := whttp.Verify(secret, r.Header.Get(whttp.HeaderTimestamp), r.Header.Get(whttp.HeaderSignature), body, time.Now(), time.Hour); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		ce, err := events.Parse(body)
		if err != nil {
			t.Errorf("%v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[ce.ID]++
		mu.Unlock()
	}))
	defer rcv.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, "partners:\n  - {id: acme, role: carrier}\n  - {id: portal, role: customer}\n"+
		"events:\n  - {name: hook, to: %q, secret_env: HOOK_SECRET, partner: portal, types: [message.received]}\n", rcv.URL), 0o600)
	env := []string{"WHARF_CONFIG=" + cfgPath, "HOOK_SECRET=" + string(secret)}
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.SetData(filepath.Join(dir, "wharf-data"))
	st, err := app.OpenStore(context.Background(), c, store.WithClock(func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: fmt.Sprintf("f%d.x12", i), Status: lifecycle.StatusReceived}
		if err := st.InsertMessage(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	for range 2 { // the second replay finds the events' messages: nothing twice
		if out, code := runCLI(t, dir, env, "events", "replay", "--to", "hook", "--since", "2026-01-01"); code != 0 || !strings.Contains(out, "3 events published again to hook") {
			t.Fatalf("replay: %d %s", code, out)
		}
	}
	srv := startServer(t, dir, env)
	defer srv.stop(t)
	waitFor(t, "the three events delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 3
	})
	var carriers int
	withStore(t, filepath.Join(dir, "wharf-data"), func(st store.Store) {
		ms, err := st.SearchMessages(context.Background(), store.MessageFilter{PartnerID: "portal", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		carriers = len(ms)
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range got {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if carriers != 3 {
		t.Fatalf("%d messages carry the events, want 3 (one per event, two replays)", carriers)
	}
}
