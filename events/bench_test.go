package events_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/events"
	wamqp "github.com/wharfedi/wharf/events/amqp"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/events/sinktest"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Benchmarks (docs/benchmarks.md):
//
//	go test ./events -run '^$' -bench 'Sink|Drain' -benchtime 20000x
//	go test ./events -run '^$' -bench Latency -benchtime 1x

func benchNATS(b *testing.B) events.Sink {
	url := testenv.NATS(b)
	prefix, stream := testenv.RandName("wharfbench"), testenv.RandName("WHARFBENCH")
	s, err := wnats.Connect(context.Background(), wnats.Options{URL: url, Prefix: prefix, Stream: stream})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.JetStream().DeleteStream(context.Background(), stream)
		s.Close()
	})
	return s
}

func benchAMQP(b *testing.B) events.Sink {
	url := testenv.RabbitMQ(b)
	exchange, queue := testenv.RandName("wharfbench."), testenv.RandName("wharfbench.")
	s, err := wamqp.Connect(context.Background(), wamqp.Options{URL: url, Exchange: exchange, Queue: queue})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if ch, err := s.Channel(); err == nil {
			_, _ = ch.QueueDelete(queue, false, false, false)
			_ = ch.ExchangeDelete(exchange, false, false)
		}
		s.Close()
	})
	return s
}

// BenchmarkSink: a sink alone, batches of 500 (what the publisher hands it).
func BenchmarkSink(b *testing.B) {
	for _, k := range []struct {
		name string
		open func(*testing.B) events.Sink
	}{{"NATS", benchNATS}, {"RabbitMQ", benchAMQP}} {
		b.Run(k.name, func(b *testing.B) {
			s := k.open(b)
			evs := sinktest.Events(b, 500)
			b.ResetTimer()
			for done := 0; done < b.N; done += len(evs) {
				n := min(len(evs), b.N-done)
				if got, err := s.Publish(context.Background(), evs[:n]); err != nil || got != n {
					b.Fatalf("%d of %d: %v", got, n, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkDrain: the publisher draining b.N committed events from the
// outbox to the broker (assign positions, read, filter, publish, move the
// cursor), per store and sink.
func BenchmarkDrain(b *testing.B) {
	for _, driver := range testenv.Drivers {
		for _, k := range []struct {
			name string
			open func(*testing.B) events.Sink
		}{{"NATS", benchNATS}, {"RabbitMQ", benchAMQP}} {
			b.Run(driver+"/"+k.name, func(b *testing.B) {
				st := testenv.OpenStore(b, driver)
				ctx := context.Background()
				sub := &events.Subscription{Name: "bench", Sink: k.open(b)}
				pub := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "bench"}
				if _, err := pub.Step(ctx, sub); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < b.N; i += 200 {
					if err := st.WithTx(ctx, func(tx store.Tx) error {
						for j := i; j < min(i+200, b.N); j++ {
							if err := tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "shipment.status", ObjectKind: "shipment", ObjectKey: "SH-" + itoa(j)}); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				total := 0
				for total < b.N {
					n, err := pub.Step(ctx, sub)
					if err != nil {
						b.Fatal(err)
					}
					total += n
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}

// timed wraps a real sink and notes when the broker acknowledged each event.
type timed struct {
	events.Sink
	mu    sync.Mutex
	acked map[string]time.Time
}

func (t *timed) Publish(ctx context.Context, evs []*events.Event) (int, error) {
	n, err := t.Sink.Publish(ctx, evs)
	now := time.Now()
	t.mu.Lock()
	for _, e := range evs[:n] {
		if _, ok := t.acked[e.ID]; !ok {
			t.acked[e.ID] = now
		}
	}
	t.mu.Unlock()
	return n, err
}

// BenchmarkLatency: 100 events/s for 5 s, each committed in a transaction
// of its own while the publisher runs; the time from the commit's return
// to the broker's acknowledgment, p50 and p99.
func BenchmarkLatency(b *testing.B) {
	for _, driver := range testenv.Drivers {
		for _, k := range []struct {
			name string
			open func(*testing.B) events.Sink
		}{{"NATS", benchNATS}, {"RabbitMQ", benchAMQP}} {
			b.Run(driver+"/"+k.name, func(b *testing.B) {
				st := testenv.OpenStore(b, driver)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				sink := &timed{Sink: k.open(b), acked: map[string]time.Time{}}
				sub := &events.Subscription{Name: "bench", Sink: sink}
				pub := &events.Publisher{Store: st, Subs: []*events.Subscription{sub}, Owner: "bench"}
				if _, err := pub.Step(ctx, sub); err != nil {
					b.Fatal(err)
				}
				go pub.Run(ctx)
				committed := map[string]time.Time{}
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for i := range 500 * b.N {
					<-tick.C
					e := &store.OutboxEvent{Type: "shipment.status", ObjectKind: "shipment", ObjectKey: "SH-" + itoa(i)}
					if err := st.WithTx(ctx, func(tx store.Tx) error { return tx.AppendOutbox(ctx, e) }); err != nil {
						b.Fatal(err)
					}
					committed[e.ID] = time.Now()
				}
				deadline := time.Now().Add(30 * time.Second)
				var lat []time.Duration
				for time.Now().Before(deadline) {
					sink.mu.Lock()
					n := len(sink.acked)
					sink.mu.Unlock()
					if n >= len(committed) {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				sink.mu.Lock()
				for id, c := range committed {
					if a, ok := sink.acked[id]; ok {
						lat = append(lat, a.Sub(c))
					}
				}
				sink.mu.Unlock()
				if len(lat) != len(committed) {
					b.Fatalf("%d of %d events acknowledged", len(lat), len(committed))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
