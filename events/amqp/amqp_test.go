package amqp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wharfedi/wharf/events"
	wamqp "github.com/wharfedi/wharf/events/amqp"
	"github.com/wharfedi/wharf/events/sinktest"
	"github.com/wharfedi/wharf/internal/testenv"
)

// broker reads the test's durable queue, bound to its exchange with "#".
type broker struct {
	ch    *amqp.Channel
	queue string
}

func (b *broker) Route(typ string) string { return typ }
func (b *broker) Dedupes() bool           { return false }

func (b *broker) Receive(ctx context.Context, n int) ([]sinktest.Received, error) {
	var out []sinktest.Received
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		d, ok, err := b.ch.Get(b.queue, true)
		if err != nil {
			return out, err
		}
		if !ok {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		out = append(out, sinktest.Received{Body: d.Body, ID: d.MessageId, Route: d.RoutingKey, Durable: d.DeliveryMode == amqp.Persistent})
	}
	if len(out) < n {
		return out, fmt.Errorf("received %d of %d messages", len(out), n)
	}
	return out, nil
}

func (b *broker) Empty(ctx context.Context) (bool, error) {
	_, ok, err := b.ch.Get(b.queue, true)
	return !ok, err
}

func open(t *testing.T) (*wamqp.Sink, *broker) {
	url := testenv.RabbitMQ(t)
	exchange, queue := testenv.RandName("wharftest."), testenv.RandName("wharftest.")
	s, err := wamqp.Connect(context.Background(), wamqp.Options{URL: url, Exchange: exchange, Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
		s.Close()
	})
	// The exchange and queue are durable: they outlive a broker restart.
	if err := ch.ExchangeDeclarePassive(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatalf("exchange %s is not a durable topic exchange: %v", exchange, err)
	}
	return s, &broker{ch: ch, queue: queue}
}

func TestSink(t *testing.T) {
	sinktest.Exercise(t, func(t *testing.T) (events.Sink, sinktest.Broker) {
		s, b := open(t)
		return s, b
	})
}

// A dropped connection is opened again on the next publish.
func TestReconnect(t *testing.T) {
	s, b := open(t)
	evs := sinktest.Events(t, 2)
	if n, err := s.Publish(context.Background(), evs[:1]); err != nil || n != 1 {
		t.Fatalf("first publish: %d %v", n, err)
	}
	ch, err := s.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// The connection goes away under the sink (a broker restart looks
	// the same to it).
	_ = ch.Close()
	s.Close()
	n, err := s.Publish(context.Background(), evs[1:])
	if err != nil || n != 1 {
		t.Fatalf("publish after the connection closed: %d %v", n, err)
	}
	b2, err := s.Channel()
	if err != nil {
		t.Fatal(err)
	}
	b.ch = b2
	got, err := b.Receive(context.Background(), 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("received %d: %v", len(got), err)
	}
}

func TestUnreachable(t *testing.T) {
	_, err := wamqp.Connect(context.Background(), wamqp.Options{URL: "amqp://guest:secret@127.0.0.1:1/", Timeout: time.Second})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("the error shows the password: %s", got)
	}
	t.Log(err)
}
