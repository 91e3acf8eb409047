package as2

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports"
)

// MemoryBooks keeps evidence and records in memory: the Books of an AS2
// peer that keeps no archive (the simulated warehouse of 'wharf demo', this
// package's tests). Wharf itself keeps its books in the archive and store.
type MemoryBooks struct {
	mu       sync.Mutex
	blobs    map[string][]byte
	kinds    map[string]string // id -> transport
	keys     map[string]string // partner|transport|msgid -> id
	records  map[string]*Record
	events   map[string][]string
	outcomes map[string]lifecycle.Status
	pending  map[string]*Record
	parents  map[string]string // received MDN evidence -> payload
	alerts   []Alert
	n        int
}

// NewMemoryBooks returns empty books.
func NewMemoryBooks() *MemoryBooks {
	return &MemoryBooks{blobs: map[string][]byte{}, kinds: map[string]string{}, keys: map[string]string{},
		records: map[string]*Record{}, events: map[string][]string{}, outcomes: map[string]lifecycle.Status{},
		pending: map[string]*Record{}, parents: map[string]string{}}
}

func (b *MemoryBooks) Evidence(_ context.Context, partner string, _ bool, transport, msgID string, data []byte) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := partner + "|" + transport + "|" + msgID
	if id, ok := b.keys[k]; ok {
		return id, nil
	}
	b.n++
	id := fmt.Sprintf("ev%d", b.n)
	b.blobs[id], b.kinds[id], b.keys[k] = append([]byte{}, data...), transport, id
	return id, nil
}

func (b *MemoryBooks) OpenEvidence(_ context.Context, id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.blobs[id]
	if !ok {
		return nil, fmt.Errorf("no evidence %s", id)
	}
	return d, nil
}

func (b *MemoryBooks) Lookup(_ context.Context, k *RecordKey) (*Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.records[k.PartnerID+"|"+k.AS2MessageID+"|"+k.Direction]
	if !ok {
		return nil, nil
	}
	c := *r
	return &c, nil
}

func (b *MemoryBooks) Record(_ context.Context, r *Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	return nil
}

func (b *MemoryBooks) Event(_ context.Context, id string, kind lifecycle.EventKind, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events[id] = append(b.events[id], string(kind)+": "+detail)
	return nil
}

func (b *MemoryBooks) MDNEvidence(ctx context.Context, p *MDNEvidenceParams) (string, error) {
	id, err := b.Evidence(ctx, p.PartnerID, false, TransportMDNIn, p.AS2MessageID, p.MDN)
	if err == nil {
		b.mu.Lock()
		b.parents[id] = p.ParentID
		b.mu.Unlock()
	}
	return id, err
}

func (b *MemoryBooks) Await(_ context.Context, r *Record, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	p := *r
	b.pending[r.PartnerID+"|"+r.AS2MessageID] = &p
	b.outcomes[r.MessageID] = lifecycle.StatusAwaitingMDN
	b.events[r.MessageID] = append(b.events[r.MessageID], string(lifecycle.EventAwaitingMDN)+": "+detail)
	return nil
}

func (b *MemoryBooks) Awaited(_ context.Context, partner, msgID string) (*Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.pending[partner+"|"+msgID]
	if !ok {
		return nil, nil
	}
	c := *r
	return &c, nil
}

func (b *MemoryBooks) Settle(_ context.Context, r *Record, async bool, status lifecycle.Status, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if async {
		k := r.PartnerID + "|" + r.AS2MessageID
		if _, ok := b.pending[k]; !ok {
			return ErrNotAwaited
		}
		delete(b.pending, k)
	}
	c := *r
	b.records[r.PartnerID+"|"+r.AS2MessageID+"|"+r.Direction] = &c
	b.outcomes[r.MessageID] = status
	b.events[r.MessageID] = append(b.events[r.MessageID], string(status)+": "+detail)
	return nil
}

// SettleEvidence records evidence's final status (Outcome) and event.
func (b *MemoryBooks) SettleEvidence(_ context.Context, id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outcomes[id] = status
	b.events[id] = append(b.events[id], string(kind)+": "+detail)
	return nil
}

var _ EvidenceSettler = (*MemoryBooks)(nil)

// Alert keeps an alert (Alerts lists them).
func (b *MemoryBooks) Alert(_ context.Context, a *Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.alerts = append(b.alerts, *a)
	return nil
}

// Alerts returns the alerts raised, oldest first.
func (b *MemoryBooks) Alerts() []Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Alert(nil), b.alerts...)
}

// Outcome returns a payload's status, or evidence's once settled.
func (b *MemoryBooks) Outcome(id string) lifecycle.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.outcomes[id]
}

// History returns a message's events, one per line.
func (b *MemoryBooks) History(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.events[id], "\n")
}

// Count returns how many pieces of evidence of a transport are kept.
func (b *MemoryBooks) Count(transport string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, k := range b.kinds {
		if k == transport {
			n++
		}
	}
	return n
}

// MemoryReceiver keeps received payloads in memory, once per idempotency key.
type MemoryReceiver struct {
	mu       sync.Mutex
	payloads map[string][]byte
	names    map[string]string
	byKey    map[string]string
}

// NewMemoryReceiver returns an empty receiver.
func NewMemoryReceiver() *MemoryReceiver {
	return &MemoryReceiver{payloads: map[string][]byte{}, names: map[string]string{}, byKey: map[string]string{}}
}

func (r *MemoryReceiver) Receive(_ context.Context, in transports.Incoming, rd io.Reader) (string, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.byKey[in.IdempotencyKey]; ok {
		return id, nil
	}
	id := fmt.Sprintf("msg%d", len(r.payloads)+1)
	r.payloads[id], r.names[id], r.byKey[in.IdempotencyKey] = b, in.RemoteName, id
	return id, nil
}

// Payload returns a received payload and its remote name.
func (r *MemoryReceiver) Payload(id string) ([]byte, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.payloads[id], r.names[id]
}

// Len returns how many payloads were received.
func (r *MemoryReceiver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.payloads)
}

// Parent returns the payload a received MDN's evidence settles.
func (b *MemoryBooks) Parent(mdnID string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.parents[mdnID]
}

// Forget drops a record, as if a crash had come before it was kept.
func (b *MemoryBooks) Forget(k *RecordKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.records, k.PartnerID+"|"+k.AS2MessageID+"|"+k.Direction)
}
