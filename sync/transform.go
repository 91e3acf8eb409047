package sync

import (
	"cmp"
	"fmt"
	"time"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// Convert turns a document into the type a route's format carries: an order
// becomes the load tender (shipment) a carrier or TMS receives, or the
// warehouse order a WMS receives; a ship confirmation becomes the shipment
// status a TMS receives. The same type (or "") returns d itself. dt is what
// the sync knows about the object (the tender's shipment ID, carrier, charge);
// now stands in for an event time the source document does not carry.
func Convert(d canonical.Document, to string, dt *Data, now time.Time) (canonical.Document, error) {
	from := d.Head().Type
	if to == "" || to == from {
		return d, nil
	}
	if dt == nil {
		dt = &Data{}
	}
	switch x := d.(type) {
	case *canonical.Order:
		switch to {
		case canonical.TypeShipment:
			return tender(x, dt), nil
		case canonical.TypeWarehouseOrder:
			return warehouseOrder(x, dt), nil
		}
	case *canonical.ShipConfirmation:
		if to == canonical.TypeShipmentStatus {
			s := &canonical.ShipmentStatus{Header: header(canonical.TypeShipmentStatus, &x.Header), ShipmentID: cmp.Or(x.ShipmentID, dt.Shipment),
				Carrier: cmp.Or(x.Carrier, dt.Carrier)}
			t := canonical.At(now.UTC().Truncate(time.Minute))
			for _, dd := range x.Dates {
				if dd.Type == "ship" {
					t = dd.Time
				}
			}
			s.Events = []canonical.StatusEvent{{Status: "departed_pickup", Reason: "normal", Time: &t}}
			if x.OrderNumber != "" {
				s.References = appendRef(s.References, canonical.RefOrderNumber, x.OrderNumber)
			}
			return s, nil
		}
	case *canonical.ShipmentStatus:
		if to == canonical.TypeShipConfirmation {
			break
		}
	}
	return nil, fmt.Errorf("no conversion from a %s to a %s", from, to)
}

// header copies the references, dates and parties of a document for another type.
func header(typ string, h *canonical.Header) canonical.Header {
	return canonical.Header{Type: typ, Version: canonical.Version, Purpose: h.Purpose,
		References: append([]canonical.Reference(nil), h.References...), Dates: append([]canonical.Date(nil), h.Dates...),
		Parties: append([]canonical.Party(nil), h.Parties...), Notes: append([]string(nil), h.Notes...)}
}

func appendRef(refs []canonical.Reference, typ, v string) []canonical.Reference {
	for _, r := range refs {
		if r.Type == typ && r.Value == v {
			return refs
		}
	}
	return append(refs, canonical.Reference{Type: typ, Value: v})
}

// tender is the load tender (204) for an order: pick up at the ship-from
// party, deliver to the ship-to party, at the order's requested dates.
func tender(o *canonical.Order, dt *Data) *canonical.Shipment {
	h := header(canonical.TypeShipment, &o.Header)
	h.References = appendRef(h.References, canonical.RefOrderNumber, o.OrderNumber)
	s := &canonical.Shipment{Header: h, ShipmentID: cmp.Or(dt.Shipment, shipmentIDOf(o)), Charge: o.FreightCharge, PaymentMethod: "prepaid"}
	if p := party(&o.Header, "carrier"); p != nil {
		s.Carrier = p.ID
	}
	var weight, pieces canonical.Decimal
	for _, l := range o.Lines {
		if l.Quantity.Unit == "lb" || l.Quantity.Unit == "kg" {
			weight = l.Quantity.Value
		}
	}
	pieces = canonical.Decimal(fmt.Sprint(len(o.Lines)))
	dates := func(types ...string) []canonical.Date {
		var out []canonical.Date
		for _, d := range o.Dates {
			for _, t := range types {
				if d.Type == t {
					out = append(out, d)
				}
			}
		}
		return out
	}
	pick := party(&o.Header, "ship_from", "seller", "warehouse")
	drop := party(&o.Header, "ship_to", "consignee", "buyer")
	s.Stops = append(s.Stops, canonical.Stop{Sequence: 1, Reason: "load", Location: pick, Dates: dates("requested_pickup", "requested_ship", "scheduled_pickup")})
	s.Stops = append(s.Stops, canonical.Stop{Sequence: 2, Reason: "unload", Location: drop, Dates: dates("requested_delivery", "scheduled_delivery")})
	if weight != "" || len(o.Lines) > 0 {
		s.Totals = &canonical.Measures{Weight: weight, Pieces: pieces, PieceUnit: "each"}
		if weight != "" {
			s.Totals.WeightUnit = "lb"
		}
	}
	return s
}

// warehouseOrder is the shipping order (940) a warehouse receives for an order.
func warehouseOrder(o *canonical.Order, dt *Data) *canonical.WarehouseOrder {
	h := header(canonical.TypeWarehouseOrder, &o.Header)
	h.References = appendRef(h.References, canonical.RefShipmentID, cmp.Or(dt.Shipment, shipmentIDOf(o)))
	w := &canonical.WarehouseOrder{Header: h, OrderNumber: o.OrderNumber, PaymentMethod: "prepaid"}
	if p := party(&o.Header, "carrier"); p != nil {
		w.Carrier = p.ID
	}
	for _, l := range o.Lines {
		w.Lines = append(w.Lines, canonical.WarehouseLine{LineNumber: l.LineNumber, Item: l.Item, Quantity: l.Quantity})
	}
	return w
}
