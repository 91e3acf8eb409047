package nats

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wharfedi/wharf/events"
)

// ConsumeOptions say where Consume reads.
type ConsumeOptions struct {
	URL string
	// Stream holds Subject (it must exist: the publisher owns it).
	Stream  string
	Subject string
	// Durable names the durable consumer, which remembers across restarts
	// what was acknowledged.
	Durable string
	// AckWait is how long a message taken and not acknowledged waits
	// before JetStream delivers it again (default 30s).
	AckWait time.Duration
	// Retry is how long a message the handler failed on waits before it
	// is delivered again (default 5s).
	Retry time.Duration
	Name  string
	// Acked, when set, is called after JetStream confirmed a message's
	// acknowledgment.
	Acked func(m *events.In)
}

// Consume takes the messages of a durable consumer on o.Subject and hands
// each one to handle; it acknowledges a message (and waits for JetStream
// to confirm the acknowledgment) only after handle returned nil, and asks
// for it again after o.Retry otherwise. It blocks until ctx ends (nil) or
// the connection or consumer fails (the error; call it again).
//
// The message's identity, the idempotency key handle gets in In.ID, is
// "nats:STREAM:SEQUENCE:TIMESTAMP": the same on every redelivery, and not
// taken for another message when a stream is recreated with the same name.
func Consume(ctx context.Context, o ConsumeOptions, handle func(ctx context.Context, m *events.In) error) error {
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	nc, err := natsgo.Connect(o.URL, natsgo.Name(orName(o.Name)), natsgo.Timeout(10*time.Second), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(time.Second))
	if err != nil {
		return fmt.Errorf("nats: connect to %s: %w (is nats-server running there with -js?)", Redact(o.URL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: %s: %w", Redact(o.URL), err)
	}
	st, err := js.Stream(ctx, o.Stream)
	if err != nil {
		return fmt.Errorf("nats: stream %s on %s: %w (the stream holding %s must exist)", o.Stream, Redact(o.URL), err, o.Subject)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: o.Durable, FilterSubject: o.Subject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: o.AckWait, MaxAckPending: 64, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("nats: consumer %s on stream %s (%s): %w", o.Durable, o.Stream, o.Subject, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(16))
	if err != nil {
		return fmt.Errorf("nats: consume %s: %w", o.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	addr := fmt.Sprintf("%s stream %s consumer %s", Redact(o.URL), o.Stream, o.Durable)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped: Stop closed the iterator
			}
			return fmt.Errorf("nats: consume %s: %w", addr, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("nats: consume %s: %w", addr, err)
		}
		in := &events.In{Body: msg.Data(), Header: map[string]string{}, Name: msg.Subject(),
			ID:   "nats:" + o.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10) + ":" + strconv.FormatInt(meta.Timestamp.UnixNano(), 10),
			Addr: addr + " sequence " + strconv.FormatUint(meta.Sequence.Stream, 10)}
		for k, v := range msg.Headers() {
			if len(v) > 0 {
				in.Header[strings.ToLower(k)] = v[0]
			}
		}
		if err := handle(ctx, in); err != nil {
			if ctx.Err() != nil {
				return nil // not acknowledged: delivered again after AckWait
			}
			_ = msg.NakWithDelay(o.Retry)
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = msg.DoubleAck(actx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// Archived, not acknowledged: JetStream delivers it again after
			// AckWait, and the archive finds it by its idempotency key.
			return fmt.Errorf("nats: acknowledge %s: %w", in.ID, err)
		}
		if err == nil && o.Acked != nil {
			o.Acked(in)
		}
	}
}
