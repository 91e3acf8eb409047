package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wharfedi/wharf/events"
	wamqp "github.com/wharfedi/wharf/events/amqp"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// order returns the canonical order of testdata with its own order number.
func order(t *testing.T, number string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/canonical/order.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	doc["order_number"] = number
	out, _ := json.Marshal(doc)
	return out
}

// inMsg is a message a test publishes to a broker: body and headers.
type inMsg struct {
	body   []byte
	header map[string]string
	id     string // a message ID for the broker (AMQP message-id), when the publisher sets one
}

// brokerIn is one broker as a source of documents in a test.
type brokerIn struct {
	name    string
	config  func(t *testing.T) string // the events_in entry (YAML flow mapping)
	publish func(t *testing.T, m inMsg)
	drained func(t *testing.T) bool // every message taken and acknowledged
}

func natsIn(t *testing.T) *brokerIn {
	url := testenv.NATS(t)
	ctx := context.Background()
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	stream, subject := testenv.RandName("WMSIN"), testenv.RandName("wmsin")
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), stream) })
	return &brokerIn{name: "nats",
		config: func(t *testing.T) string {
			return fmt.Sprintf("{name: wms-nats, from: %q, partner: erp1, stream: %s, subject: %s.>}", url, stream, subject)
		},
		publish: func(t *testing.T, m inMsg) {
			msg := natsgo.NewMsg(subject + ".order")
			msg.Data = m.body
			for k, v := range m.header {
				msg.Header.Set(k, v)
			}
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
		},
		drained: func(t *testing.T) bool {
			c, err := st.Consumer(ctx, "wms-nats")
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			return err == nil && info.NumPending == 0 && info.NumAckPending == 0
		},
	}
}

func amqpIn(t *testing.T) *brokerIn {
	url := testenv.RabbitMQ(t)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	queue := testenv.RandName("wms-in-")
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.QueueDelete(queue, false, false, false) })
	user := strings.SplitN(strings.TrimPrefix(url, "amqp://"), "@", 2)
	return &brokerIn{name: "amqp",
		config: func(t *testing.T) string {
			// The password from the environment, as a configuration must.
			u, pw, _ := strings.Cut(user[0], ":")
			t.Setenv("AMQP_IN_TEST_PASSWORD", pw)
			return fmt.Sprintf("{name: wms-amqp, from: %q, password_env: AMQP_IN_TEST_PASSWORD, partner: erp1, queue: %s}", "amqp://"+u+"@"+user[1], queue)
		},
		publish: func(t *testing.T, m inMsg) {
			p := amqp.Publishing{Body: m.body, DeliveryMode: amqp.Persistent, MessageId: m.id, Headers: amqp.Table{}}
			for k, v := range m.header {
				if strings.EqualFold(k, "content-type") {
					p.ContentType = v
				} else {
					p.Headers[strings.Replace(k, "ce-", "cloudEvents:", 1)] = v
				}
			}
			if err := ch.PublishWithContext(context.Background(), "", queue, false, false, p); err != nil {
				t.Fatal(err)
			}
		},
		drained: func(t *testing.T) bool {
			q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			return err == nil && q.Messages == 0
		},
	}
}

