package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wharfedi/wharf/events"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// natsSink connects to the test's NATS with a subject prefix of its own
// and a stream holding only subjects: the other subjects have no stream,
// and publishing an event there fails the way a broker refusing it does.
func natsSink(t *testing.T, subjects ...string) (*wnats.Sink, jetstream.Stream, string) {
	t.Helper()
	url := testenv.NATS(t)
	ctx := context.Background()
	prefix, stream := testenv.RandName("wharfpub"), testenv.RandName("WHARFPUB")
	s, err := wnats.Connect(ctx, wnats.Options{URL: url, Prefix: prefix, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var subs []string
	for _, x := range subjects {
		subs = append(subs, prefix+"."+x)
	}
	st, err := s.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: subs, Duplicates: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.JetStream().DeleteStream(context.Background(), stream)
		s.Close()
	})
	return s, st, prefix
}

// received returns the types and subjects the stream holds, in order.
func received(t *testing.T, st jetstream.Stream) []string {
	t.Helper()
	ctx := context.Background()
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for uint64(len(out)) < info.State.Msgs {
		b, err := c.Fetch(int(info.State.Msgs)-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			ce, err := events.Parse(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.TrimPrefix(ce.Type, events.TypePrefix)+" "+ce.Subject)
			n++
		}
		if n == 0 {
			t.Fatalf("stream holds %d messages, fetched %d", info.State.Msgs, len(out))
		}
	}
	return out
}

