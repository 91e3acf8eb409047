package mapping

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// gen builds random canonical documents in the form the X12 maps read
// back: the references and dates that X12 carries in fixed elements
// (B10's PRO, W06's order numbers, BIG's dates, ...) come first, as the
// inbound maps list them.
type gen struct {
	r   *rand.Rand
	loc *time.Location
}

func (g *gen) n(max int) int           { return g.r.Intn(max) }
func (g *gen) yes() bool               { return g.r.Intn(2) == 0 }
func (g *gen) pick(s ...string) string { return s[g.r.Intn(len(s))] }

func (g *gen) id(prefix string) string {
	const a = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	b := []byte(prefix)
	for i := 0; i < 3+g.n(8); i++ {
		b = append(b, a[g.n(len(a))])
	}
	return string(b)
}

func (g *gen) text() string {
	words := []string{"DOCK", "HANDLE", "WITH", "CARE", "CALL", "BEFORE", "ARRIVAL", "FRAGILE", "NORTH", "GATE", "ÉTÉ"}
	s := ""
	for i := 0; i < 1+g.n(4); i++ {
		if i > 0 {
			s += " "
		}
		s += words[g.n(len(words))]
	}
	return s
}

func (g *gen) money() canonical.Decimal {
	return canonical.Decimal(fmt.Sprintf("%d.%02d", g.n(100000), g.n(100)))
}

func (g *gen) num() canonical.Decimal {
	if g.yes() {
		return canonical.Decimal(fmt.Sprint(1 + g.n(50000)))
	}
	return canonical.Decimal(fmt.Sprintf("%d.%d", g.n(5000), 1+g.n(9)))
}

func (g *gen) count() canonical.Decimal { return canonical.Decimal(fmt.Sprint(1 + g.n(500))) }

func (g *gen) date() canonical.Time {
	return canonical.NewDate(2020+g.n(10), time.Month(1+g.n(12)), 1+g.n(28))
}

func (g *gen) when() canonical.Time {
	if g.yes() {
		return g.date()
	}
	return canonical.At(time.Date(2020+g.n(10), time.Month(1+g.n(12)), 1+g.n(28), g.n(24), g.n(60), g.n(2)*g.n(60), 0, g.loc))
}

func (g *gen) refs(types ...string) []canonical.Reference {
	var out []canonical.Reference
	for i := 0; i < g.n(4); i++ {
		if g.n(5) == 0 {
			out = append(out, canonical.Reference{Type: canonical.RefOther, Qualifier: g.pick("ZZ", "XY", "Q9"), Value: g.id("R")})
			continue
		}
		out = append(out, canonical.Reference{Type: g.pick(types...), Value: g.id("")})
	}
	return out
}

func (g *gen) dates(when bool, types ...string) []canonical.Date {
	var out []canonical.Date
	for i := 0; i < g.n(3); i++ {
		t := g.date()
		if when {
			t = g.when()
		}
		out = append(out, canonical.Date{Type: g.pick(types...), Time: t})
	}
	return out
}

// parties: per says whether the contact segment is PER (phone and email
// in one segment) or G61 (one number each); none means no contact segment.
func (g *gen) party(roles []string, contact string) canonical.Party {
	p := canonical.Party{Role: g.pick(roles...), Name: g.text()}
	if g.n(6) == 0 {
		p.Role, p.Qualifier = "other", "ZQ"
	}
	if g.yes() {
		p.IDQualifier, p.ID = g.pick("92", "93", "1"), g.id("")
	}
	if g.yes() {
		a := &canonical.Address{City: "COLUMBUS", State: "OH", PostalCode: fmt.Sprint(43000 + g.n(999))}
		for i := 0; i < g.n(4); i++ {
			a.Lines = append(a.Lines, fmt.Sprintf("%d INDUSTRIAL PKWY", 1+g.n(9999)))
		}
		if g.yes() {
			a.Country = "US"
		}
		p.Address = a
	}
	if contact != "" && g.yes() {
		c := canonical.Contact{Role: g.pick("IC", "SH", "RE"), Name: "RECEIVING"}
		switch {
		case contact == "PER" && g.yes():
			c.Phone, c.Email = "6145550100", "dock@example.com"
		case g.yes():
			c.Phone = "6145550100"
		default:
			c.Email = "dock@example.com"
		}
		p.Contacts = []canonical.Contact{c}
	}
	return p
}

