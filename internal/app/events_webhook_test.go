package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/events/webhook"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// ceReceiver is a CloudEvents webhook endpoint: it checks each request's
// signature and attributes, and records the events it accepted.
type ceReceiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    map[string][]events.CloudEvent // by path: /s structured, /b binary
	// refuse answers a request for this event's subject with this status
	// (400: dead letter; 503: retried), until cleared.
	refuse map[string]int
	seen   map[string]int // requests by path and event ID
}

func (r *ceReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	fail := func(f string, a ...any) {
		r.t.Errorf("%s: "+f, append([]any{req.URL.Path}, a...)...)
		http.Error(w, fmt.Sprintf(f, a...), http.StatusBadRequest)
	}
	if err := whttp.Verify(r.secret, req.Header.Get(whttp.HeaderTimestamp), req.Header.Get(whttp.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		fail("signature: %v", err)
		return
	}
	if req.Header.Get(whttp.HeaderIdemKey) == "" || req.Header.Get(whttp.HeaderMessage) == "" {
		fail("no Idempotency-Key or message ID")
		return
	}
	var ce events.CloudEvent
	switch req.URL.Path {
	case "/s":
		if ct := req.Header.Get("Content-Type"); ct != events.ContentType {
			fail("structured mode with Content-Type %q", ct)
			return
		}
		p, err := events.Parse(body)
		if err != nil {
			fail("%v", err)
			return
		}
		ce = *p
	case "/b":
		h := req.Header
		if ct := h.Get("Content-Type"); ct != "application/json" {
			fail("binary mode with Content-Type %q (want the datacontenttype)", ct)
			return
		}
		if sum := sha256.Sum256(body); h.Get(whttp.HeaderSHA256) != hex.EncodeToString(sum[:]) {
			fail("X-Wharf-Content-SHA256 is not the body's")
			return
		}
		if h.Get("ce-specversion") != "1.0" || h.Get("ce-id") == "" || h.Get("ce-source") == "" || h.Get("ce-type") == "" || h.Get("ce-time") == "" {
			fail("binary mode without the required ce-* headers: %v", h)
			return
		}
		ce = events.CloudEvent{SpecVersion: h.Get("ce-specversion"), ID: h.Get("ce-id"), Source: h.Get("ce-source"), Type: h.Get("ce-type"),
			Subject: h.Get("ce-subject"), Time: h.Get("ce-time"), Partner: h.Get("ce-wharfpartner"), Message: h.Get("ce-wharfmessage"),
			Object: h.Get("ce-wharfobject"), DataContentType: h.Get("Content-Type"), Data: body}
		if h.Get("ce-wharfseq") == "" {
			fail("no ce-wharfseq")
			return
		}
	default:
		fail("unexpected path")
		return
	}
	var data struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if err := json.Unmarshal(ce.Data, &data); err != nil || data.Message.ID != ce.Subject || ce.Source != "/wharf" || ce.Object != "message" {
		fail("event %s: data %s, source %s, object %s", ce.ID, ce.Data, ce.Source, ce.Object)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[req.URL.Path+" "+ce.ID]++
	if code := r.refuse[req.URL.Path+" "+ce.Subject]; code != 0 {
		if code == http.StatusServiceUnavailable {
			delete(r.refuse, req.URL.Path+" "+ce.Subject) // once
		}
		http.Error(w, "not now", code)
		return
	}
	r.got[req.URL.Path] = append(r.got[req.URL.Path], ce)
	w.WriteHeader(http.StatusNoContent)
}

func (r *ceReceiver) received(path string) []events.CloudEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.CloudEvent(nil), r.got[path]...)
}

