package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// ---- 850 Purchase Order ⇄ Order

type in850 struct {
	d    canonical.Order
	line *canonical.OrderLine
}

func (m *in850) endLine() {
	if m.line != nil {
		m.d.Lines = append(m.d.Lines, *m.line)
		m.line = nil
	}
}

func (m *in850) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "BEG":
		d.Purpose, d.OrderType, d.OrderNumber = c.code(TablePurpose, 1), c.code(TableOrderType, 2), c.s(3)
		if t := c.when(5, 0, 0, "dates"); t != nil {
			d.Dates = append([]canonical.Date{{Type: "order", Time: *t}}, d.Dates...)
		}
	case "CUR":
		d.Currency = c.s(2)
	case "REF":
		if m.line == nil {
			d.References = append(d.References, c.ref(c.s(1), c.s(2), c.s(3)))
		}
	case "DTM":
		if t := c.when(2, 3, 4, "dates"); t != nil {
			dt := c.date(TableDTM, c.s(1), *t)
			if m.line != nil {
				m.line.Dates = append(m.line.Dates, dt)
			} else {
				d.Dates = append(d.Dates, dt)
			}
		}
	case "PO1":
		m.endLine()
		f := fmt.Sprintf("lines[%d]", len(d.Lines))
		m.line = &canonical.OrderLine{LineNumber: c.s(1), Quantity: c.qty(2, 3, f+".quantity"), UnitPrice: c.dec(4, f+".unit_price")}
		m.line.Item.IDs = c.itemIDs(0, 6, 5)
	case "PID":
		if m.line != nil {
			m.line.Item.Description = c.s(5)
		}
	case "CTT":
		m.endLine()
	case "AMT":
		if c.s(1) == "TT" {
			d.Total = c.dec(2, "total")
		}
	default:
		if m.line == nil {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in850) finish(c *inCtx) canonical.Document {
	m.endLine()
	m.d.Type, m.d.Version = canonical.TypeOrder, canonical.Version
	if m.d.OrderNumber == "" {
		c.fail("order_number", 3, fmt.Errorf("%w: BEG03", ErrMissing))
	}
	return &m.d
}

func (c *outCtx) orderLines(seg string, lines []canonical.OrderLine) {
	for i, l := range lines {
		f := fmt.Sprintf("lines[%d]", i)
		n := l.LineNumber
		if n == "" {
			n = itoa(i + 1)
		}
		_, ids := c.itemEls(l.Item, false, 5, f+".item")
		for len(ids) > 0 && ids[len(ids)-1] == "" {
			ids = ids[:len(ids)-2]
		}
		c.need(f+".quantity.value", string(l.Quantity.Value))
		c.seg(seg, append([]string{n, string(l.Quantity.Value), c.code(TableUnits, l.Quantity.Unit), string(l.UnitPrice), ""}, ids...)...)
		if l.Item.Description != "" {
			c.seg("PID", "F", "", "", "", l.Item.Description)
		}
		c.dtms(l.Dates, f+".dates")
	}
}

func out850(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.Order)
	c.need("order_number", d.OrderNumber)
	od, dates := takeDate(d.Dates, "order")
	c.need("dates[order]", func() string {
		if od == nil {
			return ""
		}
		return "x"
	}())
	ds, _, _ := c.when(od)
	typ := "SA"
	if d.OrderType != "" {
		typ = c.code(TableOrderType, d.OrderType)
	}
	c.seg("BEG", purposeOut(c, d.Purpose), typ, d.OrderNumber, "", ds)
	if d.Currency != "" {
		c.seg("CUR", "BY", d.Currency)
	}
	c.refs("REF", d.References, "references")
	c.dtms(dates, "dates")
	c.parties(d.Parties, "PER", "parties")
	c.orderLines("PO1", d.Lines)
	c.seg("CTT", itoa(len(d.Lines)))
	if d.Total != "" {
		c.seg("AMT", "TT", string(d.Total))
	}
}

// ---- 810 Invoice ⇄ Invoice

type in810 struct {
	d    canonical.Invoice
	line *canonical.OrderLine
}

