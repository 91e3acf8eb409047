package config

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Sync configures the sync between systems: who owns what, where events
// send documents, billing holds, SLAs and expected files. Event and object
// names are checked by the sync stage itself (ValidateOptions.Sync).
type Sync struct {
	// Ownership: business object → the systems or partner roles allowed to
	// update it; the first is the system of record. Objects: customer_master,
	// item_master, location_master, order, shipment_plan, carrier_assignment, ship_confirmation,
	// shipment_status, freight_charges, invoice, payment_status, inventory.
	Ownership map[string][]string `yaml:"ownership"`
	Billing   SyncBilling         `yaml:"billing"`
	Routes    []SyncRoute         `yaml:"routes"`
	SLAs      []SyncSLA           `yaml:"slas"`
	Expect    []SyncExpect        `yaml:"expect"`
	// Digest sends the open exceptions as a text report to a partner (a
	// folder the operations team reads, a webhook to their chat) on a cron.
	Digest *SyncDigest `yaml:"digest"`
	// ReconcileAfter: orders not shipped and deliveries not invoiced for
	// this long become exceptions (job sync.reconcile; default 48h).
	ReconcileAfter string `yaml:"reconcile_after"`
	// MasterData checks orders, invoices and ship confirmations against the
	// ERP's customer, item and location masters (master_data documents).
	MasterData SyncMasterData `yaml:"master_data"`
}

// SyncMasterData says, per master, what a document that names a record
// the master does not know, or disagrees with it (unit of measure,
// ship-to address), does: warn (a master_data exception; applied and
// routed), hold (the exception; not applied or routed until retried once
// the master knows it) or reject (the exception; refused for good). Empty
// does not check; a master never loaded is not checked.
type SyncMasterData struct {
	Customer string `yaml:"customer"` // the buyer or bill-to of orders and invoices: warn, hold or reject
	Item     string `yaml:"item"`     // the items of order, invoice and ship confirmation lines, and their unit: warn, hold or reject
	Location string `yaml:"location"` // the ship-to of orders and invoices, and its address: warn, hold or reject
	Owner    string `yaml:"owner"`    // it or operations (default): who works the master_data exceptions
}

// Policies returns the master → policy map of the objects that are checked.
func (m SyncMasterData) Policies() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"customer": m.Customer, "item": m.Item, "location": m.Location} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// SyncDigest is the exception digest's schedule and recipient.
type SyncDigest struct {
	To       string `yaml:"to"`       // partner ID
	Cron     string `yaml:"cron"`     // e.g. "0 7 * * 1-5"
	Timezone string `yaml:"timezone"` // default UTC
}

// Schedule returns the digest's schedule.
func (d SyncDigest) Schedule() (cron.Schedule, error) {
	return Schedule{Name: "digest", Cron: d.Cron, Timezone: d.Timezone}.Parse()
}

// SyncBilling holds invoicing until delivery, and by default also until
// the proof of delivery arrived.
type SyncBilling struct {
	RequirePOD *bool `yaml:"require_pod"` // default true
}

// RequiresPOD reports billing.require_pod with its default.
func (b SyncBilling) RequiresPOD() bool { return b.RequirePOD == nil || *b.RequirePOD }

// SyncRoute sends a document to a partner or system when an event happens.
type SyncRoute struct {
	Name string `yaml:"name"` // unique; names the route in events, logs and exceptions
	On   string `yaml:"on"`   // event, e.g. order.created
	From string `yaml:"from"` // only events from this partner or role
	To   string `yaml:"to"`   // partner ID
	Send string `yaml:"send"` // x12:SET, csv:LAYOUT, flat:LAYOUT or json
	// Batch is a cron schedule: the route's documents wait for it and go
	// out together in one file (a legacy ERP's nightly import); empty sends
	// each document on its event.
	Batch    string `yaml:"batch"`
	Timezone string `yaml:"timezone"` // of batch; default UTC
	// Test: the route carries test traffic only (ISA15 T interchanges and
	// files of partners marked test); production documents never take it.
	Test bool `yaml:"test"`
}

// BatchSchedule returns the batch's schedule.
func (r SyncRoute) BatchSchedule() (cron.Schedule, error) {
	return Schedule{Name: r.Name, Cron: r.Batch, Timezone: r.Timezone}.Parse()
}

// SyncSLA expects an event within a time after another.
type SyncSLA struct {
	Name   string `yaml:"name"`   // unique; an exception's reason is sla.NAME
	After  string `yaml:"after"`  // the starting event, e.g. shipment.delivered
	Expect string `yaml:"expect"` // the event expected within, e.g. invoice.approved
	Within string `yaml:"within"` // e.g. 24h, 90m
	Owner  string `yaml:"owner"`  // it or operations (default)
}

// WithinDuration returns within.
func (s SyncSLA) WithinDuration() time.Duration { d, _ := parseDuration(s.Within); return d }

// SyncExpect expects a file from a partner by a time of day.
type SyncExpect struct {
	Name     string `yaml:"name"`     // unique; names the check in exceptions
	Partner  string `yaml:"partner"`  // the partner ID the file comes from
	Cron     string `yaml:"cron"`     // when to check, e.g. "0 6 * * *" for 06:00
	Timezone string `yaml:"timezone"` // IANA name; default UTC
	Window   string `yaml:"window"`   // how far back a file counts; default 24h
	Owner    string `yaml:"owner"`    // it (default) or operations
}