func (g *gen) parties(contact string) []canonical.Party {
	var out []canonical.Party
	for i := 0; i < g.n(3); i++ {
		out = append(out, g.party([]string{"shipper", "consignee", "bill_to", "ship_to", "ship_from", "warehouse"}, contact))
	}
	return out
}

func (g *gen) notes() []string {
	var out []string
	for i := 0; i < g.n(3); i++ {
		out = append(out, g.text())
	}
	return out
}

func (g *gen) item(upc bool, pairs int) canonical.Item {
	var it canonical.Item
	if upc && g.yes() {
		it.IDs = append(it.IDs, canonical.Reference{Type: "upc", Value: g.id("0")})
	}
	for i := 0; i < g.n(pairs+1); i++ {
		if g.n(5) == 0 {
			it.IDs = append(it.IDs, canonical.Reference{Type: canonical.RefOther, Qualifier: "ZZ", Value: g.id("I")})
			continue
		}
		it.IDs = append(it.IDs, canonical.Reference{Type: g.pick("sku", "gtin", "vendor_part", "buyer_part"), Value: g.id("")})
	}
	if g.yes() {
		it.Description = g.text()
	}
	return it
}

func (g *gen) qty() canonical.Quantity {
	return canonical.Quantity{Value: g.count(), Unit: g.pick("each", "case", "pallet")}
}

func head(typ string) canonical.Header {
	return canonical.Header{Type: typ, Version: canonical.Version}
}