// Documents from NATS JetStream and RabbitMQ as an inbound transport of
// wharf serve: canonical JSON, a structured and a binary CloudEvent
// carrying it are processed like any inbound document; a message that is
// not JSON is archived, rejected with its reason, and taken off the
// broker.
func TestEventsIn(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *brokerIn{"nats": natsIn, "amqp": amqpIn} {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			dir := t.TempDir()
			cfgFile := filepath.Join(dir, "wharf.yaml")
			os.WriteFile(cfgFile, fmt.Appendf(nil, "data: %s\nhttp: {addr: \"127.0.0.1:0\"}\nsftp: {addr: \"127.0.0.1:0\"}\npartners:\n  - {id: erp1, role: erp}\nevents_in:\n  - %s\n",
				filepath.Join(dir, "data"), b.config(t)), 0o600)
			c := mustConfig(t, cfgFile)
			ctx, cancel := context.WithCancel(t.Context())
			a, err := New(ctx, c, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			defer func() { cancel(); <-done }()

			ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "wms-evt-2", "source": "/wms", "type": "com.example.wms.order",
				"datacontenttype": "application/json", "data": json.RawMessage(order(t, "PO-IN-2"))})
			b.publish(t, inMsg{body: order(t, "PO-IN-1"), header: map[string]string{"Content-Type": "application/json"}, id: "m1"})
			b.publish(t, inMsg{body: ce, header: map[string]string{"Content-Type": events.ContentType}, id: "m2"})
			b.publish(t, inMsg{body: order(t, "PO-IN-3"), id: "m3", header: map[string]string{"ce-specversion": "1.0", "ce-id": "wms-evt-3",
				"ce-source": "/wms", "ce-type": "com.example.wms.order", "Content-Type": "application/json"}})
			b.publish(t, inMsg{body: []byte("PO-IN-4;not json"), id: "m4"})

			var ms []*store.Message
			deadline := time.Now().Add(60 * time.Second)
			for {
				ms, err = a.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: "erp1", Direction: store.Inbound, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				settled := 0
				for _, m := range ms {
					if lifecycle.Status(m.Status) != lifecycle.StatusReceived {
						settled++
					}
				}
				if settled == 4 && len(ms) == 4 && b.drained(t) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 60 s: %d messages, %d settled; broker drained %v", len(ms), settled, b.drained(t))
				}
				time.Sleep(50 * time.Millisecond)
			}
			byNumber := map[string]*store.Message{}
			for _, m := range ms {
				if m.Transport != b.name {
					t.Errorf("message %s: transport %q, want %q", m.ID, m.Transport, b.name)
				}
				rc, _, err := a.Archive.Get(ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					OrderNumber string `json:"order_number"`
				}
				body := make([]byte, 64<<10)
				n, _ := rc.Read(body)
				rc.Close()
				if json.Unmarshal(body[:n], &doc) == nil && doc.OrderNumber != "" {
					byNumber[doc.OrderNumber] = m
				} else {
					byNumber["malformed"] = m
				}
			}
			for _, n := range []string{"PO-IN-1", "PO-IN-2", "PO-IN-3"} {
				m := byNumber[n]
				if m == nil || lifecycle.Status(m.Status) != lifecycle.StatusProcessed {
					t.Fatalf("%s: %+v, want a processed canonical order (the CloudEvent's data archived)", n, m)
				}
				if o, err := a.Store.GetSyncObject(ctx, "order", n); err != nil || o == nil {
					t.Fatalf("%s: no sync object: %v", n, err)
				}
			}
			bad := byNumber["malformed"]
			if bad == nil || (lifecycle.Status(bad.Status) != lifecycle.StatusRejected && lifecycle.Status(bad.Status) != lifecycle.StatusUnrecognized) {
				t.Fatalf("the malformed message: %+v, want archived and rejected", bad)
			}
			evs, err := a.Store.Events(ctx, bad.ID)
			if err != nil {
				t.Fatal(err)
			}
			var history []string
			for _, e := range evs {
				history = append(history, string(e.Kind)+": "+e.Detail)
			}
			if h := strings.Join(history, "\n"); !strings.Contains(h, "the body is not JSON") {
				t.Fatalf("the malformed message's history does not say why:\n%s", h)
			}
		})
	}
}

// A message archived and not acknowledged (the consumer stopped, or
// crashed, between the two) is delivered again after a reconnection and
// archived once: the broker's identity of the message is the archive's
// idempotency key.
func TestEventsInRedelivered(t *testing.T) {
	for _, name := range []string{"nats", "amqp"} {
		t.Run(name, func(t *testing.T) {
			var b *brokerIn
			if name == "nats" {
				b = natsIn(t)
			} else {
				b = amqpIn(t)
			}
			dir := t.TempDir()
			cfgFile := filepath.Join(dir, "wharf.yaml")
			os.WriteFile(cfgFile, fmt.Appendf(nil, "data: %s\npartners:\n  - {id: erp1, role: erp}\nevents_in:\n  - %s\n", filepath.Join(dir, "data"), b.config(t)), 0o600)
			c := mustConfig(t, cfgFile)
			ctx := t.Context()
			a, err := New(ctx, c, Options{}) // not run: this test is the consumer
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			in := &events.Inbound{Receiver: a.Gateway, History: a.Store, Partner: "erp1", Transport: name}
			b.publish(t, inMsg{body: order(t, "PO-AGAIN"), id: "again-1"})

			var mu sync.Mutex
			var ids []string // the message each delivery was archived as
			var keys []string
			consume := func(crash bool) {
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				handle := func(ctx context.Context, m *events.In) error {
					err := in.Handle(ctx, m)
					ms, _ := a.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: "erp1", Limit: 10})
					mu.Lock()
					keys = append(keys, m.ID)
					for _, x := range ms {
						ids = append(ids, x.ID)
					}
					mu.Unlock()
					if crash {
						cancel() // gone before the acknowledgment
						return fmt.Errorf("crashed")
					}
					return err
				}
				acked := func(*events.In) { cancel() } // one message: done
				u, _ := c.EventInURL(c.EventsIn[0])
				var err error
				if name == "nats" {
					err = wnats.Consume(cctx, wnats.ConsumeOptions{URL: u, Stream: c.EventsIn[0].Stream, Subject: c.EventsIn[0].Subject,
						Durable: c.EventsIn[0].Name, AckWait: time.Second, Acked: acked}, handle)
				} else {
					err = wamqp.Consume(cctx, wamqp.ConsumeOptions{URL: u, Queue: c.EventsIn[0].Queue, Acked: acked}, handle)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			waitDrained := func(want bool) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for b.drained(t) != want {
					if time.Now().After(deadline) {
						t.Fatalf("the broker: message taken and acknowledged %v, want %v", !want, want)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			consume(true)
			waitDrained(false) // never acknowledged: still the broker's
			consume(false)
			waitDrained(true)
			mu.Lock()
			defer mu.Unlock()
			if len(keys) != 2 || keys[0] != keys[1] {
				t.Fatalf("deliveries %v: want the same message twice", keys)
			}
			if len(ids) != 2 || ids[0] != ids[1] {
				t.Fatalf("archived as %v: want one message, found by its idempotency key on the redelivery", ids)
			}
			t.Logf("delivered twice as %s, archived once as message %s", keys[0], ids[0])
		})
	}
}
