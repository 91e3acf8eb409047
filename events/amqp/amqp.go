// Package amqp publishes Wharf's events to RabbitMQ over AMQP 0-9-1
// (github.com/rabbitmq/amqp091-go): to a durable topic exchange with the
// event type as routing key ("wharf.shipment.delivered"; consumers bind
// "wharf.shipment.*" or "#"), the CloudEvent in structured JSON as a
// persistent message (delivery mode 2) whose message-id is the event ID.
// The channel is in confirm mode: a publish counts as done when the broker
// confirmed it (for a durable queue, once written to disk).
//
// A topic exchange drops what no queue is bound to; set Options.Queue to
// have a durable queue that keeps everything (bound with "#") declared
// with the exchange.
//
// It also reads events in: Consume takes deliveries from a queue and
// acknowledges each one only after the handler (which archives it)
// returned without error.
package amqp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wharfedi/wharf/events"
)

// Options configure a Sink.
type Options struct {
	// URL is amqp://USER:PASSWORD@HOST:PORT/VHOST (amqps:// for TLS).
	URL string
	// Exchange is the topic exchange, declared durable (default "wharf").
	Exchange string
	// Queue, when set, is a durable queue bound to the exchange with "#".
	Queue string
	// Timeout bounds connecting and each batch's confirmations (default 10s).
	Timeout time.Duration
}

// Sink publishes to RabbitMQ. Safe for one publishing goroutine.
type Sink struct {
	o    Options
	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

var _ events.Sink = (*Sink)(nil)

// Redact returns the URL without its password, for messages.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

// Connect connects, opens a confirming channel and declares the exchange
// (and queue).
func Connect(ctx context.Context, o Options) (*Sink, error) {
	if o.Exchange == "" {
		o.Exchange = "wharf"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	s := &Sink{o: o}
	if err := s.connect(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) connect() error {
	conn, err := amqp.DialConfig(s.o.URL, amqp.Config{Dial: amqp.DefaultDial(s.o.Timeout), Heartbeat: 10 * time.Second,
		Properties: amqp.Table{"connection_name": "wharf events"}})
	if err != nil {
		return fmt.Errorf("amqp: connect to %s: %w (is RabbitMQ running there, and are the user and password right?)", Redact(s.o.URL), err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = ch.ExchangeDeclare(s.o.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
		if err != nil {
			err = fmt.Errorf("declare topic exchange %s: %w (an exchange of that name and another kind exists?)", s.o.Exchange, err)
		}
	}
	if err == nil && s.o.Queue != "" {
		if _, err = ch.QueueDeclare(s.o.Queue, true, false, false, false, nil); err == nil {
			err = ch.QueueBind(s.o.Queue, "#", s.o.Exchange, false, nil)
		}
		if err != nil {
			err = fmt.Errorf("declare queue %s bound to %s: %w", s.o.Queue, s.o.Exchange, err)
		}
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("amqp: %s: %w", Redact(s.o.URL), err)
	}
	s.conn, s.ch = conn, ch
	return nil
}

// Publish sends evs as persistent messages and waits for the broker's
// confirmations; it returns the count confirmed before the first that was
// not. A closed connection is opened again on the next call.
func (s *Sink) Publish(ctx context.Context, evs []*events.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("amqp: publish to %s: %w", Redact(s.o.URL), err)
	}
	if s.ch == nil || s.ch.IsClosed() {
		if s.conn != nil {
			s.conn.Close()
		}
		if err := s.connect(); err != nil {
			s.conn, s.ch = nil, nil
			return 0, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	confirms := make([]*amqp.DeferredConfirmation, 0, len(evs))
	var sendErr error
	for _, e := range evs {
		dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.o.Exchange, e.Type, false, false, amqp.Publishing{
			ContentType: events.ContentType, DeliveryMode: amqp.Persistent, MessageId: e.ID, Type: e.Type,
			Timestamp: parseTime(e.Time), AppId: "wharf", Body: e.JSON,
		})
		if err != nil {
			sendErr = err
			break
		}
		confirms = append(confirms, dc)
	}
	acked := 0
	for i, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return acked, fmt.Errorf("amqp: no confirmation for event %s (%s) from %s: %w", evs[i].ID, evs[i].Type, Redact(s.o.URL), err)
		}
		if !ok {
			return acked, fmt.Errorf("amqp: %s refused event %s (%s) on exchange %s (nack)", Redact(s.o.URL), evs[i].ID, evs[i].Type, s.o.Exchange)
		}
		acked++
	}
	if sendErr != nil {
		if errors.Is(sendErr, amqp.ErrClosed) {
			s.ch = nil
		}
		return acked, fmt.Errorf("amqp: publish event %s (%s) to exchange %s on %s: %w", evs[acked].ID, evs[acked].Type, s.o.Exchange, Redact(s.o.URL), sendErr)
	}
	return acked, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Channel opens another channel on the sink's connection (tests, the
// inbound side).
func (s *Sink) Channel() (*amqp.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		return nil, fmt.Errorf("amqp: %s: not connected", Redact(s.o.URL))
	}
	return s.conn.Channel()
}

// Close closes the connection.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn.Close()
	}
	return nil
}
