package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Object kinds the sync follows.
const (
	KindOrder    = "order"
	KindShipment = "shipment"
	KindInvoice  = "invoice"
	KindStock    = "inventory"
)

// Outbound is a document a route sends.
type Outbound struct {
	Route  Route
	Doc    canonical.Document // already converted to Route.DocType
	Source *store.Message     // the inbound message that caused it
	Kind   string             // the object it is about
	Key    string
	Event  string
	// Keys are the business keys of the object it is about (its references:
	// order number, PO, shipment ID, BOL, PRO, invoice numbers, ...), for
	// the archived message, so an archive search by any of them finds it.
	Keys []store.Key
	// IdempotencyKey is the same for every retry of this send: the Sender
	// must not deliver twice for one key.
	IdempotencyKey string
	// Test: the document is test traffic on a test route; the Sender
	// marks the archived message with store.KeyTest.
	Test bool
}

// ErrUnsendable marks a Sender's failure that retrying cannot fix (the
// document does not render in the route's format): the engine turns it
// into a "route" exception instead of retrying.
var ErrUnsendable = errors.New("cannot be rendered")

// BatchSender sends the documents a batch route collected as one file.
type BatchSender interface {
	SendBatch(ctx context.Context, rt Route, docs []canonical.Document, keys []store.Key, idempotencyKey string) (messageID string, err error)
}

// Sender renders and queues an outbound document for delivery and returns
// the archived message's ID.
type Sender interface {
	Send(ctx context.Context, o *Outbound) (messageID string, err error)
}

// Engine applies canonical documents to the business objects they concern.
type Engine struct {
	Store  Store
	Rules  *Rules
	Sender Sender
	Now    func() time.Time
	Logger *slog.Logger
}

// Data is what the engine keeps about an object (store.SyncObject.Data).
type Data struct {
	Order          string            `json:"order,omitempty"`
	Shipment       string            `json:"shipment,omitempty"`
	Carrier        string            `json:"carrier,omitempty"`
	Customer       string            `json:"customer,omitempty"`
	TenderedCharge string            `json:"tendered_charge,omitempty"`
	InvoicedCharge string            `json:"invoiced_charge,omitempty"`
	DeliveredAt    string            `json:"delivered_at,omitempty"`
	POD            string            `json:"proof_of_delivery,omitempty"`
	Billing        string            `json:"billing,omitempty"` // held, released
	BillingReason  string            `json:"billing_reason,omitempty"`
	Total          string            `json:"total,omitempty"`
	Systems        map[string]string `json:"systems,omitempty"` // system → last event from or to it
}

// change is what one document does to one object.
type change struct {
	object string // business object for ownership (Objects)
	kind   string
	key    string
	events []string
	refs   []canonical.Reference
	// also: related objects that receive the same events (an invoice's shipment).
	also [][2]string
	// byOrder: key is an order number standing for the order's shipment.
	byOrder bool
	edit    func(d *Data)
}

var stateRank = map[string]int{"created": 1, "changed": 1, "planned": 1, "declined": 2, "accepted": 3, "shipped": 4, "in_transit": 5,
	"delivered": 6, "invoiced": 7, "cancelled": 8, "reported": 1}

// advance returns the state an object in state moves to on event ev: only
// forward, never out of cancelled; an order's own events (created, changed,
// cancelled) move only the order (related is true for the objects that hear
// them through a document about another object).
func advance(state, ev string, related bool) string {
	st, ok := stateAfter[ev]
	if !ok || state == "cancelled" || (related && strings.HasPrefix(ev, "order.")) {
		return state
	}
	if state == "" || stateRank[st] > stateRank[state] || (!related && stateRank[st] == stateRank[state]) {
		return st
	}
	return state
}