func (m *in810) endLine() {
	if m.line != nil {
		m.d.Lines = append(m.d.Lines, *m.line)
		m.line = nil
	}
}

func (m *in810) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "BIG":
		d.InvoiceNumber, d.OrderNumber = c.s(2), c.s(4)
		var head []canonical.Date
		if t := c.when(1, 0, 0, "dates"); t != nil {
			head = append(head, canonical.Date{Type: "invoice", Time: *t})
		}
		if t := c.when(3, 0, 0, "dates"); t != nil {
			head = append(head, canonical.Date{Type: "order", Time: *t})
		}
		d.Dates = append(head, d.Dates...)
	case "CUR":
		d.Currency = c.s(2)
	case "REF":
		if m.line == nil {
			d.References = append(d.References, c.ref(c.s(1), c.s(2), c.s(3)))
		}
	case "NTE":
		d.Notes = append(d.Notes, c.s(2))
	case "DTM":
		if t := c.when(2, 3, 4, "dates"); t != nil {
			dt := c.date(TableDTM, c.s(1), *t)
			if m.line != nil {
				m.line.Dates = append(m.line.Dates, dt)
			} else {
				d.Dates = append(d.Dates, dt)
			}
		}
	case "IT1":
		m.endLine()
		f := fmt.Sprintf("lines[%d]", len(d.Lines))
		m.line = &canonical.OrderLine{LineNumber: c.s(1), Quantity: c.qty(2, 3, f+".quantity"), UnitPrice: c.dec(4, f+".unit_price")}
		m.line.Item.IDs = c.itemIDs(0, 6, 5)
	case "PID":
		if m.line != nil {
			m.line.Item.Description = c.s(5)
		}
	case "TDS":
		m.endLine()
		d.Total = c.implied(1, 2, "total")
	case "SAC":
		f := fmt.Sprintf("charges[%d]", len(d.Charges))
		amt := c.implied(5, 2, f+".amount")
		if c.s(1) == "A" && amt != "" && !strings.HasPrefix(string(amt), "-") {
			amt = "-" + amt
		}
		d.Charges = append(d.Charges, canonical.Charge{Code: c.s(2), Amount: amt, Description: c.s(15)})
	case "CTT":
		m.endLine()
	default:
		if m.line == nil {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in810) finish(c *inCtx) canonical.Document {
	m.endLine()
	m.d.Type, m.d.Version = canonical.TypeInvoice, canonical.Version
	if m.d.InvoiceNumber == "" {
		c.fail("invoice_number", 2, fmt.Errorf("%w: BIG02", ErrMissing))
	}
	return &m.d
}

func out810(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.Invoice)
	c.need("invoice_number", d.InvoiceNumber)
	inv, dates := takeDate(d.Dates, "invoice")
	ord, dates := takeDate(dates, "order")
	c.need("dates[invoice]", func() string {
		if inv == nil {
			return ""
		}
		return "x"
	}())
	id, _, _ := c.when(inv)
	od, _, _ := c.when(ord)
	c.seg("BIG", id, d.InvoiceNumber, od, d.OrderNumber)
	for _, n := range d.Notes {
		c.seg("NTE", "", n)
	}
	if d.Currency != "" {
		c.seg("CUR", "SE", d.Currency)
	}
	c.refs("REF", d.References, "references")
	c.parties(d.Parties, "PER", "parties")
	c.dtms(dates, "dates")
	c.orderLines("IT1", d.Lines)
	c.seg("TDS", c.implied(d.Total, 2, "total"))
	for i, ch := range d.Charges {
		ind, amt := "C", ch.Amount
		if strings.HasPrefix(string(amt), "-") {
			ind, amt = "A", amt[1:]
		}
		el := make([]string, 15)
		el[0], el[1], el[4], el[14] = ind, ch.Code, c.implied(amt, 2, fmt.Sprintf("charges[%d].amount", i)), ch.Description
		c.seg("SAC", el...)
	}
	c.seg("CTT", itoa(len(d.Lines)))
}

// ---- 856 Ship Notice/Manifest ⇄ ShipNotice

