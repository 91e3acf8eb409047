// Package sync is the "decide" stage of Wharf's flow: it keeps operational
// truth (TMS, WMS, carriers) and financial truth (ERP, invoicing) in step.
//
// Every canonical document mapped from an accepted inbound message is
// handed to [Engine.Apply]. The engine finds the business object it is
// about (an order, a shipment, an invoice), refuses updates from a system
// that does not own that kind of object (an "ownership" exception), appends
// what happened to the object's history (store.SyncEvent, append-only),
// derives the object's state, correlates it with every reference it carries
// (PO, BOL, PRO, shipment ID, invoice number) so that [Trace] finds it,
// settles and starts SLA timers, holds billing until delivery and proof of
// delivery, matches freight invoices against the tendered charge, and sends
// documents along the configured routes (never back to the system they came
// from). Sending is the caller's [Sender]: the sync never knows transports.
//
// Import it as wsync: its name shadows the standard library's sync.
package sync

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// Roles of internal systems and partners.
const (
	RoleERP       = "erp"
	RoleTMS       = "tms"
	RoleWMS       = "wms"
	RoleInvoicing = "invoicing"
	RoleCarrier   = "carrier"
	RoleCustomer  = "customer"
)

// Business objects that have a system of record. Each canonical document
// type updates one of them (see objectOf).
var Objects = []string{"customer_master", "item_master", "location_master", "order", "shipment_plan", "carrier_assignment",
	"ship_confirmation", "shipment_status", "freight_charges", "invoice", "payment_status", "inventory"}

// Events the engine emits, which routes and SLAs refer to.
var Events = []string{
	"order.created", "order.changed", "order.cancelled",
	"tender.accepted", "tender.declined",
	"shipment.planned", "shipment.shipped", "shipment.status", "shipment.delivered", "shipment.pod",
	"billing.held", "billing.released",
	"freight.matched", "freight.disputed",
	"invoice.approved",
	"inventory.reported",
}

// Route sends a document to a system or partner when an event happens.
type Route struct {
	Name string
	On   string // an event of Events
	From string // only events from this system/partner ID or role ("" = any)
	To   string // partner or system ID
	// Send is the format: x12:SET, csv:LAYOUT, flat:LAYOUT or json
	// (canonical JSON Lines). The document is converted to the type the
	// format carries (an order becomes a load tender for x12:204).
	Send string
	// DocType is the canonical type the format carries (filled by the
	// caller from the X12 set or the layout's document).
	DocType string
	// Batch: the documents wait for the route's scheduled run (the job
	// sync.batch.NAME), which sends them all in one file, as legacy batch
	// interfaces expect; false sends each on its event.
	Batch bool
	// Test: the route carries test traffic only (a partner's test system
	// while it is onboarded); production traffic never takes it. A route
	// to a partner of Rules.TestPartners is a test route too.
	Test bool
}

// SLA expects event Expect on the same object within Within of event After.
type SLA struct {
	Name   string
	After  string
	Expect string
	Within time.Duration
	Owner  string // it or operations
}

// Tolerance is how far a freight invoice may be from the tendered charge.
// Either bound allows the difference; both zero means exact.
type Tolerance struct {
	Percent *big.Rat // e.g. 2/100
	Amount  *big.Rat // e.g. 5.00
}

// Rules are the sync's configuration.
type Rules struct {
	// Roles: system or partner ID → role (erp, tms, wms, invoicing, carrier, customer).
	Roles map[string]string
	// Ownership: business object → the sources allowed to update it, by ID
	// or role; the first is the system of record. An object absent here
	// may be updated by anyone.
	Ownership map[string][]string
	Routes    []Route
	SLAs      []SLA
	// BillingRequiresPOD holds billing until a proof of delivery arrived,
	// not only the delivery.
	BillingRequiresPOD bool
	// Tolerance per partner (the carrier invoicing); nil: exact match.
	Tolerance func(partner string) Tolerance
	// TestPartners are the partners whose every file is test traffic and
	// that receive test traffic only (partners marked test while onboarded).
	TestPartners map[string]bool
	// Master: master object (customer, item, location) → the policy for
	// documents that name what its master does not know or disagree with
	// it (MasterWarn, MasterHold, MasterReject); an object absent here, or
	// whose master was never loaded, is not checked.
	Master map[string]string
	// MasterOwner owns master_data exceptions (default operations).
	MasterOwner string
}

// RuleError is a problem with the rules, naming the configuration field.
type RuleError struct {
	Field string // e.g. sync.routes[2].on
	Msg   string
}