// stateAfter maps events to the state they move an object to (forward only).
var stateAfter = map[string]string{
	"order.created": "created", "order.changed": "changed", "order.cancelled": "cancelled",
	"shipment.planned": "planned", "tender.accepted": "accepted", "tender.declined": "declined",
	"shipment.shipped": "shipped", "shipment.status": "in_transit", "shipment.delivered": "delivered",
	"invoice.approved": "invoiced", "inventory.reported": "reported",
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

// interpret says which object a document concerns and what happened to it.
func interpret(d canonical.Document, now time.Time) (*change, error) {
	h := d.Head()
	switch x := d.(type) {
	case *canonical.Order:
		ev := "order.created"
		switch h.Purpose {
		case "cancel":
			ev = "order.cancelled"
		case "change", "replace":
			ev = "order.changed"
		}
		ship := shipmentIDOf(x)
		c := &change{object: "order", kind: KindOrder, key: x.OrderNumber, events: []string{ev}, refs: h.References,
			edit: func(dt *Data) {
				dt.Shipment = ship
				dt.TenderedCharge = string(x.FreightCharge)
				dt.Total = string(x.Total)
				if p := party(h, "carrier"); p != nil {
					dt.Carrier = cmp.Or(p.ID, p.Name)
				}
				if p := party(h, "bill_to", "buyer", "ship_to"); p != nil {
					dt.Customer = cmp.Or(p.ID, p.Name)
				}
			}}
		c.refs = append(c.refs, canonical.Reference{Type: canonical.RefOrderNumber, Value: x.OrderNumber},
			canonical.Reference{Type: canonical.RefShipmentID, Value: ship})
		return c, need("order_number", x.OrderNumber)
	case *canonical.Shipment:
		c := &change{object: "shipment_plan", kind: KindShipment, key: x.ShipmentID, events: []string{"shipment.planned"}, refs: h.References,
			edit: func(dt *Data) {
				dt.Carrier = cmp.Or(x.Carrier, dt.Carrier)
				if x.Charge != "" {
					dt.TenderedCharge = string(x.Charge)
				}
			}}
		return c, need("shipment_id", x.ShipmentID)
	case *canonical.TenderResponse:
		ev := "tender.accepted"
		if x.Action != "accepted" {
			ev = "tender.declined"
		}
		c := &change{object: "carrier_assignment", kind: KindShipment, key: x.ShipmentID, events: []string{ev}, refs: h.References,
			edit: func(dt *Data) { dt.Carrier = cmp.Or(x.Carrier, dt.Carrier) }}
		return c, need("shipment_id", x.ShipmentID)
	case *canonical.ShipConfirmation:
		key := cmp.Or(x.ShipmentID, refOf(h, canonical.RefShipmentID))
		c := &change{object: "ship_confirmation", kind: KindShipment, key: key, events: []string{"shipment.shipped"}, refs: h.References,
			edit: func(dt *Data) {
				dt.Carrier = cmp.Or(x.Carrier, dt.Carrier)
				dt.Order = cmp.Or(x.OrderNumber, dt.Order)
			}}
		if x.OrderNumber != "" {
			c.refs = append(c.refs, canonical.Reference{Type: canonical.RefOrderNumber, Value: x.OrderNumber})
			c.also = append(c.also, [2]string{KindOrder, x.OrderNumber})
			if key == "" {
				c.key, c.byOrder = x.OrderNumber, true // the order's shipment, found by reference in Apply
			}
		}
		return c, need("shipment_id or order_number", c.key)
	case *canonical.ShipNotice:
		c := &change{object: "ship_confirmation", kind: KindShipment, key: x.ShipmentID, events: []string{"shipment.shipped"}, refs: h.References}
		return c, need("shipment_id", x.ShipmentID)
	case *canonical.ShipmentStatus:
		key := cmp.Or(x.ShipmentID, refOf(h, canonical.RefShipmentID))
		evs := []string{"shipment.status"}
		var at, pod string
		for _, s := range x.Events {
			if s.Status == "delivered" {
				if !slices.Contains(evs, "shipment.delivered") {
					evs = append(evs, "shipment.delivered")
				}
				if s.Time != nil {
					at = s.Time.String()
				}
			}
			if s.ProofOfDelivery != "" {
				pod = s.ProofOfDelivery
			}
		}
		if pod != "" {
			evs = append(evs, "shipment.pod")
		}
		c := &change{object: "shipment_status", kind: KindShipment, key: key, events: evs, refs: h.References,
			edit: func(dt *Data) {
				dt.Carrier = cmp.Or(x.Carrier, dt.Carrier)
				if at != "" || (slices.Contains(evs, "shipment.delivered") && dt.DeliveredAt == "") {
					dt.DeliveredAt = cmp.Or(at, now.UTC().Format(time.RFC3339))
				}
				if pod != "" {
					dt.POD = pod
				}
			}}
		return c, need("shipment_id", key)
	case *canonical.FreightInvoice:
		c := &change{object: "freight_charges", kind: KindShipment, key: cmp.Or(x.ShipmentID, refOf(h, canonical.RefShipmentID)),
			refs: append(h.References, canonical.Reference{Type: canonical.RefInvoiceNumber, Value: x.InvoiceNumber}),
			edit: func(dt *Data) { dt.InvoicedCharge = string(x.Total) }}
		return c, need("shipment_id", c.key)
	case *canonical.Invoice:
		c := &change{object: "invoice", kind: KindInvoice, key: x.InvoiceNumber, events: []string{"invoice.approved"}, refs: h.References,
			edit: func(dt *Data) {
				dt.Order = cmp.Or(x.OrderNumber, dt.Order)
				dt.Total = string(x.Total)
				dt.Shipment = cmp.Or(refOf(h, canonical.RefShipmentID), dt.Shipment)
			}}
		c.refs = append(c.refs, canonical.Reference{Type: canonical.RefInvoiceNumber, Value: x.InvoiceNumber})
		if x.OrderNumber != "" {
			c.refs = append(c.refs, canonical.Reference{Type: canonical.RefOrderNumber, Value: x.OrderNumber})
			c.also = append(c.also, [2]string{KindOrder, x.OrderNumber})
		}
		if s := refOf(h, canonical.RefShipmentID); s != "" {
			c.also = append(c.also, [2]string{KindShipment, s})
		}
		return c, need("invoice_number", x.InvoiceNumber)
	case *canonical.InventoryBalance:
		return &change{object: "inventory", kind: KindStock, key: x.ReportID, events: []string{"inventory.reported"}, refs: h.References}, need("report_id", x.ReportID)
	case *canonical.InventoryMovement:
		return &change{object: "inventory", kind: KindStock, key: x.Number, events: []string{"inventory.reported"}, refs: h.References}, need("number", x.Number)
	}
	return nil, nil // acknowledgments and warehouse orders (outbound only) change no object
}

func need(field, v string) error {
	if v == "" {
		return fmt.Errorf("%w: the document has no %s to correlate it with", errNoKey, field)
	}
	return nil
}

var errNoKey = errors.New("cannot correlate")

// Apply records what document d (the seq-th of message m) does to its
// business object and sends it along the routes. It is idempotent per
// document: a retried job records nothing twice and sends nothing twice,
// and resends along the events the first attempt emitted; a refused update
// is applied on a retry once the ownership rules allow it.
func (e *Engine) Apply(ctx context.Context, m *store.Message, seq int, d canonical.Document) error {
	if md, ok := d.(*canonical.MasterData); ok {
		if e.Rules.IsTest(m.PartnerID, md) {
			return nil // test traffic changes no reference data either
		}
		return e.loadMaster(ctx, m, seq, md)
	}
	c, err := interpret(d, e.now())
	if c == nil && err == nil {
		return nil
	}
	source := m.PartnerID
	if err == nil && e.Rules.IsTest(source, d) {
		return e.routeTest(ctx, m, c, d)
	}
	if err != nil {
		return e.raise(ctx, &store.Exception{Reason: "correlation", Owner: store.OwnerIT, ObjectKind: "message", ObjectKey: m.ID,
			PartnerID: source, MessageID: m.ID, DedupeKey: fmt.Sprintf("correlation/%s/%d", m.ID, seq),
			Detail: fmt.Sprintf("partner %s, file %s: a %s %v; it was archived and mapped but changes no order or shipment: "+
				"ask the partner to send the reference, or fix its mapping profile, then replay", source, m.RemoteName, d.Head().Type, err)})
	}
	// What an earlier run of this document's processing did (a message's
	// first processing has none to look for).
	var prior *store.SyncApplied
	if !store.FirstRun(ctx) {
		if prior, err = e.Store.GetSyncApplied(ctx, m.ID, seq); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if prior != nil && !prior.Refused {
		c.kind, c.key = prior.Kind, prior.Key
		return e.route(ctx, m, c, d, prior.Events)
	}
	if prior != nil && slices.Contains(prior.Events, masterRejected) {
		return nil // rejected for its master data: a corrected document must come
	}
	if c.kind == KindShipment {
		if c.key, err = e.shipmentOf(ctx, c.key, c.byOrder); err != nil {
			return err
		}
	}
	policy, ms, err := e.checkMaster(ctx, d)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		if err := e.masterException(ctx, m, seq, c, d, policy, ms); err != nil {
			return err
		}
		switch policy {
		case MasterHold:
			return nil // nothing recorded: a retry checks again
		case MasterReject:
			return e.Store.WithTx(ctx, func(tx store.Tx) error {
				return tx.PutSyncApplied(ctx, &store.SyncApplied{MessageID: m.ID, Seq: seq, Kind: c.kind, Key: c.key, Refused: true,
					Events: []string{masterRejected}})
			})
		}
	} else if len(e.Rules.Master) > 0 {
		if err := e.settleMaster(ctx, m, seq); err != nil {
			return err
		}
	}
	if ok, owner := e.Rules.allowed(c.object, source); !ok {
		if prior != nil {
			return nil // refused by an earlier attempt, and still refused
		}
		return e.refuse(ctx, m, seq, c, owner, d)
	}
	emitted, err := e.record(ctx, m, seq, c, d)
	if err != nil {
		return err
	}
	return e.route(ctx, m, c, d, emitted)
}

// shipmentOf resolves the shipment a document names: by an order number,
// the shipment the order opened; else, when no shipment has that key, the
// one that carries it as its BOL, PRO or load ID (a carrier quoting its
// own reference). Without a match the key stands for a new shipment.
func (e *Engine) shipmentOf(ctx context.Context, key string, byOrder bool) (string, error) {
	types := []string{canonical.RefOrderNumber}
	var refs []store.SyncRef
	var err error
	if byOrder {
		refs, err = e.Store.SyncRefsByValue(ctx, key)
	} else {
		var exists bool
		exists, refs, err = e.Store.SyncObjectOrRefs(ctx, KindShipment, key)
		if err == nil && exists {
			return key, nil
		}
		types = []string{canonical.RefBOL, canonical.RefPRO, canonical.RefLoadID, canonical.RefShipmentID}
	}
	if err != nil {
		return "", err
	}
	for _, r := range refs {
		if r.Kind == KindShipment && slices.Contains(types, r.Type) {
			return r.Key, nil
		}
	}
	return key, nil
}

func (e *Engine) refuse(ctx context.Context, m *store.Message, seq int, c *change, owner string, d canonical.Document) error {
	detail := fmt.Sprintf("%s %s sent a %s for %s %s (file %s), but %s is owned by %s: not applied, not routed; "+
		"correct the update in %s, or change the ownership rule if %s is now the system of record",
		roleName(e.Rules.role(m.PartnerID)), m.PartnerID, d.Head().Type, c.kind, c.key, m.RemoteName, c.object, owner, owner, m.PartnerID)
	return e.Store.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.RaiseException(ctx, &store.Exception{Reason: "ownership", Owner: store.OwnerIT, ObjectKind: c.kind, ObjectKey: c.key,
			PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "ownership/" + m.ID + "/" + c.kind + "/" + c.key, Detail: detail}); err != nil {
			return err
		}
		if err := tx.PutSyncApplied(ctx, &store.SyncApplied{MessageID: m.ID, Seq: seq, Kind: c.kind, Key: c.key, Refused: true}); err != nil {
			return err
		}
		return tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: c.kind, Key: c.key, Event: "refused", System: m.PartnerID, MessageID: m.ID,
			Detail: c.object + " is owned by " + owner})
	})
}

