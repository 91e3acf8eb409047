// Package webhook publishes Wharf's events as CloudEvents webhooks
// through the delivery engine: the sink archives each event as an
// outbound message of a partner (transport "cloudevents:SUBSCRIPTION"),
// and the engine's delivery job POSTs it to the subscription's URL with
// the same signature as every Wharf webhook (X-Wharf-Signature,
// transports/http.Sign), retrying with backoff, dead-lettering after the
// last attempt (an exception for the operators) and replaying from the
// console or 'wharf replay' like any other outbound message.
//
// Why the delivery engine and not a sink with retries of its own: an
// endpoint that refuses one event (a 4xx) would otherwise hold every
// later event of the subscription back for good, as a broker refusing a
// subject does; through the engine the refused event becomes a dead
// letter that an operator sees, fixes and replays, and the others go on.
// The price: events are delivered at least once but not in order (each
// is its own delivery job, retried on its own); receivers order them by
// time or by the wharfseq extension and deduplicate by id.
//
// The sink counts an event as acknowledged once it is archived (durable,
// its delivery job committed with it). Archiving is idempotent per
// subscription and event ID, so a publisher that republishes after a
// crash adds no second message.
//
// Modes (CloudEvents HTTP protocol binding 1.0):
//
//   - structured: the body is the event in JSON, Content-Type
//     application/cloudevents+json;
//   - binary: the body is the event's data, Content-Type its
//     datacontenttype (application/json), the attributes in ce-* headers
//     (ce-specversion, ce-id, ce-source, ce-type, ce-subject, ce-time,
//     ce-dataschema, ce-wharfpartner, ce-wharfcorrelation, ce-wharfmessage,
//     ce-wharfobject, ce-wharfseq).
//
// Either way the signature covers the body as sent, and Idempotency-Key
// is the same on every attempt at one event.
//
// Loops: the messages that carry events make message events themselves
// (received, delivered, dead letter) and their dead letters exceptions. A
// webhook subscription to message.* or exception.* would send those out
// again, as new messages, without end; Carrier tells such events apart and
// the application excludes them from every webhook subscription (two
// webhook subscriptions would otherwise feed each other).
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// TransportPrefix starts the transport name of the messages that carry a
// subscription's events: "cloudevents:" + the subscription's name.
const TransportPrefix = "cloudevents:"

// Transport is the transport name of subscription sub's messages.
func Transport(sub string) string { return TransportPrefix + sub }

// IsCarrier reports whether a message of this transport carries events.
func IsCarrier(transport string) bool { return strings.HasPrefix(transport, TransportPrefix) }

// Modes.
const (
	Structured = "structured"
	Binary     = "binary"
)

// Archiver archives a document (*archive.Archive).
type Archiver interface {
	Put(ctx context.Context, r io.Reader, m archive.Meta) (*archive.Entry, error)
}

// Sink archives events as outbound messages for the delivery engine.
type Sink struct {
	Archive Archiver
	// Subscription names the subscription: its messages' transport is
	// Transport(Subscription).
	Subscription string
	// Partner is the partner the messages are filed under (their history,
	// dead letters and exceptions).
	Partner string
}

var _ events.Sink = (*Sink)(nil)

// Publish archives each event in order; it returns how many were archived.
func (s *Sink) Publish(ctx context.Context, evs []*events.Event) (int, error) {
	for i, e := range evs {
		if err := ctx.Err(); err != nil {
			return i, fmt.Errorf("webhook %s: %w", s.Subscription, err)
		}
		_, err := s.Archive.Put(ctx, bytes.NewReader(e.JSON), archive.Meta{
			Partner: s.Partner, Direction: store.Outbound, Transport: Transport(s.Subscription),
			RemoteName: strings.TrimPrefix(e.Type, events.TypePrefix) + "." + e.ID + ".json", CorrelationID: e.Correlation,
			IdempotencyKey: "event:" + s.Subscription + ":" + e.ID, Generated: true,
			Note: fmt.Sprintf("CloudEvent %s (%s) for the webhook subscription %s", e.ID, e.Type, s.Subscription),
		})
		if err != nil {
			return i, fmt.Errorf("webhook %s: archive event %s: %w", s.Subscription, e.ID, err)
		}
	}
	return len(evs), nil
}