func (g *gen) doc(set string) canonical.Document {
	switch set {
	case "204":
		d := &canonical.Shipment{Header: head(canonical.TypeShipment), ShipmentID: g.id("SHP"), Carrier: g.id("SC")[:4],
			PaymentMethod: g.pick("prepaid", "collect", "third_party")}
		d.Purpose = g.pick("original", "change", "cancel")
		d.References = g.refs("po", "bol", "load_id", "customer_reference")
		d.Dates = g.dates(true, "requested_pickup", "requested_delivery", "respond_by")
		d.Notes, d.Parties = g.notes(), g.parties("G61")
		if g.yes() {
			d.Mode = g.pick("motor", "ltl", "truckload")
		}
		for i := 0; i < g.n(3); i++ {
			e := canonical.Equipment{Type: g.pick("dry_van", "reefer", "flatbed"), Number: g.id("T")}
			if g.yes() {
				e.Prefix, e.Length = "ABCD", "5300"
			}
			d.Equipment = append(d.Equipment, e)
		}
		for i := 0; i < 1+g.n(4); i++ {
			s := canonical.Stop{Sequence: i + 1, Reason: g.pick("load", "unload", "partial_load")}
			loc := g.party([]string{"ship_from", "ship_to"}, "G61")
			s.Location = &loc
			s.Dates = g.dates(true, "scheduled_pickup", "scheduled_delivery", "pickup_not_before")
			s.References, s.Notes = g.refs("po", "appointment"), g.notes()
			if g.yes() {
				s.Measures = &canonical.Measures{Weight: g.num(), WeightUnit: g.pick("lb", "kg"), Pieces: g.count(), PieceUnit: "pallet",
					Volume: g.num(), VolumeUnit: "cubic_feet"}
			}
			for j := 0; j < g.n(3); j++ {
				l := canonical.Lading{Description: g.text()}
				if g.yes() {
					l.Measures = &canonical.Measures{Weight: g.num(), WeightUnit: "lb", Pieces: g.count()}
				}
				if g.yes() {
					l.Hazmat = &canonical.Hazmat{UNNumber: "UN1203", Class: "3", Description: "GASOLINE", PackingGroup: "II"}
				}
				s.Lading = append(s.Lading, l)
			}
			d.Stops = append(d.Stops, s)
		}
		if g.yes() {
			d.Totals = &canonical.Measures{Weight: g.num(), WeightUnit: "lb", Pieces: g.count(), Volume: g.num(), VolumeUnit: "cubic_feet"}
			d.Charge = g.money()
		}
		return d
	case "990":
		d := &canonical.TenderResponse{Header: head(canonical.TypeTenderResponse), ShipmentID: g.id("SHP"), Carrier: "ABCD",
			Action: g.pick("accepted", "declined")}
		d.References, d.Notes = g.refs("bol", "load_id"), g.notes()
		if g.yes() {
			t := g.date()
			d.Date = &t
		}
		if d.Action == "declined" {
			d.Reason = "A2"
		}
		return d
	case "214":
		d := &canonical.ShipmentStatus{Header: head(canonical.TypeShipmentStatus), ShipmentID: g.id("SHP"), Carrier: "ABCD"}
		d.References = append([]canonical.Reference{{Type: "pro", Value: g.id("PRO")}}, g.refs("bol", "po")...)
		d.Notes, d.Parties = g.notes(), g.parties("G61")
		for i := 0; i < 1+g.n(5); i++ {
			e := canonical.StatusEvent{Status: g.pick("picked_up", "delivered", "in_transit", "arrived_pickup", "departed_pickup", "ZZ")}
			if g.yes() {
				e.Reason = "normal"
			}
			if g.yes() {
				t := g.when()
				e.Time = &t
			}
			if g.yes() {
				e.Location = &canonical.Address{City: "DAYTON", State: "OH", Country: "US"}
			}
			if g.yes() {
				e.Equipment = g.id("TR")
			}
			if g.yes() {
				e.Measures = &canonical.Measures{Weight: g.num(), WeightUnit: "kg", Pieces: g.count()}
			}
			if e.Status == "delivered" {
				e.ProofOfDelivery = "J SMITH"
			}
			d.Events = append(d.Events, e)
		}
		return d
	case "210":
		d := &canonical.FreightInvoice{Header: head(canonical.TypeFreightInvoice), InvoiceNumber: g.id("INV"), ShipmentID: g.id("SHP"),
			Carrier: "ABCD", PaymentMethod: "prepaid", Currency: "USD", Total: g.money()}
		d.Dates = []canonical.Date{{Type: "invoice", Time: g.date()}}
		if g.yes() {
			d.Dates = append(d.Dates, canonical.Date{Type: "delivery", Time: g.date()})
		}
		d.Dates = append(d.Dates, g.dates(true, "respond_by", "actual_pickup")...)
		d.References = g.refs("bol", "po", "customer_reference")
		d.Parties = g.parties("")
		for i := 0; i < g.n(4); i++ {
			l := canonical.FreightLine{LineNumber: fmt.Sprint(i + 1), Description: g.text()}
			if g.yes() {
				l.Measures = &canonical.Measures{Weight: g.num(), WeightUnit: "lb", Pieces: g.count(), PieceUnit: "pallet"}
			}
			for j := 0; j < g.n(3); j++ {
				l.Charges = append(l.Charges, canonical.Charge{Code: g.pick("", "FSC", "DET"), Description: g.text(), Amount: g.money(),
					Rate: g.num(), RateBasis: "PH"})
			}
			d.Lines = append(d.Lines, l)
		}
		if g.yes() {
			d.Totals = &canonical.Measures{Weight: g.num(), WeightUnit: "lb", Pieces: g.count()}
		}
		return d
	case "940":
		d := &canonical.WarehouseOrder{Header: head(canonical.TypeWarehouseOrder), OrderNumber: g.id("ORD")}
		d.Purpose = g.pick("original", "replace", "cancel")
		if g.yes() {
			d.References = append(d.References, canonical.Reference{Type: "po", Value: g.id("PO")})
		}
		d.References = append(d.References, g.refs("bol", "customer_reference", "department")...)
		d.Dates, d.Parties, d.Notes = g.dates(true, "requested_pickup", "requested_delivery"), g.parties("G61"), g.notes()
		if g.yes() {
			d.PaymentMethod, d.Mode, d.Carrier = "prepaid", "motor", "ABCD"
		}
		d.Lines = g.whLines(true, 2, true)
		d.Totals = g.whTotals()
		return d
	case "945":
		d := &canonical.ShipConfirmation{Header: head(canonical.TypeShipConfirmation), OrderNumber: g.id("ORD"), ShipmentID: g.id("SHP")}
		d.Dates = append([]canonical.Date{{Type: "ship", Time: g.date()}}, g.dates(true, "delivery", "requested_delivery")...)
		d.References = []canonical.Reference{{Type: "warehouse_order", Value: g.id("W")}, {Type: "po", Value: g.id("PO")}}
		d.References = append(d.References, g.refs("bol", "seal")...)
		d.Parties = g.parties("G61")
		if g.yes() {
			d.Mode, d.Carrier = "motor", "ABCD"
		}
		for i := 0; i < 1+g.n(4); i++ {
			q := g.qty()
			o := canonical.Quantity{Value: g.count(), Unit: q.Unit}
			d.Lines = append(d.Lines, canonical.WarehouseLine{LineNumber: fmt.Sprint(i + 1), Item: g.item(true, 1), Quantity: q,
				Ordered: &o, Status: g.pick("CC", "CP")})
		}
		d.Totals = g.whTotals()
		return d
	case "943":
		d := &canonical.InventoryMovement{Header: head(canonical.TypeInventoryMovement), Movement: "transfer", Number: g.id("DO")}
		d.Dates = append([]canonical.Date{{Type: "ship", Time: g.date()}}, g.dates(false, "delivery")...)
		d.References = append([]canonical.Reference{{Type: "shipment_id", Value: g.id("S")}}, g.refs("bol", "seal")...)
		d.Parties, d.Notes = g.parties("G61"), g.notes()
		d.Mode, d.Carrier = "motor", "ABCD"
		d.Lines, d.Totals = g.whLines(true, 2, true), g.whTotals()
		return d
	case "944":
		d := &canonical.InventoryMovement{Header: head(canonical.TypeInventoryMovement), Movement: "receipt", Number: g.id("WR")}
		d.Dates = append([]canonical.Date{{Type: "receipt", Time: g.date()}}, g.dates(false, "delivery")...)
		d.References = append([]canonical.Reference{{Type: "order_number", Value: g.id("DO")}}, g.refs("bol", "po")...)
		d.Parties = g.parties("G61")
		d.Lines = g.whLines(true, 2, true)
		d.Totals = &canonical.Measures{Pieces: g.count()}
		return d
	case "846":
		d := &canonical.InventoryBalance{Header: head(canonical.TypeInventoryBalance), ReportID: g.id("INV")}
		d.Purpose = "original"
		d.Dates = append([]canonical.Date{{Type: "report", Time: g.when()}}, g.dates(true, "effective", "ship")...)
		d.References, d.Parties = g.refs("department", "vendor"), g.parties("PER")
		for i := 0; i < 1+g.n(5); i++ {
			it := canonical.BalanceItem{Item: g.item(false, 5)}
			for j := 0; j < 1+g.n(3); j++ {
				it.Quantities = append(it.Quantities, canonical.TypedQuantity{Type: g.pick("available", "on_hand", "damaged"),
					Value: g.count(), Unit: g.pick("each", "case")})
			}
			d.Items = append(d.Items, it)
		}
		return d
	case "856":
		d := &canonical.ShipNotice{Header: head(canonical.TypeShipNotice), ShipmentID: g.id("ASN"), Carrier: "ABCD"}
		d.Purpose = "original"
		d.Dates = append([]canonical.Date{{Type: "ship", Time: g.when()}}, g.dates(true, "estimated_delivery")...)
		d.References, d.Parties = g.refs("bol", "pro"), g.parties("PER")
		d.Levels = []canonical.ShipLevel{{ID: "1", Level: "shipment", Measures: &canonical.Measures{Pieces: g.count(), PieceUnit: "PLT94",
			Weight: g.num(), WeightUnit: "lb"}}}
		for o := 0; o < 1+g.n(3); o++ {
			oid := fmt.Sprint(len(d.Levels) + 1)
			d.Levels = append(d.Levels, canonical.ShipLevel{ID: oid, Parent: "1", Level: "order",
				References: append([]canonical.Reference{{Type: "po", Value: g.id("PO")}}, g.refs("department")...),
				Parties:    g.parties("PER")})
			for i := 0; i < 1+g.n(3); i++ {
				it := g.item(false, 3)
				q := g.qty()
				l := canonical.ShipLevel{ID: fmt.Sprint(len(d.Levels) + 1), Parent: oid, Level: "item", Quantity: &q}
				if len(it.IDs) > 0 || it.Description != "" {
					l.Item = &it
				}
				d.Levels = append(d.Levels, l)
			}
		}
		return d
	case "850":
		d := &canonical.Order{Header: head(canonical.TypeOrder), OrderNumber: g.id("PO"), OrderType: g.pick("standalone", "blanket"),
			Currency: "USD"}
		d.Purpose = "original"
		d.Dates = append([]canonical.Date{{Type: "order", Time: g.date()}}, g.dates(true, "requested_delivery", "ship")...)
		d.References, d.Parties = g.refs("department", "vendor", "customer_reference"), g.parties("PER")
		d.Lines = g.orderLines()
		if g.yes() {
			d.Total = g.money()
		}
		return d
	case "810":
		d := &canonical.Invoice{Header: head(canonical.TypeInvoice), InvoiceNumber: g.id("INV"), OrderNumber: g.id("PO"),
			Currency: "USD", Total: g.money()}
		d.Dates = []canonical.Date{{Type: "invoice", Time: g.date()}}
		if g.yes() {
			d.Dates = append(d.Dates, canonical.Date{Type: "order", Time: g.date()})
		}
		d.Dates = append(d.Dates, g.dates(true, "ship", "delivery")...)
		d.Notes, d.References, d.Parties = g.notes(), g.refs("bol", "vendor"), g.parties("PER")
		d.Lines = g.orderLines()
		for i := 0; i < g.n(3); i++ {
			amt := g.money()
			if g.yes() {
				amt = "-" + amt
			}
			d.Charges = append(d.Charges, canonical.Charge{Code: g.pick("D240", "C310"), Amount: amt, Description: g.text()})
		}
		return d
	}
	panic("no generator for " + set)
}

func (g *gen) whLines(upc bool, pairs int, lot bool) []canonical.WarehouseLine {
	var out []canonical.WarehouseLine
	for i := 0; i < 1+g.n(5); i++ {
		l := canonical.WarehouseLine{LineNumber: fmt.Sprint(i + 1), Item: g.item(upc, pairs), Quantity: g.qty()}
		if lot && g.yes() {
			l.Item.Lot = g.id("LOT")
		}
		out = append(out, l)
	}
	return out
}

func (g *gen) whTotals() *canonical.Measures {
	if g.yes() {
		return nil
	}
	return &canonical.Measures{Pieces: g.count(), Weight: g.num(), WeightUnit: g.pick("lb", "kg"), Volume: g.num()}
}

func (g *gen) orderLines() []canonical.OrderLine {
	var out []canonical.OrderLine
	for i := 0; i < 1+g.n(5); i++ {
		l := canonical.OrderLine{LineNumber: fmt.Sprint(i + 1), Item: g.item(false, 5), Quantity: g.qty(), UnitPrice: g.money()}
		l.Dates = g.dates(true, "requested_delivery", "ship")
		out = append(out, l)
	}
	return out
}