type in856 struct {
	d   canonical.ShipNotice
	lvl *canonical.ShipLevel
}

func (m *in856) endLevel() {
	if m.lvl != nil {
		m.d.Levels = append(m.d.Levels, *m.lvl)
		m.lvl = nil
	}
}

func (m *in856) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "BSN":
		d.Purpose, d.ShipmentID = c.code(TablePurpose, 1), c.s(2)
		if t := c.when(3, 4, 0, "dates"); t != nil {
			d.Dates = append([]canonical.Date{{Type: "ship", Time: *t}}, d.Dates...)
		}
	case "DTM":
		if t := c.when(2, 3, 4, "dates"); t != nil {
			d.Dates = append(d.Dates, c.date(TableDTM, c.s(1), *t))
		}
	case "HL":
		m.endLevel()
		c.cur = nil
		m.lvl = &canonical.ShipLevel{ID: c.s(1), Parent: c.s(2), Level: c.code(TableLevels, 3)}
	case "LIN":
		if m.lvl != nil {
			if m.lvl.Item == nil {
				m.lvl.Item = &canonical.Item{}
			}
			m.lvl.Item.IDs = c.itemIDs(0, 2, 5)
		}
	case "SN1":
		if m.lvl != nil {
			q := c.qty(2, 3, fmt.Sprintf("levels[%d].quantity", len(d.Levels)))
			m.lvl.Quantity = &q
		}
	case "PID":
		if m.lvl != nil {
			if m.lvl.Item == nil {
				m.lvl.Item = &canonical.Item{}
			}
			m.lvl.Item.Description = c.s(5)
		}
	case "PRF":
		if m.lvl != nil {
			m.lvl.References = append(m.lvl.References, canonical.Reference{Type: canonical.RefPO, Value: c.s(1)})
		}
	case "REF":
		r := c.ref(c.s(1), c.s(2), c.s(3))
		if m.lvl != nil {
			m.lvl.References = append(m.lvl.References, r)
		} else {
			d.References = append(d.References, r)
		}
	case "TD1":
		if m.lvl != nil {
			m.lvl.Measures = c.measures(7, 0, 2, 0, 9, 0, fmt.Sprintf("levels[%d].measures", len(d.Levels)))
			if m.lvl.Measures != nil {
				m.lvl.Measures.WeightUnit = c.code(TableUnits, 8)
				m.lvl.Measures.PieceUnit = c.s(1)
				m.lvl.Measures.VolumeUnit = c.code(TableUnits, 10)
			}
		}
	case "TD5":
		d.Carrier = c.s(3)
	case "CTT":
		m.endLevel()
	default:
		if m.lvl != nil {
			c.party(id, &m.lvl.Parties)
		} else {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in856) finish(c *inCtx) canonical.Document {
	m.endLevel()
	m.d.Type, m.d.Version = canonical.TypeShipNotice, canonical.Version
	if m.d.ShipmentID == "" {
		c.fail("shipment_id", 2, fmt.Errorf("%w: BSN02", ErrMissing))
	}
	return &m.d
}