func roleName(r string) string {
	if r == "" {
		return "partner"
	}
	return strings.ToUpper(r)
}

// record applies the change in one transaction and returns the events it emitted.
func (e *Engine) record(ctx context.Context, m *store.Message, seq int, c *change, d canonical.Document) ([]string, error) {
	var emitted []string
	now := e.now()
	err := e.Store.WithTx(ctx, func(tx store.Tx) error {
		emitted = emitted[:0]
		// The object's row exists before it is read, so that two first
		// changes of one object (two workers, two instances) take turns.
		obj, err := tx.EnsureSyncObject(ctx, c.kind, c.key)
		if err != nil {
			return err
		}
		var dt Data
		_ = json.Unmarshal([]byte(obj.Data), &dt)
		prev := dt
		events := slices.Clone(c.events)
		if c.kind == KindOrder && events[0] == "order.created" && obj.State != "" {
			events[0] = "order.changed" // the same order again from the ERP
		}
		if c.edit != nil {
			c.edit(&dt)
		}
		if dt.Systems == nil {
			dt.Systems = map[string]string{}
		}
		if prev.DeliveredAt != "" {
			// Later statuses repeat "delivered" (the POD comes with one): the event happened once.
			events = slices.DeleteFunc(events, func(ev string) bool { return ev == "shipment.delivered" })
		}
		// Billing holds and freight matching.
		extra, exc := e.billing(m, c, &dt, events)
		events = append(events, extra...)
		state := obj.State
		for _, ev := range events {
			state = advance(state, ev, false)
			dt.Systems[m.PartnerID] = ev
		}
		if state == "" {
			state = "open"
		}
		b, _ := json.Marshal(dt)
		obj.State, obj.Data = state, string(b)
		if err := tx.PutSyncObject(ctx, obj); err != nil {
			return err
		}
		refs := append([]store.SyncRef{{Value: c.key, Type: c.kind, Kind: c.kind, Key: c.key}}, refsFor(c.refs, c.kind, c.key)...)
		if err := tx.AddSyncRefs(ctx, refs); err != nil {
			return err
		}
		for _, ev := range events {
			if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{At: now, Kind: c.kind, Key: c.key, Event: ev, System: m.PartnerID, MessageID: m.ID,
				Detail: fmt.Sprintf("%s from %s (%s)", d.Head().Type, m.PartnerID, m.RemoteName)}); err != nil {
				return err
			}
			if err := milestone(ctx, tx, m, obj, ev, d, c.also, now); err != nil {
				return err
			}
			if err := e.timers(ctx, tx, c.kind, c.key, ev, now); err != nil {
				return err
			}
			emitted = append(emitted, ev)
		}
		for _, x := range exc {
			if _, err := tx.RaiseException(ctx, x); err != nil {
				return err
			}
		}
		if err := tx.PutSyncApplied(ctx, &store.SyncApplied{MessageID: m.ID, Seq: seq, Kind: c.kind, Key: c.key, Events: emitted}); err != nil {
			return err
		}
		// Related objects hear the same events (an order learns it shipped,
		// a shipment that it was invoiced), which settles their timers.
		for _, rel := range c.also {
			if rel[1] == "" || (rel[0] == c.kind && rel[1] == c.key) {
				continue
			}
			if err := e.follow(ctx, tx, rel[0], rel[1], c, m, events, now); err != nil {
				return err
			}
		}
		// An order opens its shipment (the tender's ID) so carriers' answers correlate.
		if c.kind == KindOrder && dt.Shipment != "" && events[0] == "order.created" {
			sh := &store.SyncObject{Kind: KindShipment, Key: dt.Shipment, State: "planned"}
			sd, _ := json.Marshal(Data{Order: c.key, Carrier: dt.Carrier, Customer: dt.Customer, TenderedCharge: dt.TenderedCharge,
				Systems: map[string]string{m.PartnerID: "order.created"}})
			sh.Data = string(sd)
			if _, err := tx.GetSyncObject(ctx, KindShipment, dt.Shipment); errors.Is(err, store.ErrNotFound) {
				if err := tx.PutSyncObject(ctx, sh); err != nil {
					return err
				}
				if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{At: now, Kind: KindShipment, Key: dt.Shipment, Event: "shipment.planned",
					System: m.PartnerID, MessageID: m.ID, Detail: "planned for order " + c.key}); err != nil {
					return err
				}
				if err := milestone(ctx, tx, m, sh, "shipment.planned", d, [][2]string{{KindOrder, c.key}}, now); err != nil {
					return err
				}
				if err := e.timers(ctx, tx, KindShipment, dt.Shipment, "shipment.planned", now); err != nil {
					return err
				}
			}
			srefs := append([]store.SyncRef{{Value: dt.Shipment, Type: canonical.RefShipmentID, Kind: KindShipment, Key: dt.Shipment},
				{Value: c.key, Type: canonical.RefOrderNumber, Kind: KindShipment, Key: dt.Shipment}}, refsFor(c.refs, KindShipment, dt.Shipment)...)
			if err := tx.AddSyncRefs(ctx, srefs); err != nil {
				return err
			}
		}
		// The message is found by every key of what it changed, not only
		// by those it carries (a carrier's 990 by the order's PO), in one
		// statement that waits with the other writes.
		objs := [][2]string{{c.kind, c.key}}
		for _, o := range c.also {
			if o[1] != "" {
				objs = append(objs, o)
			}
		}
		return tx.AddObjectKeys(ctx, m.ID, objs, maxObjectKeys)
	})
	return emitted, err
}