// Schedule returns the check's schedule.
func (x SyncExpect) Schedule() (cron.Schedule, error) {
	return Schedule{Name: x.Name, Cron: x.Cron, Timezone: x.Timezone}.Parse()
}

// WindowDuration returns window with its default.
func (x SyncExpect) WindowDuration() time.Duration {
	if d, err := parseDuration(x.Window); err == nil {
		return d
	}
	return 24 * time.Hour
}

// ReconcileDuration returns reconcile_after with its default.
func (s Sync) ReconcileDuration() time.Duration {
	if d, err := parseDuration(s.ReconcileAfter); err == nil {
		return d
	}
	return 48 * time.Hour
}

func (c *Config) validateSync(opts ValidateOptions) error {
	s := c.Sync
	partners := map[string]bool{}
	for _, p := range c.Partners {
		partners[p.ID] = true
		switch p.Role {
		case "", "erp", "tms", "wms", "invoicing", "carrier", "customer":
		default:
			return c.errAt(fmt.Sprintf("partners[%d].role", indexOf(c, p.ID)), "%q is not a role: use erp, tms, wms, invoicing, carrier or customer", p.Role)
		}
	}
	for _, f := range []struct{ name, v string }{{"customer", s.MasterData.Customer}, {"item", s.MasterData.Item}, {"location", s.MasterData.Location}} {
		switch f.v {
		case "", "warn", "hold", "reject":
		default:
			return c.errAt("sync.master_data."+f.name, "%q is not a policy: use warn, hold or reject", f.v)
		}
	}
	if o := s.MasterData.Owner; o != "" && o != "it" && o != "operations" {
		return c.errAt("sync.master_data.owner", "%q is not an owner: use it or operations", o)
	}
	names := map[string]bool{}
	for i, r := range s.Routes {
		f := fmt.Sprintf("sync.routes[%d]", i)
		if r.Name == "" {
			return c.errAt(f+".name", "is required")
		}
		if names[r.Name] {
			return c.errAt(f+".name", "route %q is declared twice", r.Name)
		}
		names[r.Name] = true
		if !partners[r.To] {
			return c.errAt(f+".to", "%q is not a partner declared in this file (partners[].id)", r.To)
		}
		if r.Send == "" {
			return c.errAt(f+".send", "is required: x12:SET, csv:LAYOUT, flat:LAYOUT or json")
		}
		if r.Batch != "" {
			if _, err := r.BatchSchedule(); err != nil {
				return c.errAt(scheduleField(err, f+".batch", f+".timezone"), "%v", err)
			}
		} else if r.Timezone != "" {
			return c.errAt(f+".timezone", "only a batch route has a schedule (set batch: CRON)")
		}
	}
	for i, x := range s.SLAs {
		f := fmt.Sprintf("sync.slas[%d]", i)
		if x.Name == "" {
			return c.errAt(f+".name", "is required")
		}
		if _, err := parseDuration(x.Within); err != nil {
			return c.errAt(f+".within", "%v", err)
		}
		if x.Owner != "" && x.Owner != "it" && x.Owner != "operations" {
			return c.errAt(f+".owner", "%q: use it or operations", x.Owner)
		}
	}
	for i, x := range s.Expect {
		f := fmt.Sprintf("sync.expect[%d]", i)
		if x.Name == "" {
			return c.errAt(f+".name", "is required")
		}
		if !partners[x.Partner] {
			return c.errAt(f+".partner", "%q is not a partner declared in this file", x.Partner)
		}
		if _, err := x.Schedule(); err != nil {
			return c.errAt(f+".cron", "%v", err)
		}
		if x.Window != "" {
			if _, err := parseDuration(x.Window); err != nil {
				return c.errAt(f+".window", "%v", err)
			}
		}
		if x.Owner != "" && x.Owner != "it" && x.Owner != "operations" {
			return c.errAt(f+".owner", "%q: use it or operations", x.Owner)
		}
	}
	if d := s.Digest; d != nil {
		if !partners[d.To] {
			return c.errAt("sync.digest.to", "%q is not a partner declared in this file", d.To)
		}
		if _, err := d.Schedule(); err != nil {
			return c.errAt("sync.digest.cron", "%v", err)
		}
	}
	if s.ReconcileAfter != "" {
		if _, err := parseDuration(s.ReconcileAfter); err != nil {
			return c.errAt("sync.reconcile_after", "%v", err)
		}
	}
	for i, p := range c.Partners {
		if p.ChargeTolerance != "" && opts.Tolerance != nil {
			if err := opts.Tolerance(p.ChargeTolerance); err != nil {
				return c.errAt(fmt.Sprintf("partners[%d].charge_tolerance", i), "%v", err)
			}
		}
	}
	if opts.Sync != nil {
		if field, err := opts.Sync(c); err != nil {
			return c.errAt(field, "%v", err)
		}
	}
	return nil
}

func indexOf(c *Config, id string) int {
	for i, p := range c.Partners {
		if p.ID == id {
			return i
		}
	}
	return -1
}