// CloudEvents webhooks through the delivery engine: structured and binary
// mode, signed; a 503 retried, a 400 dead-lettered (an exception) and
// replayed; and no loop although both subscriptions want message.* and
// exception.*, which the messages carrying the events make themselves.
func TestEventWebhooks(t *testing.T) {
	rcv := &ceReceiver{t: t, secret: []byte("hook-secret"), got: map[string][]events.CloudEvent{}, refuse: map[string]int{}, seen: map[string]int{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgFile, fmt.Appendf(nil, `data: %s
http: {addr: "127.0.0.1:0"}
sftp: {addr: "127.0.0.1:0"}
partners:
  - {id: acme, role: carrier}
  - {id: portal, role: customer}
events:
  - {name: hook-s, to: %q, secret_env: HOOK_SECRET, partner: portal, types: [message.*, exception.*]}
  - {name: hook-b, to: %q, secret_env: HOOK_SECRET, partner: portal, mode: binary, types: [message.*, exception.*]}
`, filepath.Join(dir, "data"), srv.URL+"/s", srv.URL+"/b"), 0o600)
	c := mustConfig(t, cfgFile)
	c.ApplyEnv(func(k string) string {
		if k == "HOOK_SECRET" {
			return string(rcv.secret)
		}
		return ""
	})
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(ctx, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Both subscriptions exist from the outbox's start.
	for _, s := range []string{"hook-s", "hook-b"} {
		now := time.Now()
		if _, err := a.Store.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: s, Owner: "test", Now: now, Until: now}); err != nil {
			t.Fatal(err)
		}
		a.Store.ReleaseOutboxSink(ctx, s, "test")
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ids := []string{store.NewID(), store.NewID()}
	// The structured endpoint refuses m2's event for good; the binary one
	// m1's once.
	rcv.refuse["/s "+ids[1]] = http.StatusBadRequest
	rcv.refuse["/b "+ids[0]] = http.StatusServiceUnavailable
	for i, id := range ids {
		m := &store.Message{ID: id, PartnerID: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: fmt.Sprintf("in%d.x12", i), Status: lifecycle.StatusReceived}
		if err := a.Store.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	carriers := func(sub string) []*store.Message {
		page, err := a.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: "portal", Transport: webhook.Transport(sub), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: structured got %d, binary got %d; carriers %d + %d", what, len(rcv.received("/s")), len(rcv.received("/b")), len(carriers("hook-s")), len(carriers("hook-b")))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var dead *store.Message
	waitFor("m2's structured event dead-lettered", func() bool {
		for _, m := range carriers("hook-s") {
			if m.Status == lifecycle.StatusDeadLetter {
				dead = m
				return true
			}
		}
		return false
	})
	xs, err := a.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: "delivery"})
	if err != nil || len(xs) != 1 || xs[0].MessageID != dead.ID {
		t.Fatalf("the dead letter's exception: %+v %v", xs, err)
	}
	// The operator fixes the endpoint and replays the dead letter.
	rcv.mu.Lock()
	delete(rcv.refuse, "/s "+ids[1])
	rcv.mu.Unlock()
	if _, err := delivery.Replay(ctx, a.Archive, a.Jobs, dead.ID); err != nil {
		t.Fatal(err)
	}
	allDelivered := func() bool {
		ms := append(carriers("hook-s"), carriers("hook-b")...)
		for _, m := range ms {
			if m.Status != lifecycle.StatusDelivered {
				return false
			}
		}
		return len(ms) == 4
	}
	waitFor("every carrier delivered", allDelivered)
	waitFor("both subscriptions caught up", func() bool {
		st, err := a.Events.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(st) == 2 && st[0].Pending == 0 && st[1].Pending == 0
	})
	// Every event about a carrier (received, delivered, dead letter, the
	// exception opened and resolved) went past both cursors: none became
	// a message (4 carriers, still), none reached the receiver.
	if n := len(carriers("hook-s")) + len(carriers("hook-b")); n != 4 {
		t.Fatalf("%d carrier messages, want 4: events about carriers were sent as events", n)
	}
	for _, path := range []string{"/s", "/b"} {
		got := rcv.received(path)
		var subjects []string
		for _, ce := range got {
			if ce.Type != "wharf.message.received" || ce.Partner != "acme" {
				t.Errorf("%s received %s about %s (partner %s)", path, ce.Type, ce.Subject, ce.Partner)
			}
			subjects = append(subjects, ce.Subject)
		}
		if len(got) != 2 || !strings.Contains(strings.Join(subjects, " "), ids[0]) || !strings.Contains(strings.Join(subjects, " "), ids[1]) {
			t.Fatalf("%s received %v, want the two messages' events once each", path, subjects)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.seen["/b "+rcv.got["/b"][0].ID]+rcv.seen["/b "+rcv.got["/b"][1].ID] != 3 {
		t.Fatalf("binary endpoint requests: %v, want the 503 retried once", rcv.seen)
	}
}
