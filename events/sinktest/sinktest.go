// Package sinktest is the conformance suite every event sink passes
// against its real broker: events arrive in order, as CloudEvents in
// structured JSON, on the route their type names, with their ID for
// deduplication, stored durably; a big batch is acknowledged whole; a
// republished event is harmless; a cancelled publish reports what was not
// acknowledged.
package sinktest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/store"
)

// Received is a message as the broker holds it.
type Received struct {
	Body []byte
	// ID is the deduplication ID the broker was given (Nats-Msg-Id, the
	// AMQP message-id).
	ID string
	// Route is the subject or routing key.
	Route string
	// Durable: the broker keeps it across a restart (a JetStream file
	// stream, an AMQP persistent message).
	Durable bool
}

// Broker reads back what a sink published in a test.
type Broker interface {
	// Receive returns the next n messages the test's sink published, in
	// the order the broker holds them, waiting up to a few seconds.
	Receive(ctx context.Context, n int) ([]Received, error)
	// Empty reports that no further message is waiting.
	Empty(ctx context.Context) (bool, error)
	// Route is where an event of type typ ("wharf.shipment.delivered")
	// is expected.
	Route(typ string) string
	// Dedupes: the broker drops an ID it stored recently.
	Dedupes() bool
}

// Events returns n outbox events as the publisher hands them to sinks.
func Events(t testing.TB, n int) []*events.Event {
	t.Helper()
	types := []string{"order.created", "shipment.shipped", "shipment.delivered", "billing.released", "message.dead_letter"}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var out []*events.Event
	for i := range n {
		e, err := events.FromOutbox(&store.OutboxEvent{Pos: int64(i + 1), ID: store.NewID(), At: at.Add(time.Duration(i) * time.Millisecond),
			Type: types[i%len(types)], ObjectKind: "shipment", ObjectKey: fmt.Sprintf("SH-%d", i), Subject: fmt.Sprintf("SH-%d", i),
			PartnerID: "acme", MessageID: "m-1", CorrelationID: "corr-1", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}, "/wharf/test")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// Exercise runs the suite. open returns a fresh sink and the broker side
// of it, isolated from every other test.
func Exercise(t *testing.T, open func(t *testing.T) (events.Sink, Broker)) {
	ctx := context.Background()
	check := func(t *testing.T, b Broker, want []*events.Event, got []Received) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("received %d messages, want %d", len(got), len(want))
		}
		for i, r := range got {
			ce, err := events.Parse(r.Body)
			if err != nil {
				t.Fatalf("message %d: %v\n%s", i, err, r.Body)
			}
			w := want[i]
			if ce.ID != w.ID || ce.Type != w.Type || ce.Subject != w.Subject || ce.Source != "/wharf/test" || ce.Time != w.Time ||
				ce.Partner != "acme" || ce.Correlation != "corr-1" || ce.Seq != w.Seq || string(ce.Data) != string(w.Data) {
				t.Fatalf("message %d is not event %d:\n got %s\nwant %s", i, i, r.Body, w.JSON)
			}
			if r.ID != w.ID {
				t.Fatalf("message %d: dedupe ID %q, want the event ID %q", i, r.ID, w.ID)
			}
			if r.Route != b.Route(w.Type) {
				t.Fatalf("message %d: route %q, want %q", i, r.Route, b.Route(w.Type))
			}
			if !r.Durable {
				t.Fatalf("message %d is not stored durably", i)
			}
		}
	}

	// publishInOrder publishes n events at once and checks that they
	// arrive whole and in order.
	publishInOrder := func(t *testing.T, n int) {
		s, b := open(t)
		evs := Events(t, n)
		acked, err := s.Publish(ctx, evs)
		if err != nil || acked != len(evs) {
			t.Fatalf("publish: %d acknowledged, %v", acked, err)
		}
		got, err := b.Receive(ctx, len(evs))
		if err != nil {
			t.Fatal(err)
		}
		check(t, b, evs, got)
	}

	t.Run("InOrder", func(t *testing.T) { publishInOrder(t, 7) })

	t.Run("Republish", func(t *testing.T) {
		// A crash after publishing and before the cursor moved sends the
		// same events again: acknowledged again, never an error.
		s, b := open(t)
		evs := Events(t, 3)
		for range 2 {
			if n, err := s.Publish(ctx, evs); err != nil || n != 3 {
				t.Fatalf("publish: %d acknowledged, %v", n, err)
			}
		}
		want := evs
		if !b.Dedupes() {
			want = append(append([]*events.Event{}, evs...), evs...)
		}
		got, err := b.Receive(ctx, len(want))
		if err != nil {
			t.Fatal(err)
		}
		check(t, b, want, got)
		if empty, err := b.Empty(ctx); err != nil || !empty {
			t.Fatalf("more messages than expected (the broker dedupes: %v): %v", b.Dedupes(), err)
		}
	})

	t.Run("BigBatch", func(t *testing.T) { publishInOrder(t, 2000) })

	t.Run("Cancelled", func(t *testing.T) {
		s, _ := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		evs := Events(t, 50)
		n, err := s.Publish(cctx, evs)
		if err == nil || n >= len(evs) || n < 0 {
			t.Fatalf("a cancelled publish: %d of %d acknowledged, error %v; want an error and fewer", n, len(evs), err)
		}
		// The sink still works after it.
		if n, err := s.Publish(ctx, evs[:1]); err != nil || n != 1 {
			t.Fatalf("publish after a cancelled one: %d %v", n, err)
		}
	})
}
