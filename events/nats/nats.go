// Package nats publishes Wharf's events to NATS JetStream
// (github.com/nats-io/nats.go): one subject per event type (the type
// itself under a prefix, "wharf.shipment.delivered"), the CloudEvent in
// structured JSON as the body, and the event ID in the Nats-Msg-Id header,
// so that JetStream drops a republished event within the stream's
// duplicate window. A publish counts as done when JetStream acknowledged
// it as stored.
//
// It also reads events in: Consume takes messages from a durable consumer
// and acknowledges each one only after the handler (which archives it)
// returned without error.
package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wharfedi/wharf/events"
)

// Options configure a Sink.
type Options struct {
	// URL is the server, nats://HOST:PORT (a comma-separated list for a
	// cluster); user and password, when needed, in the URL's user info.
	URL string
	// Prefix starts every subject (default "wharf": subjects are the
	// CloudEvents types, wharf.shipment.delivered).
	Prefix string
	// Stream, when set, is created (or updated) to hold PREFIX.> with a
	// duplicate window of Duplicates (default 2m); otherwise a stream
	// covering the subjects must exist.
	Stream     string
	Duplicates time.Duration
	// Timeout bounds connecting and each batch's acknowledgments (default 10s).
	Timeout time.Duration
	// Name is the connection's name, as the server's monitoring shows it.
	Name string
}

// Sink publishes to JetStream. Safe for one publishing goroutine.
type Sink struct {
	o  Options
	nc *natsgo.Conn
	js jetstream.JetStream
}

var _ events.Sink = (*Sink)(nil)

// Redact returns the URL without its password, for messages.
func Redact(u string) string {
	var out []string
	for _, one := range strings.Split(u, ",") {
		if p, err := url.Parse(one); err == nil {
			out = append(out, p.Redacted())
		} else {
			out = append(out, "(unparseable URL)")
		}
	}
	return strings.Join(out, ",")
}

// Connect connects to the server and, when o.Stream is set, makes sure
// the stream exists.
func Connect(ctx context.Context, o Options) (*Sink, error) {
	if o.Prefix == "" {
		o.Prefix = "wharf"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 2 * time.Minute
	}
	nc, err := natsgo.Connect(o.URL, natsgo.Name(orName(o.Name)), natsgo.Timeout(o.Timeout),
		natsgo.MaxReconnects(-1), natsgo.ReconnectWait(time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w (is nats-server running there with -js?)", Redact(o.URL), err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(o.Timeout), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %s: %w", Redact(o.URL), err)
	}
	s := &Sink{o: o, nc: nc, js: js}
	if o.Stream != "" {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: o.Stream, Subjects: []string{o.Prefix + ".>"},
			Storage: jetstream.FileStorage, Duplicates: o.Duplicates})
		if isOverlap(err) {
			// Another stream holds the subjects already: publish into it.
			if _, e2 := js.StreamNameBySubject(ctx, o.Prefix+".>"); e2 == nil {
				err = nil
			}
		}
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats: create stream %s for %s.> on %s: %w (is JetStream enabled, nats-server -js?)", o.Stream, o.Prefix, Redact(o.URL), err)
		}
	}
	return s, nil
}

// isOverlap: the server refused a stream whose subjects another holds
// (JetStream error code 10065).
func isOverlap(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10065
}

func orName(n string) string {
	if n == "" {
		return "wharf"
	}
	return n
}

// Subject is the subject an event of type typ ("wharf.shipment.delivered")
// is published on.
func (s *Sink) Subject(typ string) string {
	return s.o.Prefix + "." + strings.TrimPrefix(typ, events.TypePrefix)
}

// Publish sends evs asynchronously, then waits for JetStream's
// acknowledgments; it returns the count of acknowledged events before the
// first that was not.
func (s *Sink) Publish(ctx context.Context, evs []*events.Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("nats: publish to %s: %w", Redact(s.o.URL), err)
	}
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var sendErr error
	for _, e := range evs {
		m := natsgo.NewMsg(s.Subject(e.Type))
		m.Data = e.JSON
		m.Header.Set("Content-Type", events.ContentType)
		f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(e.ID))
		if err != nil {
			sendErr = err
			break
		}
		futures = append(futures, f)
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	acked := 0
	var firstErr error
	for i, f := range futures {
		select {
		case <-f.Ok():
			if firstErr == nil {
				acked++
			}
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("nats: publish %s (event %s) to %s: %w", s.Subject(evs[i].Type), evs[i].ID, Redact(s.o.URL), err)
			}
		case <-ctx.Done():
			if firstErr == nil {
				firstErr = fmt.Errorf("nats: no acknowledgment for %s (event %s) from %s: %w", s.Subject(evs[i].Type), evs[i].ID, Redact(s.o.URL), ctx.Err())
			}
		}
		if firstErr != nil && ctx.Err() != nil {
			break
		}
	}
	if firstErr != nil {
		if errors.Is(firstErr, jetstream.ErrNoStreamResponse) || errors.Is(firstErr, natsgo.ErrNoResponders) {
			firstErr = fmt.Errorf("%w; no stream holds %s.>: set the subscription's stream, or create one (nats stream add)", firstErr, s.o.Prefix)
		}
		return acked, firstErr
	}
	if sendErr != nil {
		return acked, fmt.Errorf("nats: publish %s (event %s) to %s: %w", s.Subject(evs[acked].Type), evs[acked].ID, Redact(s.o.URL), sendErr)
	}
	return acked, nil
}

// Close drains the connection.
func (s *Sink) Close() error {
	s.nc.Close()
	return nil
}

// Conn is the underlying connection (for tests and the inbound side).
func (s *Sink) Conn() *natsgo.Conn { return s.nc }

// JetStream is the JetStream context of the connection.
func (s *Sink) JetStream() jetstream.JetStream { return s.js }