func (e *RuleError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the rules' names; the error is a *RuleError.
func (r *Rules) Validate() error {
	for obj := range r.Ownership {
		if !slices.Contains(Objects, obj) {
			return &RuleError{"sync.ownership." + obj, fmt.Sprintf("unknown business object %q (known: %s)", obj, strings.Join(Objects, ", "))}
		}
	}
	for i, rt := range r.Routes {
		f := fmt.Sprintf("sync.routes[%d]", i)
		if !slices.Contains(Events, rt.On) {
			return &RuleError{f + ".on", fmt.Sprintf("route %s: %q is not an event (known: %s)", rt.Name, rt.On, strings.Join(Events, ", "))}
		}
		if rt.To == "" {
			return &RuleError{f + ".to", fmt.Sprintf("route %s: to is required", rt.Name)}
		}
	}
	for obj, p := range r.Master {
		if _, ok := MasterObjects[obj]; !ok {
			return &RuleError{"sync.master_data." + obj, fmt.Sprintf("%q is not a master (known: customer, item, location)", obj)}
		}
		if !slices.Contains(MasterPolicies, p) {
			return &RuleError{"sync.master_data." + obj, fmt.Sprintf("policy %q is not one of %s", p, strings.Join(MasterPolicies, ", "))}
		}
	}
	for i, s := range r.SLAs {
		f := fmt.Sprintf("sync.slas[%d]", i)
		if !slices.Contains(Events, s.After) {
			return &RuleError{f + ".after", fmt.Sprintf("SLA %s: %q is not an event (known: %s)", s.Name, s.After, strings.Join(Events, ", "))}
		}
		if !slices.Contains(Events, s.Expect) {
			return &RuleError{f + ".expect", fmt.Sprintf("SLA %s: %q is not an event (known: %s)", s.Name, s.Expect, strings.Join(Events, ", "))}
		}
		if s.Within <= 0 {
			return &RuleError{f + ".within", fmt.Sprintf("SLA %s: within must be positive", s.Name)}
		}
	}
	return nil
}

// role returns the role of a system or partner ID.
func (r *Rules) role(id string) string { return r.Roles[id] }

// allowed reports whether source may update object, and names the system of record.
func (r *Rules) allowed(object, source string) (ok bool, owner string) {
	srcs := r.Ownership[object]
	if len(srcs) == 0 {
		return true, ""
	}
	role := r.role(source)
	for _, s := range srcs {
		if s == source || (role != "" && s == role) {
			return true, srcs[0]
		}
	}
	return false, srcs[0]
}

// testRoute reports whether rt carries test traffic only.
func (r *Rules) testRoute(rt Route) bool { return rt.Test || r.TestPartners[rt.To] }

// IsTest reports whether document d in a message from partner is test
// traffic: the partner is marked test, or d came in an interchange with
// ISA15 T (canonical.Source.Usage).
func (r *Rules) IsTest(partner string, d canonical.Document) bool {
	if r.TestPartners[partner] {
		return true
	}
	s := d.Head().Source
	return s != nil && s.Usage == "T"
}

// takes tells whether route rt takes event ev of a document from source:
// its event, from that system or role, and never echoed back to the
// system it came from. Test routes take test traffic only (testRoute).
func (r *Rules) takes(rt Route, ev, source string) bool {
	return rt.On == ev && rt.To != source && r.matches(rt.From, source)
}

// matches reports whether a route's From selects source.
func (r *Rules) matches(from, source string) bool {
	return from == "" || from == source || from == r.role(source)
}

// ParseTolerance reads "2%", "5.00" or "2%,5.00".
func ParseTolerance(s string) (Tolerance, error) {
	var t Tolerance
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, ok := strings.CutSuffix(part, "%"); ok {
			v, ok := new(big.Rat).SetString(p)
			if !ok || v.Sign() < 0 {
				return t, fmt.Errorf("tolerance %q: %q is not a percentage", s, part)
			}
			t.Percent = v.Quo(v, big.NewRat(100, 1))
			continue
		}
		v, ok := new(big.Rat).SetString(part)
		if !ok || v.Sign() < 0 {
			return t, fmt.Errorf("tolerance %q: %q is not an amount (use 5.00, 2%% or both: 2%%,5.00)", s, part)
		}
		t.Amount = v
	}
	return t, nil
}

// within reports whether got is within t of want.
func (t Tolerance) within(want, got *big.Rat) bool {
	diff := new(big.Rat).Sub(got, want)
	diff.Abs(diff)
	if diff.Sign() == 0 {
		return true
	}
	if t.Amount != nil && diff.Cmp(t.Amount) <= 0 {
		return true
	}
	if t.Percent != nil {
		lim := new(big.Rat).Mul(new(big.Rat).Abs(want), t.Percent)
		if diff.Cmp(lim) <= 0 {
			return true
		}
	}
	return false
}
