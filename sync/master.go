package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Master data policies: what a document that names an unknown customer,
// item or location, or disagrees with the master, does.
const (
	// MasterWarn raises a master_data exception; the document is applied
	// and routed.
	MasterWarn = "warn"
	// MasterHold raises the exception and neither applies nor routes the
	// document: once the master knows the record (or the record is
	// corrected), retrying the exception applies it.
	MasterHold = "hold"
	// MasterReject raises the exception and refuses the document for good:
	// the sender must send a corrected one.
	MasterReject = "reject"
)

// MasterPolicies lists the policies in order of strictness.
var MasterPolicies = []string{MasterWarn, MasterHold, MasterReject}

// MasterObjects are the objects a master data document lists, with the
// business object whose ownership rule says who may send it.
var MasterObjects = map[string]string{
	canonical.MasterCustomer: "customer_master",
	canonical.MasterItem:     "item_master",
	canonical.MasterLocation: "location_master",
}

// masterRejected is the event a document refused by a reject policy
// records, so that a retry does not apply it.
const masterRejected = "master_data.rejected"

// loadMaster keeps a master data document as reference data: a full load
// replaces the object's master, a delta changes the records it lists.
func (e *Engine) loadMaster(ctx context.Context, m *store.Message, seq int, md *canonical.MasterData) error {
	// notLoaded raises the exception of a file that cannot be loaded.
	notLoaded := func(detail string) error {
		return e.raise(ctx, &store.Exception{Reason: "master_data", Owner: store.OwnerIT, ObjectKind: "message", ObjectKey: m.ID,
			PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: fmt.Sprintf("master_data/%s/%d", m.ID, seq), Detail: detail})
	}
	object, ok := MasterObjects[md.Object]
	if !ok {
		return notLoaded(fmt.Sprintf("partner %s, file %s: master data for %q, which is not a master (customer, item or location): nothing loaded; "+
			"fix the export's object field, then replay", m.PartnerID, m.RemoteName, md.Object))
	}
	if md.Mode != "" && md.Mode != "full" && md.Mode != "delta" {
		return notLoaded(fmt.Sprintf("partner %s, file %s: %s master data in mode %q: nothing loaded; the mode is full or delta, fix the export, then replay",
			m.PartnerID, m.RemoteName, md.Object, md.Mode))
	}
	if ok, owner := e.Rules.allowed(object, m.PartnerID); !ok {
		return e.raise(ctx, &store.Exception{Reason: "ownership", Owner: store.OwnerIT, ObjectKind: "master", ObjectKey: md.Object,
			PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: "ownership/" + m.ID + "/master/" + md.Object,
			Detail: fmt.Sprintf("%s %s sent %s master data (file %s), but %s is owned by %s: not loaded; send it from %s, or change the ownership rule",
				roleName(e.Rules.role(m.PartnerID)), m.PartnerID, md.Object, m.RemoteName, object, owner, owner)})
	}
	p := &store.PutMasterParams{Object: md.Object, Full: md.Mode == "full", MessageID: m.ID}
	for i := range md.Records {
		r := &md.Records[i]
		if r.ID == "" {
			return notLoaded(fmt.Sprintf("partner %s, file %s: %s master record %d has no id: nothing of the file loaded; fix the export, then replay",
				m.PartnerID, m.RemoteName, md.Object, i+1))
		}
		if r.Deleted && !p.Full {
			p.Delete = append(p.Delete, r.ID)
			continue
		}
		b, _ := json.Marshal(r)
		p.Records = append(p.Records, &store.MasterRecord{ID: r.ID, Data: string(b)})
	}
	return e.Store.WithTx(ctx, func(tx store.Tx) error { return tx.PutMasterRecords(ctx, p) })
}

// masterLine is a document line as the item master check sees it.
type masterLine struct {
	n    string
	item canonical.Item
	unit string
}

// mismatch is one disagreement of a document with the master.
type mismatch struct {
	object string // customer, item, location
	what   string
}

