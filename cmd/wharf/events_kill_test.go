package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// kill -9 of wharf serve while it publishes its events to NATS JetStream,
// three times, with files flowing into a watched folder all along (each
// file makes message events, a 997 and its delivery events). After the
// last restart every event committed in the outbox is in the stream, and
// the stream holds each event ID once: what a restart published again
// (the test's plain NATS subscription sees every publish, repeats
// included) JetStream dropped by its Nats-Msg-Id within its duplicate
// window.
func TestEventsKill9DuringPublishing(t *testing.T) {
	if testing.Short() {
		t.Skip("1,500 files, three kill -9 of the server while it publishes events, restarts, on SQLite and PostgreSQL (about 40 s)")
	}
	t.Run("SQLite", func(t *testing.T) { killDuringPublishing(t, "") })
	t.Run("Postgres", func(t *testing.T) { killDuringPublishing(t, testenv.Postgres(t)) })
}

// killDuringPublishing runs the test on the database dsn ("": SQLite in
// the data folder).
func killDuringPublishing(t *testing.T, dsn string) {
	url := testenv.NATS(t)
	var env []string
	if dsn != "" {
		env = append(env, "WHARF_DATABASE_URL="+dsn)
	}
	ctx := context.Background()
	const total, kills = 1500, 3
	dir := t.TempDir()
	in, out, data := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "data")
	os.MkdirAll(in, 0o755)
	os.MkdirAll(out, 0o755)
	prefix, stream := testenv.RandName("wharfkill"), testenv.RandName("WHARFKILL")
	cfgPath := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgPath, fmt.Appendf(nil, "data: %s\npartners:\n  - id: erp\n    folder: {inbound: %s, outbound: %s, stable: false, after: delete}\n"+
		"events:\n  - {name: kill9, to: %q, prefix: %s, stream: %s}\n", data, in, out, url, prefix, stream), 0o600)

	// The subscription exists from position 0 before the server starts,
	// so that "every event" is every row of the outbox.
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyEnv(func(k string) string {
		if k == "WHARF_DATABASE_URL" {
			return dsn
		}
		return ""
	})
	withStore := func(f func(st store.Store)) {
		t.Helper()
		st, err := app.OpenStore(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		f(st)
	}
	withStore(func(st store.Store) {
		now := time.Now()
		if _, err := st.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: "kill9", Owner: "test", Now: now, Until: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.ReleaseOutboxSink(ctx, "kill9", "test"); err != nil {
			t.Fatal(err)
		}
	})

	// Every publish on the wire, repeats included, by event ID.
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	wire := map[string]int{}
	onWire := 0
	sub, err := nc.Subscribe(prefix+".>", func(m *natsgo.Msg) {
		mu.Lock()
		wire[m.Header.Get(jetstream.MsgIDHeader)]++
		onWire++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	defer sub.Unsubscribe()
	published := func() int { mu.Lock(); defer mu.Unlock(); return onWire }

	srv := startServer(t, dir, env, "--config", cfgPath)
	written := writeBurst(t, in, total, 2*time.Millisecond) // a steady flow, not one burst

	type killed struct{ onWire, pending int64 }
	var at []killed
	for k := 1; k <= kills; k++ {
		// Kill while events flow: once this round's share is on the wire.
		threshold := published() + 400
		deadline := time.Now().Add(2 * time.Minute)
		for published() < threshold {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: only %d events published after 2 minutes:\n%s", k, published(), srv.logs)
			}
			time.Sleep(2 * time.Millisecond)
		}
		srv.cmd.Process.Kill()
		<-srv.exited
		var pending int64
		withStore(func(st store.Store) {
			ks, err := st.OutboxSinks(ctx)
			if err != nil || len(ks) != 1 {
				t.Fatalf("sinks: %v %v", ks, err)
			}
			_, pending, err = st.OutboxPending(ctx, ks[0].Pos)
			if err != nil {
				t.Fatal(err)
			}
		})
		at = append(at, killed{int64(published()), pending})
		srv = startServer(t, dir, env, "--config", cfgPath)
	}
	<-written
	// Wait until every file is through and the subscription has nothing pending.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		left, _ := filepath.Glob(filepath.Join(in, "load*"))
		acks, _ := filepath.Glob(filepath.Join(out, "997_*"))
		if len(left) == 0 && len(acks) >= total && eventsPending(t, srv.http, "kill9") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restarts: %d files left, %d of %d 997s, %d events pending\n%s", len(left), len(acks), total, eventsPending(t, srv.http, "kill9"), srv.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.stop(t)

	// The outbox, all of it, against the stream.
	var outbox []*store.OutboxEvent
	withStore(func(st store.Store) {
		if _, err := st.AssignOutbox(ctx, 1000000); err != nil {
			t.Fatal(err)
		}
		ks, err := st.OutboxSinks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, n, err := st.OutboxPending(ctx, ks[0].Pos); err != nil || n != 0 {
			t.Fatalf("after a clean stop %d events are not published (%v)", n, err)
		}
		for pos := int64(0); ; {
			page, err := st.OutboxAfter(ctx, pos, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			outbox = append(outbox, page...)
			pos = page[len(page)-1].Pos
		}
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer js.DeleteStream(ctx, stream)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	inStream := map[string]int{}
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			inStream[m.Headers().Get(jetstream.MsgIDHeader)]++
			n++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("read %d of the stream's %d messages", read, info.State.Msgs)
		}
		read += uint64(n)
	}
	lost := 0
	for _, e := range outbox {
		if inStream[e.ID] == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("event %s (%s, position %d) is in the outbox and not in the stream", e.ID, e.Type, e.Pos)
			}
		}
	}
	for id, n := range inStream {
		if n != 1 {
			t.Errorf("event %s is %d times in the stream", id, n)
		}
	}
	if lost > 0 || len(inStream) != len(outbox) || int(info.State.Msgs) != len(outbox) {
		t.Fatalf("%d events in the outbox, %d lost, %d distinct IDs and %d messages in the stream", len(outbox), lost, len(inStream), info.State.Msgs)
	}
	mu.Lock()
	repeats := 0
	for _, n := range wire {
		repeats += n - 1
	}
	mu.Unlock()
	for i, k := range at {
		t.Logf("kill %d: %d events on the wire so far, %d committed and not marked published", i+1, k.onWire, k.pending)
	}
	t.Logf("%d files, %d kill -9: %d events in the outbox, all in the stream once; %d publishes on the wire, %d of them repeats that JetStream dropped",
		total, kills, len(outbox), onWire, repeats)
}

// eventsPending reads wharf_events_pending{sink} from the server's /metrics.
func eventsPending(t *testing.T, base, sink string) int {
	t.Helper()
	return int(sinkMetric(t, base, "wharf_events_pending", sink))
}

// sinkMetric reads NAME{sink="SINK"} from the server's /metrics.
func sinkMetric(t *testing.T, base, name, sink string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	want := name + `{sink="` + sink + `"} `
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s%s: %v", want, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /metrics", want)
	return 0
}
