// Package events publishes Wharf's milestones as CloudEvents: it reads the
// store's transactional outbox (written in the transaction of each change:
// sync milestones, exceptions opened and closed, message status changes)
// in commit order and hands each subscription's events to its Sink (NATS
// JetStream in events/nats, RabbitMQ in events/amqp, webhooks through the
// delivery engine), marking what the broker acknowledged.
//
// # Format
//
// Events are CloudEvents 1.0 (https://github.com/cloudevents/spec, version
// 1.0.2) in structured JSON mode (content type application/cloudevents+json):
//
//	specversion      "1.0"
//	id               the outbox row's ID (a UUIDv7): stable across retries, consumers deduplicate by it
//	source           the publisher's Source ("/wharf" unless configured)
//	type             "wharf." + the event, e.g. wharf.shipment.delivered, wharf.message.dead_letter
//	subject          the business key (shipment ID, order number, ...), a message or exception ID
//	time             when the change was made (RFC 3339, UTC)
//	datacontenttype  "application/json"
//	dataschema       the schema of data (docs/events.schema.json in the repository)
//	wharfpartner     the partner the change came from or concerns (extension)
//	wharfcorrelation the correlation ID of the message that caused it (extension)
//	wharfmessage     that message's ID (extension)
//	wharfobject      the kind of object (order, shipment, invoice, message, exception) (extension)
//	wharfseq         the event's position in the outbox: increasing in commit order (extension)
//	data             the payload: the object's state and the canonical document for a
//	                 milestone, the message's index entry, the exception
//
// # Delivery
//
// At least once, in order. A subscription's events are published in outbox
// order (so in order per object); its cursor moves only over events the
// broker acknowledged. A failed batch is retried from its first
// unacknowledged event with backoff; a crash republishes at most what was
// not marked. Consumers deduplicate by id (JetStream does it itself within
// its duplicate window through the Nats-Msg-Id header).
//
// Several instances: each subscription is published by the instance that
// holds its lease in the store (renewed every pass, taken over when it
// lapses), so in the normal path nothing is published twice.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// SpecVersion is the CloudEvents version Wharf writes.
const SpecVersion = "1.0"

// ContentType is the media type of a structured-mode CloudEvent.
const ContentType = "application/cloudevents+json"

// TypePrefix starts every event type Wharf publishes.
const TypePrefix = "wharf."

// DataSchema names the JSON Schema of the data of Wharf's events.
const DataSchema = "https://github.com/wharfedi/wharf/blob/main/docs/events.schema.json"

// CloudEvent is one event in CloudEvents 1.0 structured JSON form.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Partner         string          `json:"wharfpartner,omitempty"`
	Correlation     string          `json:"wharfcorrelation,omitempty"`
	Message         string          `json:"wharfmessage,omitempty"`
	Object          string          `json:"wharfobject,omitempty"`
	Seq             int64           `json:"wharfseq,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Event is what a Sink publishes: the CloudEvent and its structured JSON.
type Event struct {
	CloudEvent
	// JSON is the structured-mode encoding of CloudEvent, the body sinks send.
	JSON []byte
}

// FromOutbox makes the CloudEvent of an outbox row.
func FromOutbox(e *store.OutboxEvent, source string) (*Event, error) {
	if source == "" {
		source = "/wharf"
	}
	ce := CloudEvent{SpecVersion: SpecVersion, ID: e.ID, Source: source, Type: TypePrefix + e.Type, Subject: e.Subject,
		Time: e.At.UTC().Format(time.RFC3339Nano), DataContentType: "application/json", DataSchema: DataSchema,
		Partner: e.PartnerID, Correlation: e.CorrelationID, Message: e.MessageID, Object: e.ObjectKind, Seq: e.Pos, Data: e.Data}
	if len(ce.Data) == 0 {
		ce.Data = json.RawMessage("{}")
	}
	b, err := json.Marshal(&ce)
	if err != nil {
		return nil, fmt.Errorf("events: encode event %s (%s): %w", e.ID, e.Type, err)
	}
	return &Event{CloudEvent: ce, JSON: b}, nil
}

// Parse reads a structured-mode CloudEvent and checks the attributes
// CloudEvents 1.0 requires (specversion 1.0, id, source, type).
func Parse(b []byte) (*CloudEvent, error) {
	var ce CloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return nil, fmt.Errorf("events: not a CloudEvent in JSON: %w", err)
	}
	switch {
	case ce.SpecVersion != SpecVersion:
		return nil, fmt.Errorf("events: specversion %q: only %s is read", ce.SpecVersion, SpecVersion)
	case ce.ID == "" || ce.Source == "" || ce.Type == "":
		return nil, fmt.Errorf("events: a CloudEvent needs id, source and type")
	}
	return &ce, nil
}

// Sink publishes events to one broker or endpoint.
//
// Publish is called by one goroutine at a time, with the events of one
// subscription in outbox order. It sends them in that order and returns
// how many of them, counted from the first, the broker acknowledged as
// stored (all of them when err is nil). Publishing the same event again
// (same ID) must be harmless: brokers that deduplicate are told the ID.
// Close releases connections; Publish is not called after it.
type Sink interface {
	Publish(ctx context.Context, evs []*Event) (acked int, err error)
	Close() error
}

// Subscription is a named stream of events to a sink: the types it wants
// and the partner or role they must concern.
type Subscription struct {
	Name string
	// Types are event types without the "wharf." prefix: exact
	// ("shipment.delivered") or patterns with * ("shipment.*",
	// "message.*"); none: every event.
	Types []string
	// Partner and Role keep the events whose partner is this one, or
	// has this role; empty: any.
	Partner string
	Role    string
	// Exclude, when set, drops events the subscription must not publish
	// although they match (a webhook subscription: the events about the
	// messages that carry events, which would loop).
	Exclude func(ctx context.Context, e *store.OutboxEvent) (bool, error)
	Sink    Sink
}

// wants reports whether the subscription publishes e: it matches and is
// not excluded.
func (s *Subscription) wants(ctx context.Context, e *store.OutboxEvent, roleOf func(string) string) (bool, error) {
	if !s.Matches(e, roleOf) {
		return false, nil
	}
	if s.Exclude == nil {
		return true, nil
	}
	x, err := s.Exclude(ctx, e)
	return !x && err == nil, err
}

// ValidType reports a problem with a type pattern of a subscription.
func ValidType(p string) error {
	if p == "" || strings.HasPrefix(p, TypePrefix) {
		return fmt.Errorf("event type %q: give the type without the %q prefix, e.g. shipment.delivered or shipment.*", p, TypePrefix)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("event type pattern %q: %v", p, err)
	}
	return nil
}

// Matches reports whether the subscription wants e; roleOf gives a
// partner's role (nil: no roles known).
func (s *Subscription) Matches(e *store.OutboxEvent, roleOf func(string) string) bool {
	if s.Partner != "" && e.PartnerID != s.Partner {
		return false
	}
	if s.Role != "" && (roleOf == nil || roleOf(e.PartnerID) != s.Role) {
		return false
	}
	if len(s.Types) == 0 {
		return true
	}
	for _, p := range s.Types {
		// path.Match: '*' does not cross '.', which is not a separator;
		// "shipment.*" matches shipment.delivered, "*" every type.
		if ok, _ := path.Match(p, e.Type); ok || p == "*" {
			return true
		}
	}
	return false
}
