package amqp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wharfedi/wharf/events"
)

// ConsumeOptions say where Consume reads.
type ConsumeOptions struct {
	URL string
	// Queue is declared durable when it does not exist (the publisher binds
	// it to its exchange).
	Queue string
	// Retry is how long Consume waits before it gives back a message the
	// handler failed on (default 5s): RabbitMQ delivers it again at once.
	Retry time.Duration
	// Prefetch is how many unacknowledged messages the broker hands out
	// (default 16).
	Prefetch int
	// Acked, when set, is called after a message's acknowledgment was sent.
	Acked func(m *events.In)
}

// Consume takes the queue's messages and hands each one to handle; it
// acknowledges a message only after handle returned nil, and gives it
// back (requeued) otherwise. A connection that closes with messages not
// acknowledged has RabbitMQ deliver them again (redelivered). It blocks
// until ctx ends (nil) or the connection fails (the error; call it again).
//
// The message's identity, In.ID: "amqp:QUEUE:MESSAGE-ID" when the
// publisher set message-id (it should: CloudEvents' id), else
// "amqp:QUEUE:sha256:DIGEST" of the body, the same on every redelivery.
func Consume(ctx context.Context, o ConsumeOptions, handle func(ctx context.Context, m *events.In) error) error {
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 16
	}
	conn, err := amqp.DialConfig(o.URL, amqp.Config{Dial: amqp.DefaultDial(10 * time.Second), Heartbeat: 10 * time.Second,
		Properties: amqp.Table{"connection_name": "wharf events in " + o.Queue}})
	if err != nil {
		return fmt.Errorf("amqp: connect to %s: %w (is RabbitMQ running there, and are the user and password right?)", Redact(o.URL), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Qos(o.Prefetch, 0, false)
	}
	if err == nil {
		_, err = ch.QueueDeclare(o.Queue, true, false, false, false, nil)
	}
	if err != nil {
		return fmt.Errorf("amqp: queue %s on %s: %w", o.Queue, Redact(o.URL), err)
	}
	deliveries, err := ch.ConsumeWithContext(ctx, o.Queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("amqp: consume %s on %s: %w", o.Queue, Redact(o.URL), err)
	}
	addr := fmt.Sprintf("%s queue %s", Redact(o.URL), o.Queue)
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case d, ok = <-deliveries:
		}
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("amqp: consume %s: the channel closed (%v)", addr, conn.IsClosed())
		}
		in := &events.In{Body: d.Body, Header: map[string]string{}, Name: d.RoutingKey, Addr: addr}
		if in.Name == "" {
			in.Name = o.Queue
		}
		if d.ContentType != "" {
			in.Header["content-type"] = d.ContentType
		}
		for k, v := range d.Headers {
			if s, ok := v.(string); ok {
				in.Header[strings.ToLower(k)] = s
			}
		}
		if d.MessageId != "" {
			in.ID = "amqp:" + o.Queue + ":" + d.MessageId
		} else {
			sum := sha256.Sum256(d.Body)
			in.ID = "amqp:" + o.Queue + ":sha256:" + hex.EncodeToString(sum[:])
		}
		if err := handle(ctx, in); err != nil {
			select {
			case <-ctx.Done():
				return nil // not acknowledged: the broker delivers it again
			case <-time.After(o.Retry):
			}
			if err := d.Nack(false, true); err != nil {
				return fmt.Errorf("amqp: give back %s: %w", in.ID, err)
			}
			continue
		}
		if err := d.Ack(false); err != nil {
			// Archived, not acknowledged: delivered again after the
			// reconnection, found in the archive by its idempotency key.
			return fmt.Errorf("amqp: acknowledge %s: %w", in.ID, err)
		}
		if o.Acked != nil {
			o.Acked(in)
		}
	}
}
