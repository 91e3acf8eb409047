package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// The business objects the sync engine follows, as API resources:
// GET /api/v1/{orders,shipments,invoices,inventory}[/{key}].

// objectKind is one resource: its sync kind, path and the scope a partner
// token needs for it.
type objectKind struct {
	kind, path, scope, noun string
}

var objectKinds = []objectKind{
	{wsync.KindOrder, "orders", store.ScopeOrdersRead, "order"},
	{wsync.KindShipment, "shipments", store.ScopeShipmentsRead, "shipment"},
	{wsync.KindInvoice, "invoices", store.ScopeInvoicesRead, "invoice"},
	{wsync.KindStock, "inventory", store.ScopeInventoryRead, "inventory report"},
}

type (
	objectOut struct {
		Kind      string          `json:"kind" enum:"order,shipment,invoice,inventory"`
		Key       string          `json:"key" doc:"its primary business key: order number, shipment ID, invoice number, report ID"`
		State     string          `json:"state" doc:"created, planned, accepted, shipped, in_transit, delivered, invoiced, cancelled, ... (docs/sync.md)"`
		Held      bool            `json:"held" doc:"billing is held (until delivery and proof of delivery)"`
		Holds     []string        `json:"holds" doc:"why it is held; empty when not"`
		Overdue   bool            `json:"overdue" doc:"a timer (SLA) is breached, or pending past its due time"`
		Data      json.RawMessage `json:"data" doc:"what the sync knows of it now (sync.Data: order, shipment, carrier, customer, charges, billing, systems)"`
		CreatedAt time.Time       `json:"created_at"`
		UpdatedAt time.Time       `json:"updated_at"`
	}
	objectDetailOut struct {
		objectOut
		References []store.SyncRef    `json:"references" doc:"every reference that finds it (PO, BOL, PRO, shipment ID, invoice number, ...)"`
		Timers     []*store.SyncTimer `json:"timers"`
		History    []*store.SyncEvent `json:"history" doc:"oldest first; for a partner token only the events of its own partner and of wharf"`
		// Document is the current canonical data.
		Document canonical.Document `json:"document,omitempty" doc:"the canonical document of the latest received message about it (for a partner token: of its own messages); absent when none is at hand"`
	}
	objectsOut struct {
		Objects []objectOut    `json:"objects"`
		Next    *objectPageOut `json:"next,omitempty" doc:"present when the page is full: the before and before_key of the next page"`
	}
	objectPageOut struct {
		Before    time.Time `json:"before"`
		BeforeKey string    `json:"before_key"`
	}
)

// objectJSON is o as the API shows it; a partner token's view keeps of
// data.systems only its own partner.
func objectJSON(o *store.SyncObject, timers []*store.SyncTimer, now time.Time, partner string) objectOut {
	out := objectOut{Kind: o.Kind, Key: o.Key, State: o.State, Holds: []string{}, Data: json.RawMessage(o.Data),
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC()}
	var d map[string]any
	if json.Unmarshal([]byte(o.Data), &d) != nil || d == nil {
		d = map[string]any{}
	}
	if d["billing"] == "held" {
		out.Held = true
		reason, _ := d["billing_reason"].(string)
		if reason == "" {
			reason = "billing held"
		}
		out.Holds = append(out.Holds, reason)
	}
	if partner != "" {
		if sys, ok := d["systems"].(map[string]any); ok {
			own := map[string]any{}
			if v, ok := sys[partner]; ok {
				own[partner] = v
			}
			d["systems"] = own
		}
		if b, err := json.Marshal(d); err == nil {
			out.Data = b
		}
	}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("{}")
	}
	for _, t := range timers {
		if t.Status == "breached" || (t.Status == "pending" && t.DueAt.Before(now)) {
			out.Overdue = true
		}
	}
	return out
}