func write(t *testing.T, st store.Store, typ, subject, partner string) {
	t.Helper()
	if err := st.WithTx(context.Background(), func(tx store.Tx) error {
		return tx.AppendOutbox(context.Background(), &store.OutboxEvent{Type: typ, ObjectKind: "shipment", ObjectKey: subject, Subject: subject, PartnerID: partner})
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPublisher(t *testing.T) {
	clock := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sink, stream, _ := natsSink(t, "shipment.shipped", "order.>")
		sub := &events.Subscription{Name: "tms", Types: []string{"shipment.*", "order.created"}, Role: "carrier", Sink: sink}
		roles := map[string]string{"acme": "carrier", "erp": "erp"}
		pub := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "inst-a", Now: now, RoleOf: func(p string) string { return roles[p] }}
		// The first pass creates the subscription's cursor at the head.
		if n, err := pub.Step(ctx, sub); err != nil || n != 0 {
			t.Fatalf("first step: %d %v", n, err)
		}
		write(t, st, "shipment.shipped", "SH-1", "acme")
		write(t, st, "shipment.shipped", "SH-2", "erp")    // another role: not this subscription's
		write(t, st, "invoice.approved", "INV-1", "acme")  // another type
		write(t, st, "shipment.delivered", "SH-1", "acme") // no stream for it: the broker refuses
		write(t, st, "order.created", "PO-1", "acme")      // another object: stored
		write(t, st, "shipment.shipped", "SH-1", "acme")   // SH-1 again: must wait for its delivered
		n, err := pub.Step(ctx, sub)
		if err == nil || n != 6 || !strings.Contains(err.Error(), "subscription tms: 1 of 4 events acknowledged") {
			t.Fatalf("step with a refused event: %d %v", n, err)
		}
		ks, _ := st.OutboxSinks(ctx)
		if len(ks) != 1 || ks[0].Pos != 3 || ks[0].Published != 1 || ks[0].Failures != 1 || !strings.Contains(ks[0].LastError, "shipment.delivered") {
			t.Fatalf("cursor after the failure (want at the event before shipment.delivered): %+v", ks[0])
		}
		// Another instance does not publish while this one holds the lease.
		other := &events.Publisher{Store: st, Subs: pub.Subs, Owner: "inst-b", Now: now, RoleOf: pub.RoleOf}
		if _, err := other.Step(ctx, sub); !errors.Is(err, events.ErrNotOwner) {
			t.Fatalf("second instance: %v, want ErrNotOwner", err)
		}
		// The retry fails the same way.
		if _, err := pub.Step(ctx, sub); err == nil {
			t.Fatal("the retry published an event no stream holds")
		}
		// The operator adds the subject to the stream: the next pass
		// publishes from the refused event on; SH-1's events in order.
		cfg := stream.CachedInfo().Config
		cfg.Subjects = append(cfg.Subjects, strings.Replace(cfg.Subjects[0], "shipment.shipped", "shipment.delivered", 1))
		if _, err := sink.JetStream().UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if n, err := pub.Step(ctx, sub); err != nil || n != 3 {
			t.Fatalf("step after the fix: %d %v", n, err)
		}
		if got := strings.Join(received(t, stream), ", "); got != "shipment.shipped SH-1, order.created PO-1, shipment.delivered SH-1, shipment.shipped SH-1" {
			t.Fatalf("stream holds %s", got)
		}
		status, err := pub.Status(ctx)
		if err != nil || len(status) != 1 || status[0].Pending != 0 || status[0].Lag != 0 || status[0].Published != 4 || status[0].Failures != 2 {
			t.Fatalf("status: %+v %v", status, err)
		}
		// Lag: an event written a minute ago and not published yet.
		write(t, st, "shipment.shipped", "SH-3", "acme")
		clock = clock.Add(time.Minute)
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(pub.Collector())
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP wharf_events_lag_seconds Age of the oldest event the subscription has not published yet (0 when it is caught up), by subscription.
# TYPE wharf_events_lag_seconds gauge
wharf_events_lag_seconds{sink="tms"} 60
# HELP wharf_events_published_total Events the subscription's broker acknowledged, by subscription.
# TYPE wharf_events_published_total counter
wharf_events_published_total{sink="tms"} 4
# HELP wharf_events_failed_total Events a publish attempt did not get acknowledged (retried), by subscription.
# TYPE wharf_events_failed_total counter
wharf_events_failed_total{sink="tms"} 6
`), "wharf_events_lag_seconds", "wharf_events_published_total", "wharf_events_failed_total"); err != nil {
			t.Fatal(err)
		}
		// The lease lapses (the instance stopped): the other takes over
		// where the first left, publishing nothing twice.
		clock = clock.Add(time.Minute)
		if n, err := other.Step(ctx, sub); err != nil || n != 1 {
			t.Fatalf("takeover: %d %v", n, err)
		}
		if got := received(t, stream); len(got) != 5 || got[4] != "shipment.shipped SH-3" {
			t.Fatalf("after takeover the stream holds %v", got)
		}
		// Replay: everything since a time, again (JetStream drops the
		// IDs it stored within its duplicate window).
		n, err = pub.Replay(ctx, sub, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
		if err != nil || n != 5 {
			t.Fatalf("replay: %d %v", n, err)
		}
		if got := received(t, stream); len(got) != 5 {
			t.Fatalf("after a replay within the duplicate window the stream holds %v", got)
		}
		// Prune: nothing younger than the retention; then everything published.
		if n, err := pub.Prune(ctx); err != nil || n != 0 {
			t.Fatalf("prune: %d %v", n, err)
		}
		clock = clock.Add(8 * 24 * time.Hour)
		if n, err := pub.Prune(ctx); err != nil || n != 7 {
			t.Fatalf("prune after the retention: %d %v", n, err)
		}
	}, store.WithClock(now))
}

// With no subscription configured nothing gives the outbox's events a
// position nor publishes them: the prune still removes those older than
// the retention, so the outbox does not grow without end.
func TestPruneWithoutSubscriptions(t *testing.T) {
	clock := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		pub := &events.Publisher{Store: st, Owner: "inst-a", Now: now}
		write(t, st, "shipment.shipped", "SH-1", "acme")
		if n, err := pub.Prune(ctx); err != nil || n != 0 {
			t.Fatalf("prune within the retention: %d %v", n, err)
		}
		clock = clock.Add(8 * 24 * time.Hour)
		if n, err := pub.Prune(ctx); err != nil || n != 1 {
			t.Fatalf("prune after the retention: %d %v, want 1", n, err)
		}
	}, store.WithClock(now))
}

// An instance killed holding a subscription's lease: its successor takes
// the lease at once when it knows the holder is gone, and only then.
func TestTakeOverGoneOwner(t *testing.T) {
	clock := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sub := &events.Subscription{Name: "tms"} // no event is written: Step never reaches the sink
		gone := map[string]bool{}
		ownerGone := func(_ context.Context, owner string) bool { return gone[owner] }
		a := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "inst-a", Now: now}
		b := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "inst-b", Now: now, OwnerGone: ownerGone}
		c := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "inst-c", Now: now, OwnerGone: ownerGone}
		if _, err := a.Step(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Step(ctx, sub); !errors.Is(err, events.ErrNotOwner) {
			t.Fatalf("inst-a alive: %v, want ErrNotOwner", err)
		}
		gone["inst-a"] = true
		if _, err := b.Step(ctx, sub); err != nil {
			t.Fatalf("inst-a gone: %v", err)
		}
		if ks, _ := st.OutboxSinks(ctx); len(ks) != 1 || ks[0].Owner != "inst-b" {
			t.Fatalf("lease after the takeover: %+v", ks)
		}
		// inst-c also saw inst-a gone, a moment later: inst-b holds it now.
		if _, err := c.Step(ctx, sub); !errors.Is(err, events.ErrNotOwner) {
			t.Fatalf("a second successor: %v, want ErrNotOwner", err)
		}
	}, store.WithClock(now))
}