// checkMaster compares a document with the masters that have a policy
// and are loaded (an object without records is not checked) and returns
// the strictest policy its mismatches call for ("" when none).
func (e *Engine) checkMaster(ctx context.Context, d canonical.Document) (string, []mismatch, error) {
	if len(e.Rules.Master) == 0 {
		return "", nil, nil
	}
	h := d.Head()
	var out []mismatch
	// known is asked once per master object: no need to remember it.
	known := func(object string) (bool, error) {
		if _, ok := e.Rules.Master[object]; !ok {
			return false, nil
		}
		n, err := e.Store.CountMasterRecords(ctx, object)
		return n > 0, err
	}
	get := func(object, id string) (*canonical.MasterRecord, error) {
		r, err := e.Store.GetMasterRecord(ctx, object, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var mr canonical.MasterRecord
		_ = json.Unmarshal([]byte(r.Data), &mr)
		return &mr, nil
	}
	// Customer: the order's or invoice's buyer or bill-to.
	var orderLines []canonical.OrderLine
	var warehouseLines []canonical.WarehouseLine
	checkCustomer := false
	switch x := d.(type) {
	case *canonical.Order:
		checkCustomer, orderLines = true, x.Lines
	case *canonical.Invoice:
		checkCustomer, orderLines = true, x.Lines
	case *canonical.ShipConfirmation:
		warehouseLines = x.Lines
	case *canonical.InventoryMovement: // a 943, 944 or 947: items moved in or within a warehouse
		warehouseLines = x.Lines
	default:
		return "", nil, nil
	}
	var lines []masterLine
	for _, l := range orderLines {
		lines = append(lines, masterLine{l.LineNumber, l.Item, l.Quantity.Unit})
	}
	for _, l := range warehouseLines {
		lines = append(lines, masterLine{l.LineNumber, l.Item, l.Quantity.Unit})
	}
	if checkCustomer {
		if ok, err := known(canonical.MasterCustomer); err != nil {
			return "", nil, err
		} else if ok {
			if p := party(h, "bill_to", "buyer"); p != nil && p.ID != "" {
				r, err := get(canonical.MasterCustomer, p.ID)
				if err != nil {
					return "", nil, err
				}
				if r == nil {
					out = append(out, mismatch{canonical.MasterCustomer, fmt.Sprintf("customer %s (%s) is not in the customer master", p.ID, p.Role)})
				}
			}
		}
	}
	if ok, err := known(canonical.MasterItem); err != nil {
		return "", nil, err
	} else if ok {
		for i, l := range lines {
			line := cmp.Or(l.n, fmt.Sprint(i+1))
			var r *canonical.MasterRecord
			var ids []string
			for _, id := range l.item.IDs {
				if id.Value == "" || r != nil {
					continue
				}
				ids = append(ids, id.Value)
				if r, err = get(canonical.MasterItem, id.Value); err != nil {
					return "", nil, err
				}
			}
			switch {
			case r == nil && len(ids) > 0:
				out = append(out, mismatch{canonical.MasterItem, fmt.Sprintf("line %s: item %s is not in the item master", line, strings.Join(ids, " / "))})
			case r != nil && r.Unit != "" && l.unit != "" && !strings.EqualFold(r.Unit, l.unit):
				out = append(out, mismatch{canonical.MasterItem, fmt.Sprintf("line %s: item %s in unit %s, the item master says %s", line, r.ID, l.unit, r.Unit)})
			}
		}
	}
	if ok, err := known(canonical.MasterLocation); err != nil {
		return "", nil, err
	} else if ok {
		if p := party(h, "ship_to"); p != nil && p.ID != "" {
			r, err := get(canonical.MasterLocation, p.ID)
			if err != nil {
				return "", nil, err
			}
			switch {
			case r == nil:
				out = append(out, mismatch{canonical.MasterLocation, fmt.Sprintf("ship-to %s is not in the location master", p.ID)})
			case r.Address != nil && p.Address != nil:
				if w := addressDiffers(r.Address, p.Address); w != "" {
					out = append(out, mismatch{canonical.MasterLocation, fmt.Sprintf("ship-to %s: %s", p.ID, w)})
				}
			}
		}
	}
	policy := ""
	for _, x := range out {
		if p := e.Rules.Master[x.object]; slices.Index(MasterPolicies, p) > slices.Index(MasterPolicies, policy) {
			policy = p
		}
	}
	return policy, out, nil
}

// addressDiffers names how a document's address disagrees with the
// master's (postal code, city, state, country; fields either leaves
// empty are not compared).
func addressDiffers(master, doc *canonical.Address) string {
	norm := func(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) }
	for _, f := range []struct{ name, m, d string }{
		{"postal code", master.PostalCode, doc.PostalCode}, {"city", master.City, doc.City},
		{"state", master.State, doc.State}, {"country", master.Country, doc.Country}} {
		if f.m != "" && f.d != "" && norm(f.m) != norm(f.d) {
			return fmt.Sprintf("%s %s, the location master says %s", f.name, f.d, f.m)
		}
	}
	return ""
}

// masterException raises the master_data exception of a document that
// disagrees with the master, saying what its policy did.
func (e *Engine) masterException(ctx context.Context, m *store.Message, seq int, c *change, d canonical.Document, policy string, ms []mismatch) error {
	var what []string
	for _, x := range ms {
		what = append(what, x.what)
	}
	var todo string
	switch policy {
	case MasterWarn:
		todo = "applied and routed anyway (policy warn); correct the master or the sender's data"
	case MasterHold:
		todo = "held: not applied, not routed; add or correct the master record (or fix the sender's data), then retry this exception"
	default:
		todo = "rejected: not applied, not routed; ask " + m.PartnerID + " to send a corrected document"
	}
	owner := cmp.Or(e.Rules.MasterOwner, store.OwnerOperations)
	return e.raise(ctx, &store.Exception{Reason: "master_data", Owner: owner, ObjectKind: c.kind, ObjectKey: c.key,
		PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: fmt.Sprintf("master_data/%s/%d", m.ID, seq),
		Detail: fmt.Sprintf("partner %s, file %s: the %s for %s %s disagrees with the master data: %s; %s",
			m.PartnerID, m.RemoteName, d.Head().Type, c.kind, c.key, strings.Join(what, "; "), todo)})
}

// settleMaster resolves the master_data exception of a held document that
// now agrees with the master (it is being applied on a retry).
func (e *Engine) settleMaster(ctx context.Context, m *store.Message, seq int) error {
	open, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: "master_data", MessageID: m.ID, Limit: 100})
	if err != nil || len(open) == 0 {
		return err
	}
	key := fmt.Sprintf("master_data/%s/%d", m.ID, seq)
	return e.Store.WithTx(ctx, func(tx store.Tx) error {
		for _, x := range open {
			if x.DedupeKey != key {
				continue
			}
			if err := tx.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: x.ID, Status: store.ExceptionResolved, Actor: "wharf",
				Comment: fmt.Sprintf("the document (message %s, #%d) agrees with the master data now and was applied", m.ID, seq)}); err != nil {
				return err
			}
		}
		return nil
	})
}