func out856(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.ShipNotice)
	c.need("shipment_id", d.ShipmentID)
	sd, dates := takeDate(d.Dates, "ship")
	ds, ts := c.whenLocal(sd) // BSN has no time code
	c.seg("BSN", purposeOut(c, d.Purpose), d.ShipmentID, ds, ts)
	c.dtms(dates, "dates")
	c.refs("REF", d.References, "references")
	c.parties(d.Parties, "PER", "parties")
	for i, l := range d.Levels {
		f := fmt.Sprintf("levels[%d]", i)
		c.need(f+".id", l.ID)
		c.seg("HL", l.ID, l.Parent, c.code(TableLevels, l.Level))
		if l.Item != nil && len(l.Item.IDs) > 0 {
			_, ids := c.itemEls(*l.Item, false, 5, f+".item")
			for len(ids) > 0 && ids[len(ids)-1] == "" {
				ids = ids[:len(ids)-2]
			}
			c.seg("LIN", append([]string{""}, ids...)...)
		}
		if q := l.Quantity; q != nil {
			c.seg("SN1", "", string(q.Value), c.code(TableUnits, q.Unit))
		}
		po, refs := takeRef(l.References, canonical.RefPO)
		if po != "" {
			c.seg("PRF", po)
		}
		if l.Item != nil && l.Item.Description != "" {
			c.seg("PID", "F", "", "", "", l.Item.Description)
		}
		if ms := l.Measures; ms != nil {
			wq := ""
			if ms.Weight != "" {
				wq = "G"
			}
			c.seg("TD1", ms.PieceUnit, string(ms.Pieces), "", "", "", wq, string(ms.Weight), c.code(TableUnits, ms.WeightUnit),
				string(ms.Volume), c.code(TableUnits, ms.VolumeUnit))
		}
		if i == 0 && d.Carrier != "" {
			c.seg("TD5", "", "2", d.Carrier)
		}
		c.refs("REF", refs, f+".references")
		c.parties(l.Parties, "PER", f+".parties")
	}
	c.seg("CTT", itoa(len(d.Levels)))
}

// ---- 997 / 999 → Acknowledgment, inbound only

type inAck struct {
	kind string
	d    canonical.Acknowledgment
	set  *canonical.AckSet
}

var ackStatus = map[string]string{"A": "accepted", "E": "accepted_with_errors", "P": "partially_accepted", "R": "rejected",
	"M": "rejected", "W": "rejected", "X": "rejected"}

func (m *inAck) status(c *inCtx, i int) string {
	if s, ok := ackStatus[c.s(i)]; ok {
		return s
	}
	return c.s(i)
}

func (m *inAck) endSet() {
	if m.set != nil {
		m.d.Sets = append(m.d.Sets, *m.set)
		m.set = nil
	}
}

func codes(c *inCtx, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		if v := c.s(i); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (m *inAck) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "AK1":
		d.FunctionalID, d.Control = c.s(1), c.s(2)
	case "AK2":
		m.endSet()
		m.set = &canonical.AckSet{SetID: c.s(1), Control: c.s(2)}
	case "AK3", "IK3":
		if m.set != nil {
			pos, _ := strconv.Atoi(c.s(2))
			m.set.Errors = append(m.set.Errors, canonical.AckError{SegmentID: c.s(1), Position: pos, Code: c.s(4)})
		}
	case "AK4", "IK4":
		if m.set != nil && len(m.set.Errors) > 0 {
			e := &m.set.Errors[len(m.set.Errors)-1]
			code := c.s(3)
			e.Elements = append(e.Elements, string(c.seg.Component(1, 1))+":"+code)
		}
	case "AK5", "IK5":
		if m.set != nil {
			m.set.Status, m.set.Codes = m.status(c, 1), codes(c, 2, 6)
		}
	case "AK9":
		m.endSet()
		d.Status, d.Codes = m.status(c, 1), codes(c, 5, 9)
		d.Included, _ = strconv.Atoi(c.s(2))
		d.Received, _ = strconv.Atoi(c.s(3))
		d.Accepted, _ = strconv.Atoi(c.s(4))
	}
}

func (m *inAck) finish(c *inCtx) canonical.Document {
	m.endSet()
	m.d.Type, m.d.Version, m.d.Kind = canonical.TypeAcknowledgment, canonical.Version, m.kind
	if m.d.FunctionalID == "" {
		c.fail("functional_id", 0, fmt.Errorf("%w: AK1", ErrMissing))
	}
	return &m.d
}

// retailSets are the customer-facing sets, and the acknowledgments Wharf reads.
var retailSets = []setMap{
	{"856", canonical.TypeShipNotice, "SH", func() setIn { return &in856{} }, out856},
	{"850", canonical.TypeOrder, "PO", func() setIn { return &in850{} }, out850},
	{"810", canonical.TypeInvoice, "IN", func() setIn { return &in810{} }, out810},
	{"997", "", "", func() setIn { return &inAck{kind: "997"} }, nil},
	{"999", "", "", func() setIn { return &inAck{kind: "999"} }, nil},
}
