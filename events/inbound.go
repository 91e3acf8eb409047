package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports"
)

// In is one message a broker delivered to Wharf (events/nats Consume,
// events/amqp Consume).
type In struct {
	Body []byte
	// Header holds the message's headers with lower-case names (NATS
	// headers; AMQP headers and properties such as content-type).
	Header map[string]string
	// ID identifies the message across redeliveries (the broker's own
	// identity of it): the archive's idempotency key.
	ID string
	// Name is the subject or routing key; Addr where it came from (the
	// server, stream or queue), for the message's history.
	Name, Addr string
}

// Inbound turns broker messages into inbound documents of a partner: it
// archives each one (through the gateway: durable, its processing
// committed) and only then lets the consumer acknowledge it to the
// broker. A message redelivered because its acknowledgment was lost is
// archived once: the broker's message identity is the idempotency key.
//
// What is archived is the canonical document: the message's body, or the
// data of a CloudEvent carrying it (structured mode: the body is the
// event in JSON, content type application/cloudevents+json or a JSON
// object with specversion; binary mode: ce-* headers, the body the data).
// Processing then reads it like any inbound document (ownership, routes,
// trace). A message that is neither (not JSON, a CloudEvent of another
// version or without a JSON object as data) is archived as it came, with
// the reason in its history; processing rejects it, with an exception,
// and the broker is told it was taken: it is never lost, nor redelivered
// for ever.
type Inbound struct {
	Receiver transports.Receiver
	// History records why a message is not a document (store.Store).
	History interface {
		AppendEvent(ctx context.Context, e *store.Event) error
	}
	Partner   string
	Transport string // "nats", "amqp"
}

// Handle archives m; a nil error means the consumer may acknowledge it.
func (in *Inbound) Handle(ctx context.Context, m *In) error {
	doc, name, problem := Document(m)
	id, err := in.Receiver.Receive(ctx, transports.Incoming{Partner: in.Partner, Transport: in.Transport, RemoteName: name,
		RemoteAddr: m.Addr, IdempotencyKey: m.ID}, bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("events in: archive %s from %s: %w", m.ID, m.Addr, err)
	}
	if problem != "" && in.History != nil {
		if err := in.History.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventReceived,
			Detail: "not a canonical document nor a CloudEvent carrying one: " + problem + "; archived as it came"}); err != nil {
			return fmt.Errorf("events in: %s: %w", id, err)
		}
	}
	return nil
}

// Document returns what to archive of m and under which name, and, when m
// is a CloudEvent Wharf cannot take a document from, why.
func Document(m *In) (doc []byte, name, problem string) {
	name = m.Name
	if v, ok := ceHeader(m.Header, "specversion"); ok { // binary mode
		if id, _ := ceHeader(m.Header, "id"); id != "" {
			name += "/" + id
		}
		if v != SpecVersion {
			return m.Body, name, fmt.Sprintf("a CloudEvent of specversion %q (only %s is read)", v, SpecVersion)
		}
		return m.Body, name, ""
	}
	body := bytes.TrimSpace(m.Body)
	structured := strings.HasPrefix(m.Header["content-type"], ContentType)
	if !structured && bytes.HasPrefix(body, []byte("{")) {
		var probe struct {
			SpecVersion *string `json:"specversion"`
		}
		structured = json.Unmarshal(body, &probe) == nil && probe.SpecVersion != nil
	}
	if !structured {
		if !json.Valid(body) {
			return m.Body, name, "the body is not JSON"
		}
		return m.Body, name, ""
	}
	ce, err := Parse(body)
	if err != nil {
		return m.Body, name, err.Error()
	}
	name += "/" + ce.ID
	data := bytes.TrimSpace(ce.Data)
	if !bytes.HasPrefix(data, []byte("{")) {
		return m.Body, name, fmt.Sprintf("CloudEvent %s (%s) has no JSON object as data (data_base64 is not read)", ce.ID, ce.Type)
	}
	return data, name, ""
}

// ceHeader reads a CloudEvents attribute from binary-mode headers: ce-NAME
// (HTTP, NATS), cloudEvents:NAME or cloudEvents_NAME (AMQP).
func ceHeader(h map[string]string, attr string) (string, bool) {
	for _, p := range []string{"ce-", "cloudevents:", "cloudevents_"} {
		if v, ok := h[p+attr]; ok {
			return v, true
		}
	}
	return "", false
}