// Close implements events.Sink.
func (s *Sink) Close() error { return nil }

// Sender POSTs a carrier message's event to the subscription's URL: the
// delivery route of Transport(subscription).
type Sender struct {
	URL     string
	Secret  []byte
	Mode    string // Structured (default) or Binary
	Timeout time.Duration
	Now     func() time.Time
}

var _ delivery.Sender = (*Sender)(nil)

// Send implements delivery.Sender.
func (s *Sender) Send(ctx context.Context, d *delivery.Delivery) (string, error) {
	rc, err := d.Open(ctx)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return "", err
	}
	out := whttp.Outgoing{MessageID: d.MessageID, Partner: d.Partner, Name: d.Name, SHA256: d.SHA256,
		IdempotencyKey: d.IdempotencyKey, ContentType: events.ContentType}
	if s.Mode == Binary {
		ce, err := events.Parse(body)
		if err != nil {
			return "", fmt.Errorf("%w: message %s is not a CloudEvent: %v", lifecycle.ErrPermanent, d.MessageID, err)
		}
		body, out.ContentType, out.Header = ce.Data, ce.DataContentType, BinaryHeaders(ce)
		sum := sha256.Sum256(body) // the body's digest, not the archived event's
		out.SHA256 = hex.EncodeToString(sum[:])
	}
	out.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	wh := &whttp.Webhook{URL: s.URL, Secret: s.Secret, Timeout: s.Timeout, Now: s.Now}
	return wh.Send(ctx, out)
}

// BinaryHeaders are the ce-* headers of an event in binary mode.
func BinaryHeaders(ce *events.CloudEvent) map[string]string {
	h := map[string]string{"ce-specversion": ce.SpecVersion, "ce-id": ce.ID, "ce-source": ce.Source, "ce-type": ce.Type, "ce-time": ce.Time}
	for k, v := range map[string]string{"ce-subject": ce.Subject, "ce-dataschema": ce.DataSchema, "ce-wharfpartner": ce.Partner,
		"ce-wharfcorrelation": ce.Correlation, "ce-wharfmessage": ce.Message, "ce-wharfobject": ce.Object} {
		if v != "" {
			h[k] = v
		}
	}
	if ce.Seq != 0 {
		h["ce-wharfseq"] = strconv.FormatInt(ce.Seq, 10)
	}
	return h
}

// MessageGetter finds a message (store.Store).
type MessageGetter interface {
	GetMessage(ctx context.Context, id string) (*store.Message, error)
}

// Carrier returns the exclusion of webhook subscriptions: it reports
// whether an event is about a message that carries events (its message
// events, from the event's own data; the exceptions about it, by looking
// the message up, remembered).
func Carrier(st MessageGetter) func(ctx context.Context, e *store.OutboxEvent) (bool, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(ctx context.Context, e *store.OutboxEvent) (bool, error) {
		if e.ObjectKind == "message" {
			var d struct {
				Message struct {
					Transport string `json:"transport"`
				} `json:"message"`
			}
			if json.Unmarshal(e.Data, &d) == nil && d.Message.Transport != "" {
				return IsCarrier(d.Message.Transport), nil
			}
		}
		if e.MessageID == "" || e.ObjectKind != "exception" && e.ObjectKind != "message" {
			return false, nil // a milestone: its message is the document that caused it
		}
		mu.Lock()
		c, ok := seen[e.MessageID]
		mu.Unlock()
		if ok {
			return c, nil
		}
		m, err := st.GetMessage(ctx, e.MessageID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // purged: not one of ours any more, nor a loop
		}
		if err != nil {
			return false, fmt.Errorf("webhook: is message %s a carrier of events: %w", e.MessageID, err)
		}
		c = IsCarrier(m.Transport)
		mu.Lock()
		if len(seen) > 10000 {
			clear(seen)
		}
		seen[e.MessageID] = c
		mu.Unlock()
		return c, nil
	}
}