// maxObjectKeys bounds the keys one document gives its message from the
// objects it changed.
const maxObjectKeys = 100

// objectKeys are the business keys of objects (kind, key): the values of
// their references, by reference type (order_number, po, shipment_id,
// bol, pro, invoice_number, ...), each once.
func objectKeys(ctx context.Context, st interface {
	SyncRefs(ctx context.Context, kind, key string) ([]store.SyncRef, error)
}, objs ...[2]string) ([]store.Key, error) {
	var keys []store.Key
	seen := map[store.Key]bool{}
	for _, o := range objs {
		if o[1] == "" {
			continue
		}
		refs, err := st.SyncRefs(ctx, o[0], o[1])
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			k := store.Key{Kind: r.Type, Value: r.Value}
			if k.Kind == "" || k.Value == "" || k.Kind == canonical.RefOther || seen[k] || len(keys) == maxObjectKeys {
				continue
			}
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// follow records events on a related object: the order of a shipment or
// invoice, the shipment of an invoice.
func (e *Engine) follow(ctx context.Context, tx store.Tx, kind, key string, c *change, m *store.Message, events []string, now time.Time) error {
	obj, err := tx.GetSyncObjectForUpdate(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		if refs, _ := tx.SyncRefsByValue(ctx, key); len(refs) > 0 {
			for _, r := range refs {
				if r.Kind == kind {
					obj, err = tx.GetSyncObjectForUpdate(ctx, kind, r.Key)
					break
				}
			}
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil // not followed (yet): nothing to update
	}
	if err != nil {
		return err
	}
	state := obj.State
	for _, ev := range events {
		state = advance(state, ev, true)
		if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{At: now, Kind: obj.Kind, Key: obj.Key, Event: ev, System: m.PartnerID, MessageID: m.ID,
			Detail: fmt.Sprintf("via %s %s", c.kind, c.key)}); err != nil {
			return err
		}
		if err := e.timers(ctx, tx, obj.Kind, obj.Key, ev, now); err != nil {
			return err
		}
	}
	if state != obj.State {
		obj.State = state
		if err := tx.PutSyncObject(ctx, obj); err != nil {
			return err
		}
	}
	return tx.AddSyncRefs(ctx, []store.SyncRef{{Value: c.key, Type: c.kind, Kind: obj.Kind, Key: obj.Key}})
}

// billing decides holds and freight matches for a shipment's change.
func (e *Engine) billing(m *store.Message, c *change, dt *Data, events []string) ([]string, []*store.Exception) {
	if c.kind != KindShipment {
		return nil, nil
	}
	var extra []string
	var exc []*store.Exception
	delivered := dt.DeliveredAt != ""
	if c.object == "shipment_status" && delivered && dt.Billing != "released" {
		if dt.POD != "" || !e.Rules.BillingRequiresPOD {
			extra = append(extra, "billing.released")
			dt.Billing, dt.BillingReason = "released", ""
		} else if dt.Billing != "held" {
			extra = append(extra, "billing.held")
			dt.Billing, dt.BillingReason = "held", "delivered without proof of delivery"
		}
	}
	if slices.Contains(events, "tender.declined") {
		exc = append(exc, &store.Exception{Reason: "tender_declined", Owner: store.OwnerOperations, ObjectKind: KindShipment, ObjectKey: c.key,
			PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "tender_declined/" + c.key,
			Detail: fmt.Sprintf("carrier %s declined the load tender for shipment %s (order %s): tender it to another carrier", m.PartnerID, c.key, dt.Order)})
	}
	if c.object == "freight_charges" {
		want, okW := new(big.Rat).SetString(dt.TenderedCharge)
		got, okG := new(big.Rat).SetString(dt.InvoicedCharge)
		var tol Tolerance
		if e.Rules.Tolerance != nil {
			tol = e.Rules.Tolerance(m.PartnerID)
		}
		switch {
		case !okG:
			extra = append(extra, "freight.disputed")
			exc = append(exc, dispute(m, c, dt, fmt.Sprintf("freight invoice from %s for shipment %s has no total to match", m.PartnerID, c.key)))
		case !okW || dt.TenderedCharge == "":
			extra = append(extra, "freight.disputed")
			exc = append(exc, dispute(m, c, dt, fmt.Sprintf("freight invoice from %s for shipment %s charges %s, but no tendered charge is known for it: check the shipment and approve or reject the invoice",
				m.PartnerID, c.key, dt.InvoicedCharge)))
		case tol.within(want, got):
			extra = append(extra, "freight.matched")
		default:
			extra = append(extra, "freight.disputed")
			exc = append(exc, dispute(m, c, dt, fmt.Sprintf("freight invoice from %s for shipment %s (order %s) charges %s, tendered %s: outside the partner's tolerance; "+
				"dispute it with the carrier or approve the difference", m.PartnerID, c.key, dt.Order, dt.InvoicedCharge, dt.TenderedCharge)))
		}
	}
	return extra, exc
}

func dispute(m *store.Message, c *change, dt *Data, detail string) *store.Exception {
	return &store.Exception{Reason: "dispute", Owner: store.OwnerOperations, ObjectKind: KindShipment, ObjectKey: c.key,
		PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "dispute/" + c.key + "/" + m.ID, Detail: detail}
}

// timers settles the SLAs expecting ev on the object and starts those that begin with it.
func (e *Engine) timers(ctx context.Context, tx store.Tx, kind, key, ev string, now time.Time) error {
	for _, s := range e.Rules.SLAs {
		if s.Expect == ev {
			if _, err := tx.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: s.Name, Kind: kind, Key: key, Status: "met"}); err != nil {
				return err
			}
		}
	}
	for _, s := range e.Rules.SLAs {
		if s.After == ev {
			if kind != objectKindOf(s.After) && kind != objectKindOf(s.Expect) {
				continue
			}
			if _, err := tx.StartSyncTimer(ctx, &store.SyncTimer{Name: s.Name, Kind: kind, Key: key, DueAt: now.Add(s.Within), Owner: s.Owner,
				Detail: fmt.Sprintf("%s expected within %s of %s", s.Expect, s.Within, s.After)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// objectKindOf returns the kind of object an event is first recorded on.
func objectKindOf(ev string) string {
	switch strings.SplitN(ev, ".", 2)[0] {
	case "order":
		return KindOrder
	case "invoice":
		return KindInvoice
	case "inventory":
		return KindStock
	}
	return KindShipment
}

// routesAny tells whether a production route takes one of the events from m's partner.
func (e *Engine) routesAny(m *store.Message, events []string) bool {
	for _, ev := range events {
		for _, rt := range e.Rules.Routes {
			if e.Rules.takes(rt, ev, m.PartnerID) && !e.Rules.testRoute(rt) {
				return true
			}
		}
	}
	return false
}

// routeTest sends test traffic along the test routes its events select,
// and does nothing else: no business object, reference, timer or history
// changes, so production never sees it. The events are those the document
// means on its own (an order is "order.created"); without a test route
// the document stops here, mapped and acknowledged.
func (e *Engine) routeTest(ctx context.Context, m *store.Message, c *change, d canonical.Document) error {
	// The message is test traffic in the archive too, whatever marked its
	// document (canonical JSON may carry source.usage "T" itself).
	if err := e.Store.WithTx(ctx, func(tx store.Tx) error { return tx.AddMessageKeys(ctx, m.ID, []store.Key{store.KeyTest}) }); err != nil {
		return err
	}
	if e.Sender == nil {
		return nil
	}
	var dt Data
	if c.edit != nil {
		c.edit(&dt)
	}
	if c.kind == KindShipment {
		dt.Shipment = c.key
	}
	for _, ev := range c.events {
		for _, rt := range e.Rules.Routes {
			if !e.Rules.takes(rt, ev, m.PartnerID) || !e.Rules.testRoute(rt) {
				continue
			}
			if err := e.send(ctx, m, c, d, &dt, rt, ev, nil, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// route sends d along every route its events select.
func (e *Engine) route(ctx context.Context, m *store.Message, c *change, d canonical.Document, events []string) error {
	if e.Sender == nil || !e.routesAny(m, events) {
		return nil // no route takes these events: the object need not be read
	}
	obj, err := e.Store.GetSyncObject(ctx, c.kind, c.key)
	if err != nil {
		return err
	}
	var dt Data
	_ = json.Unmarshal([]byte(obj.Data), &dt)
	if c.kind == KindShipment {
		dt.Shipment = c.key
	}
	var keys []store.Key // read once the first route needs them
	for _, ev := range events {
		for _, rt := range e.Rules.Routes {
			if !e.Rules.takes(rt, ev, m.PartnerID) || e.Rules.testRoute(rt) {
				continue // production traffic never reaches a test system
			}
			if c.kind == KindInvoice && dt.Shipment != "" && (ev == "invoice.approved") {
				if sh, err := e.Store.GetSyncObject(ctx, KindShipment, dt.Shipment); err == nil {
					var sd Data
					_ = json.Unmarshal([]byte(sh.Data), &sd)
					if sd.Billing == "held" {
						if err := e.raise(ctx, &store.Exception{Reason: "hold", Owner: store.OwnerOperations, ObjectKind: KindInvoice, ObjectKey: c.key,
							PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "hold/" + c.key,
							Detail: fmt.Sprintf("invoice %s for shipment %s arrived while billing is held (%s): not sent to %s; resolve when the proof of delivery is in, then replay %s",
								c.key, dt.Shipment, sd.BillingReason, rt.To, m.ID)}); err != nil {
							return err
						}
						continue
					}
				}
			}
			if keys == nil {
				if keys, err = objectKeys(ctx, e.Store, append([][2]string{{c.kind, c.key}}, c.also...)...); err != nil {
					return err
				}
			}
			if err := e.send(ctx, m, c, d, &dt, rt, ev, keys, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// send converts d for route rt (event ev) and sends or queues it. A test
// send (test traffic on a test route) is never batched and writes no
// history.
func (e *Engine) send(ctx context.Context, m *store.Message, c *change, d canonical.Document, dt *Data, rt Route, ev string, keys []store.Key, test bool) error {
	out, err := Convert(d, rt.DocType, dt, e.now())
	if err != nil {
		if rerr := e.raise(ctx, &store.Exception{Reason: "route", Owner: store.OwnerIT, ObjectKind: c.kind, ObjectKey: c.key, PartnerID: rt.To,
			MessageID: m.ID, DedupeKey: "route/" + rt.Name + "/" + m.ID,
			Detail: fmt.Sprintf("route %s (%s → %s as %s) cannot send the %s from message %s: %v; fix the route or the data, then replay the message",
				rt.Name, ev, rt.To, rt.Send, d.Head().Type, m.ID, err)}); rerr != nil {
			return rerr
		}
		return nil
	}
	o := &Outbound{Route: rt, Doc: out, Source: m, Kind: c.kind, Key: c.key, Event: ev, Keys: keys,
		IdempotencyKey: "route:" + rt.Name + ":" + ev + ":" + c.kind + ":" + c.key + ":" + m.ID, Test: test}
	if rt.Batch && !test {
		return e.queue(ctx, o)
	}
	id, err := e.Sender.Send(ctx, o)
	if errors.Is(err, ErrUnsendable) {
		if rerr := e.raise(ctx, &store.Exception{Reason: "route", Owner: store.OwnerIT, ObjectKind: c.kind, ObjectKey: c.key, PartnerID: rt.To,
			MessageID: m.ID, DedupeKey: "route/" + rt.Name + "/" + m.ID,
			Detail: fmt.Sprintf("route %s (%s → %s as %s): the %s from message %s (partner %s) cannot be sent: %v; "+
				"correct the data at its source or the route's format, then replay message %s", rt.Name, ev, rt.To, rt.Send,
				d.Head().Type, m.ID, m.PartnerID, err, m.ID)}); rerr != nil {
			return rerr
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync: route %s to %s for %s %s: %w", rt.Name, rt.To, c.kind, c.key, err)
	}
	if test {
		return nil // test traffic writes no history of production objects
	}
	prior, err := e.Store.SyncEventsByMessage(ctx, id)
	if err != nil {
		return err
	}
	if len(prior) > 0 {
		return nil // recorded by an earlier attempt
	}
	return e.Store.AppendSyncEvent(ctx, &store.SyncEvent{Kind: c.kind, Key: c.key, Event: "sent", System: rt.To, MessageID: id,
		Detail: fmt.Sprintf("route %s: %s to %s as %s", rt.Name, ev, rt.To, rt.Send)})
}

func (e *Engine) raise(ctx context.Context, x *store.Exception) error {
	created, err := e.Store.RaiseException(ctx, x)
	if created {
		e.log().Warn("exception", "reason", x.Reason, "object", x.ObjectKind+" "+x.ObjectKey, "partner", x.PartnerID, "detail", x.Detail)
	}
	return err
}

// refsFor makes an object's correlation entries from a document's references.
func refsFor(refs []canonical.Reference, kind, key string) []store.SyncRef {
	var out []store.SyncRef
	for _, r := range refs {
		if r.Value != "" && r.Type != canonical.RefOther {
			out = append(out, store.SyncRef{Value: r.Value, Type: r.Type, Kind: kind, Key: key})
		}
	}
	return out
}

func party(h *canonical.Header, roles ...string) *canonical.Party {
	for _, r := range roles {
		for i := range h.Parties {
			if h.Parties[i].Role == r {
				return &h.Parties[i]
			}
		}
	}
	return nil
}

func refOf(h *canonical.Header, typ string) string {
	for _, r := range h.References {
		if r.Type == typ {
			return r.Value
		}
	}
	return ""
}

// shipmentIDOf is the ID the order's load tender carries: its shipment_id
// reference, else the order number.
func shipmentIDOf(o *canonical.Order) string {
	return cmp.Or(refOf(&o.Header, canonical.RefShipmentID), o.OrderNumber)
}