func (s *Server) mountObjects() {
	for _, k := range objectKinds {
		s.handle(Route{Method: "GET", Path: "/api/v1/" + k.path, Summary: "Business objects: " + k.path + ", newest change first, with filters and paging",
			Role: store.RoleAuditor, Scope: k.scope, Tag: "objects", Response: objectsOut{},
			Params: []Param{{Name: "state", In: "query", Description: "its state (docs/sync.md)"},
				{Name: "partner", In: "query", Description: "a partner its history names (an event from or to it); a partner token: its own only"},
				{Name: "updated_since", In: "query", Description: "changed at or after: RFC 3339 time or a date (its midnight UTC)"},
				{Name: "held", In: "query", Description: "true: billing held; false: not held", Type: "boolean"},
				{Name: "overdue", In: "query", Description: "true: a timer breached or past due; false: none", Type: "boolean"},
				{Name: "before", In: "query", Description: "paging: the updated_at of the last one seen (with before_key its key)", Format: "date-time"},
				{Name: "before_key", In: "query", Description: "paging: the key of the last one seen (with before)"},
				pLimit}},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				return s.listObjects(w, r, p, k)
			})
		s.handle(Route{Method: "GET", Path: "/api/v1/" + k.path + "/{key}", Summary: "A business object (" + k.noun + "): state, holds, references, timers, data and history",
			Role: store.RoleAuditor, Scope: k.scope, Tag: "objects", Response: objectDetailOut{},
			Params: []Param{{Name: "key", In: "path", Description: "its primary business key"}}},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				return s.getObject(w, r, p, k)
			})
	}
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, p *principal, k objectKind) error {
	q := r.URL.Query()
	f := store.SyncObjectFilter{Kind: k.kind, State: strings.TrimSpace(q.Get("state")), Partner: q.Get("partner"),
		Held: q.Get("held"), Overdue: q.Get("overdue"), Now: s.now(), BeforeKey: q.Get("before_key")}
	if p.Partner != "" {
		f.Partner = p.Partner
	}
	if v := q.Get("updated_since"); v != "" {
		tm, ok := ParseTime(v)
		if !ok {
			return badRequest(fmt.Sprintf("updated_since %q is not an RFC 3339 time or a date", v), "write it like 2026-01-31T00:00:00Z or 2026-01-31")
		}
		f.UpdatedSince = tm
	}
	before, err := pageBefore(q.Get("before"), q.Get("before_key"), "updated_at of the last object")
	if err != nil {
		return err
	}
	if !before.IsZero() && f.BeforeKey == "" {
		return badRequest("before without before_key", "pass the updated_at and key of the last object of the previous page")
	}
	f.BeforeUpdated = before
	if f.Limit, err = limitOf(r); err != nil {
		return err
	}
	os, err := s.st.FindSyncObjects(r.Context(), &f)
	if err != nil {
		return err
	}
	out := objectsOut{Objects: []objectOut{}}
	for _, o := range os {
		ts, err := s.st.SyncTimers(r.Context(), o.Kind, o.Key)
		if err != nil {
			return err
		}
		out.Objects = append(out.Objects, objectJSON(o, ts, f.Now, p.Partner))
	}
	if n := len(os); n > 0 && n == f.Limit {
		out.Next = &objectPageOut{Before: os[n-1].UpdatedAt.UTC(), BeforeKey: os[n-1].Key}
	}
	writeJSON(w, 200, out)
	return nil
}

// latestDocument is the canonical document of the most recent received
// message in the object's history that carries its key or one of its
// references (the last such document of the message; its only one when
// it has one), looking at the ten
// latest messages; nil when there is none or the server cannot map
// messages (Options.TraceDocuments). A partner's view reads only its own
// partner's messages.
func (s *Server) latestDocument(ctx context.Context, o *store.SyncObject, refs []store.SyncRef, evs []*store.SyncEvent, partner string) canonical.Document {
	if s.o.TraceDocuments == nil {
		return nil
	}
	keys := map[string]bool{o.Key: true}
	for _, r := range refs {
		keys[r.Value] = true
	}
	seen := map[string]bool{}
	for i := len(evs) - 1; i >= 0 && len(seen) < 10; i-- {
		id := evs[i].MessageID
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		m, err := s.st.GetMessage(ctx, id)
		if err != nil || m.Direction != store.Inbound || (partner != "" && m.PartnerID != partner) {
			continue
		}
		docs, err := s.o.TraceDocuments(ctx, m)
		if err != nil {
			continue
		}
		if len(docs) == 1 { // the message the event came from holds only this document
			return docs[0]
		}
		for j := len(docs) - 1; j >= 0; j-- {
			for _, k := range canonical.Keys(docs[j]) {
				if keys[k.Value] {
					return docs[j]
				}
			}
		}
	}
	return nil
}

// partnerRefs keeps, for a partner token, the references its own partner
// brought: those a message of that partner carries as a key (and the
// object's own key, which it asked by). A shipment shared by a carrier and
// a customer must not show either the other's numbers. Operators see all.
func (s *Server) partnerRefs(ctx context.Context, partner string, o *store.SyncObject, refs []store.SyncRef) ([]store.SyncRef, error) {
	if partner == "" {
		return refs, nil
	}
	var out []store.SyncRef
	for _, ref := range refs {
		if ref.Value == o.Key {
			out = append(out, ref)
			continue
		}
		ms, err := s.st.SearchMessages(ctx, store.MessageFilter{PartnerID: partner, Key: ref.Value, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(ms) == 1 {
			out = append(out, ref)
		}
	}
	return out, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, p *principal, k objectKind) error {
	key := r.PathValue("key")
	// Another partner's object answers exactly as one that does not exist.
	os, err := s.st.FindSyncObjects(r.Context(), &store.SyncObjectFilter{Kind: k.kind, Key: key, Partner: p.Partner, Limit: 1})
	if err != nil {
		return err
	}
	if len(os) == 0 {
		return &httpError{http.StatusNotFound, fmt.Sprintf("no %s %s", k.noun, key), "list them first (GET /api/v1/" + k.path + ")"}
	}
	o := os[0]
	ts, err := s.st.SyncTimers(r.Context(), o.Kind, o.Key)
	if err != nil {
		return err
	}
	refs, err := s.st.SyncRefs(r.Context(), o.Kind, o.Key)
	if err != nil {
		return err
	}
	if refs, err = s.partnerRefs(r.Context(), p.Partner, o, refs); err != nil {
		return err
	}
	evs, err := s.st.SyncEvents(r.Context(), o.Kind, o.Key)
	if err != nil {
		return err
	}
	out := objectDetailOut{objectOut: objectJSON(o, ts, s.now(), p.Partner), References: nonNil(refs), Timers: nonNil(ts), History: []*store.SyncEvent{},
		Document: s.latestDocument(r.Context(), o, refs, evs, p.Partner)}
	for _, ev := range evs {
		if p.Partner == "" || ev.System == p.Partner || ev.System == "wharf" {
			out.History = append(out.History, ev)
		}
	}
	writeJSON(w, 200, out)
	return nil
}
