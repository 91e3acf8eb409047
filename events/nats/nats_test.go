package nats_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wharfedi/wharf/events"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/events/sinktest"
	"github.com/wharfedi/wharf/internal/testenv"
)

// broker reads a test's stream with an ordered consumer.
type broker struct {
	s      *wnats.Sink
	prefix string
	cons   jetstream.Consumer
	file   bool // the stream is stored in files
}

func (b *broker) Route(typ string) string { return b.s.Subject(typ) }
func (b *broker) Dedupes() bool           { return true }

func (b *broker) Receive(ctx context.Context, n int) ([]sinktest.Received, error) {
	var out []sinktest.Received
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		batch, err := b.cons.Fetch(n-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return out, err
		}
		for m := range batch.Messages() {
			out = append(out, sinktest.Received{Body: m.Data(), ID: m.Headers().Get(jetstream.MsgIDHeader), Route: m.Subject(), Durable: b.file})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return out, err
		}
	}
	if len(out) < n {
		return out, fmt.Errorf("received %d of %d messages", len(out), n)
	}
	return out, nil
}

func (b *broker) Empty(ctx context.Context) (bool, error) {
	batch, err := b.cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return false, err
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	return n == 0, nil
}

// open connects a sink to a stream of the test's own, on subjects of its own.
func open(t *testing.T) (*wnats.Sink, *broker) {
	url := testenv.NATS(t)
	ctx := context.Background()
	prefix, stream := testenv.RandName("wharftest"), testenv.RandName("WHARFTEST")
	s, err := wnats.Connect(ctx, wnats.Options{URL: url, Prefix: prefix, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.JetStream().DeleteStream(context.Background(), stream)
		s.Close()
	})
	st, err := s.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != 2*time.Minute {
		t.Fatalf("stream %s: duplicate window %v, want 2m", stream, info.Config.Duplicates)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s, &broker{s: s, prefix: prefix, cons: cons, file: info.Config.Storage == jetstream.FileStorage}
}

func TestSink(t *testing.T) {
	sinktest.Exercise(t, func(t *testing.T) (events.Sink, sinktest.Broker) {
		s, b := open(t)
		return s, b
	})
}

// Without a stream for the subjects, publishing fails with a message that
// says what to do, and nothing counts as acknowledged.
func TestNoStream(t *testing.T) {
	url := testenv.NATS(t)
	s, err := wnats.Connect(context.Background(), wnats.Options{URL: url, Prefix: testenv.RandName("wharfnostream"), Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Publish(context.Background(), sinktest.Events(t, 3))
	if err == nil || n != 0 {
		t.Fatalf("publish without a stream: %d acknowledged, %v", n, err)
	}
	t.Log(err)
}

func TestUnreachable(t *testing.T) {
	_, err := wnats.Connect(context.Background(), wnats.Options{URL: "nats://127.0.0.1:1", Timeout: time.Second})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	t.Log(err)
}

// A stream of another name that holds the subjects already is used, not
// an error: CreateOrUpdate cannot make a second stream for them.
func TestStreamThere(t *testing.T) {
	s, b := open(t)
	other, err := wnats.Connect(context.Background(), wnats.Options{URL: testenv.NATS(t), Prefix: strings.TrimSuffix(b.Route("wharf.x"), ".x"), Stream: testenv.RandName("WHARFOTHER")})
	if err != nil {
		t.Fatalf("a second stream name for the same subjects: %v", err)
	}
	defer other.Close()
	evs := sinktest.Events(t, 2)
	if n, err := other.Publish(context.Background(), evs); err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	if got, err := b.Receive(context.Background(), 2); err != nil || len(got) != 2 {
		t.Fatalf("the existing stream received %d: %v", len(got), err)
	}
	_ = s
}
