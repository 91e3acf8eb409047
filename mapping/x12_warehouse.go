package mapping

import (
	"fmt"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// itemIDs reads a UPC element (0: none) and product ID qualifier/value
// pairs starting at element first.
func (c *inCtx) itemIDs(upc, first, pairs int) []canonical.Reference {
	var ids []canonical.Reference
	if upc > 0 {
		if v := c.s(upc); v != "" {
			ids = append(ids, canonical.Reference{Type: "upc", Value: v})
		}
	}
	for i := 0; i < pairs; i++ {
		q, v := c.s(first+2*i), c.s(first+2*i+1)
		if v == "" {
			continue
		}
		t, ok := c.p.In(TableItems, q)
		r := canonical.Reference{Type: t, Value: v}
		if !ok {
			r.Type, r.Qualifier = canonical.RefOther, q
		}
		ids = append(ids, r)
	}
	return ids
}

// itemEls returns the UPC element (when withUPC) and qualifier/value pairs.
func (c *outCtx) itemEls(it canonical.Item, withUPC bool, pairs int, field string) (string, []string) {
	upc := ""
	var el []string
	for i, id := range it.IDs {
		if withUPC && upc == "" && id.Type == "upc" && id.Qualifier == "" {
			upc = id.Value
			continue
		}
		q := id.Qualifier
		if q == "" {
			var ok bool
			if q, ok = c.p.Out(TableItems, id.Type); !ok {
				c.fail(fmt.Sprintf("%s.ids[%d].type", field, i), fmt.Errorf("%w: item ID type %q has no qualifier", ErrBadValue, id.Type))
			}
		}
		el = append(el, q, id.Value)
	}
	if len(el) > 2*pairs {
		c.fail(field+".ids", fmt.Errorf("%w: %d item IDs, the segment holds %d", ErrBadValue, len(el)/2, pairs))
	}
	for len(el) < 2*pairs {
		el = append(el, "", "")
	}
	return upc, el[:2*pairs]
}

func (c *inCtx) qty(v, u int, field string) canonical.Quantity {
	return canonical.Quantity{Value: c.dec(v, field+".value"), Unit: c.code(TableUnits, u)}
}

// warehouse is the state shared by the 94x maps.
type warehouse struct {
	refs    []canonical.Reference
	dates   []canonical.Date
	parties []canonical.Party
	notes   []string
	lines   []canonical.WarehouseLine
	line    *canonical.WarehouseLine
	lineNo  string
	totals  *canonical.Measures
	carrier string
	mode    string
}

func (w *warehouse) endLine() {
	if w.line != nil {
		w.lines = append(w.lines, *w.line)
		w.line = nil
	}
}

// common handles segments the 94x sets share; it reports whether it did.
func (w *warehouse) common(c *inCtx, id string) bool {
	switch id {
	case "N9":
		if w.line != nil {
			if c.s(1) == "LT" {
				w.line.Item.Lot = c.s(2)
			}
			return true
		}
		w.refs = append(w.refs, c.ref(c.s(1), c.s(2), c.s(3)))
	case "G62":
		if t := c.when(2, 4, 5, "dates"); t != nil {
			w.dates = append(w.dates, c.date(TableDates, c.s(1), *t))
		}
	case "NTE":
		w.notes = append(w.notes, c.s(2))
	case "LX":
		w.endLine()
		w.lineNo = c.s(1)
	case "G69":
		if w.line != nil {
			w.line.Item.Description = c.s(1)
		}
	case "W27":
		w.mode, w.carrier = c.code(TableMode, 1), c.s(2)
	case "W03", "W76":
		w.endLine()
		w.totals = c.measures(2, 0, 1, 0, 4, 0, "totals")
		if w.totals != nil && c.s(3) != "" {
			w.totals.WeightUnit = c.code(TableUnits, 3)
		}
	case "W14":
		w.endLine()
		w.totals = c.measures(0, 0, 1, 0, 0, 0, "totals")
	default:
		if w.line == nil {
			return c.party(id, &w.parties)
		}
		return false
	}
	return true
}

func (w *warehouse) header(typ string) canonical.Header {
	return canonical.Header{Type: typ, Version: canonical.Version, References: w.refs, Dates: w.dates, Parties: w.parties, Notes: w.notes}
}

func (w *warehouse) newLine(c *inCtx) *canonical.WarehouseLine {
	w.endLine()
	w.line = &canonical.WarehouseLine{LineNumber: w.lineNo}
	w.lineNo = ""
	return w.line
}

// outLines writes the header N1/N9/G62/NTE group of a 94x set.
func (c *outCtx) whHeader(h *canonical.Header, refs []canonical.Reference, dates []canonical.Date, notes bool) {
	c.parties(h.Parties, "G61", "parties")
	c.refs("N9", refs, "references")
	c.g62s(dates, "dates")
	if notes {
		for _, n := range h.Notes {
			c.seg("NTE", "", n)
		}
	}
}

func (c *outCtx) totals(seg string, t *canonical.Measures) {
	if t == nil {
		return
	}
	c.seg(seg, string(t.Pieces), string(t.Weight), c.code(TableUnits, t.WeightUnit), string(t.Volume))
}

func lineNo(l canonical.WarehouseLine, i int) string {
	if l.LineNumber != "" {
		return l.LineNumber
	}
	return itoa(i + 1)
}

// ---- 940 Warehouse Shipping Order ⇄ WarehouseOrder

type in940 struct {
	warehouse
	d canonical.WarehouseOrder
}

func (m *in940) segment(c *inCtx, id string) {
	switch id {
	case "W05":
		m.d.Purpose, m.d.OrderNumber = c.code(TableW05, 1), c.s(2)
		if po := c.s(3); po != "" {
			m.refs = append([]canonical.Reference{{Type: canonical.RefPO, Value: po}}, m.refs...)
		}
	case "W66":
		m.d.PaymentMethod, m.d.Mode, m.d.Carrier = c.code(TablePayment, 1), c.code(TableMode, 2), c.s(10)
	case "W01":
		l := m.newLine(c)
		f := fmt.Sprintf("lines[%d]", len(m.lines))
		l.Quantity = c.qty(1, 2, f+".quantity")
		l.Item.IDs = c.itemIDs(3, 4, 2)
	default:
		m.common(c, id)
	}
}

func (m *in940) finish(c *inCtx) canonical.Document {
	m.endLine()
	p := m.d.Purpose
	m.d.Header = m.header(canonical.TypeWarehouseOrder)
	m.d.Purpose, m.d.Lines, m.d.Totals = p, m.lines, m.totals
	if m.d.OrderNumber == "" {
		c.fail("order_number", 2, fmt.Errorf("%w: W0502", ErrMissing))
	}
	return &m.d
}

func out940(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.WarehouseOrder)
	c.need("order_number", d.OrderNumber)
	po, refs := takeRef(d.References, canonical.RefPO)
	purpose := "N"
	if d.Purpose != "" {
		purpose = c.code(TableW05, d.Purpose)
	}
	c.seg("W05", purpose, d.OrderNumber, po)
	c.whHeader(&d.Header, refs, d.Dates, true)
	if d.PaymentMethod != "" || d.Mode != "" || d.Carrier != "" {
		c.seg("W66", c.code(TablePayment, d.PaymentMethod), c.code(TableMode, d.Mode), "", "", "", "", "", "", "", d.Carrier)
	}
	for i, l := range d.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		c.seg("LX", lineNo(l, i))
		upc, ids := c.itemEls(l.Item, true, 2, f+".item")
		c.need(f+".quantity.value", string(l.Quantity.Value))
		c.seg("W01", append([]string{string(l.Quantity.Value), c.code(TableUnits, l.Quantity.Unit), upc}, ids...)...)
		if l.Item.Description != "" {
			c.seg("G69", l.Item.Description)
		}
		if l.Item.Lot != "" {
			c.seg("N9", "LT", l.Item.Lot)
		}
	}
	c.totals("W76", d.Totals)
}

// ---- 945 Warehouse Shipping Advice ⇄ ShipConfirmation, 943 Stock Transfer Shipment Advice ⇄ InventoryMovement (transfer)

type inW06 struct {
	warehouse
	kind       string
	number     string
	shipmentID string
}

func (m *inW06) segment(c *inCtx, id string) {
	switch id {
	case "W06":
		m.number = c.s(2)
		var head []canonical.Reference
		if t := c.when(3, 0, 0, "dates"); t != nil {
			m.dates = append([]canonical.Date{{Type: "ship", Time: *t}}, m.dates...)
		}
		if m.kind == "945" {
			m.shipmentID = c.s(4)
		} else if v := c.s(4); v != "" {
			head = append(head, canonical.Reference{Type: canonical.RefShipmentID, Value: v})
		}
		if v := c.s(5); v != "" {
			head = append(head, canonical.Reference{Type: canonical.RefWarehouse, Value: v})
		}
		if v := c.s(6); v != "" {
			head = append(head, canonical.Reference{Type: canonical.RefPO, Value: v})
		}
		m.refs = append(head, m.refs...)
	case "W12":
		l := m.newLine(c)
		f := fmt.Sprintf("lines[%d]", len(m.lines))
		l.Status = c.s(1)
		l.Quantity = c.qty(3, 5, f+".quantity")
		if c.s(2) != "" {
			o := c.qty(2, 5, f+".ordered")
			l.Ordered = &o
		}
		l.Item.IDs = c.itemIDs(6, 7, 1)
	case "W04":
		l := m.newLine(c)
		l.Quantity = c.qty(1, 2, fmt.Sprintf("lines[%d].quantity", len(m.lines)))
		l.Item.IDs = c.itemIDs(3, 4, 2)
	default:
		m.common(c, id)
	}
}

func (m *inW06) finish(c *inCtx) canonical.Document {
	m.endLine()
	if m.number == "" {
		c.fail("order_number", 2, fmt.Errorf("%w: W0602", ErrMissing))
	}
	if m.kind == "945" {
		return &canonical.ShipConfirmation{Header: m.header(canonical.TypeShipConfirmation), OrderNumber: m.number,
			ShipmentID: m.shipmentID, Carrier: m.carrier, Mode: m.mode, Lines: m.lines, Totals: m.totals}
	}
	return &canonical.InventoryMovement{Header: m.header(canonical.TypeInventoryMovement), Movement: "transfer",
		Number: m.number, Carrier: m.carrier, Mode: m.mode, Lines: m.lines, Totals: m.totals}
}

func outW06(c *outCtx, h *canonical.Header, number, shipmentID string, transfer bool) ([]canonical.Reference, []canonical.Date) {
	c.need("number", number)
	ship, dates := takeDate(h.Dates, "ship")
	refs := h.References
	if transfer {
		shipmentID, refs = takeRef(refs, canonical.RefShipmentID)
	}
	wh, refs := takeRef(refs, canonical.RefWarehouse)
	po, refs := takeRef(refs, canonical.RefPO)
	ds, _, _ := c.when(ship)
	code := "N"
	if transfer {
		code = "F"
	}
	c.seg("W06", code, number, ds, shipmentID, wh, po)
	return refs, dates
}

func out945(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.ShipConfirmation)
	refs, dates := outW06(c, &d.Header, d.OrderNumber, d.ShipmentID, false)
	c.whHeader(&d.Header, refs, dates, false)
	if d.Carrier != "" || d.Mode != "" {
		c.seg("W27", c.code(TableMode, d.Mode), d.Carrier)
	}
	for i, l := range d.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		c.seg("LX", lineNo(l, i))
		upc, ids := c.itemEls(l.Item, true, 1, f+".item")
		ordered := ""
		if l.Ordered != nil {
			ordered = string(l.Ordered.Value)
		}
		c.seg("W12", append([]string{l.Status, ordered, string(l.Quantity.Value), "", c.code(TableUnits, l.Quantity.Unit), upc}, ids...)...)
		if l.Item.Description != "" {
			c.seg("G69", l.Item.Description)
		}
	}
	c.totals("W03", d.Totals)
}

func out943(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.InventoryMovement)
	if d.Movement != "transfer" {
		c.fail("movement", fmt.Errorf("%w: X12 943 carries transfers, got %q (receipts are 944)", ErrBadValue, d.Movement))
	}
	refs, dates := outW06(c, &d.Header, d.Number, "", true)
	c.whHeader(&d.Header, refs, dates, true)
	c.seg("W27", c.code(TableMode, d.Mode), d.Carrier)
	for i, l := range d.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		c.seg("LX", lineNo(l, i))
		upc, ids := c.itemEls(l.Item, true, 2, f+".item")
		c.seg("W04", append([]string{string(l.Quantity.Value), c.code(TableUnits, l.Quantity.Unit), upc}, ids...)...)
		if l.Item.Description != "" {
			c.seg("G69", l.Item.Description)
		}
		if l.Item.Lot != "" {
			c.seg("N9", "LT", l.Item.Lot)
		}
	}
	c.totals("W03", d.Totals)
}

// ---- 944 Warehouse Stock Transfer Receipt Advice ⇄ InventoryMovement (receipt)

type in944 struct {
	warehouse
	number string
}

func (m *in944) segment(c *inCtx, id string) {
	switch id {
	case "W17":
		m.number = c.s(3)
		var head []canonical.Reference
		if t := c.when(2, 0, 0, "dates"); t != nil {
			m.dates = append([]canonical.Date{{Type: "receipt", Time: *t}}, m.dates...)
		}
		if v := c.s(4); v != "" {
			head = append(head, canonical.Reference{Type: canonical.RefOrderNumber, Value: v})
		}
		if v := c.s(5); v != "" {
			head = append(head, canonical.Reference{Type: canonical.RefShipmentID, Value: v})
		}
		m.refs = append(head, m.refs...)
	case "W07":
		l := m.newLine(c)
		l.Quantity = c.qty(1, 2, fmt.Sprintf("lines[%d].quantity", len(m.lines)))
		l.Item.IDs = c.itemIDs(3, 4, 2)
		l.Item.Lot = c.s(8)
	default:
		m.common(c, id)
	}
}

func (m *in944) finish(c *inCtx) canonical.Document {
	m.endLine()
	if m.number == "" {
		c.fail("number", 3, fmt.Errorf("%w: W1703", ErrMissing))
	}
	return &canonical.InventoryMovement{Header: m.header(canonical.TypeInventoryMovement), Movement: "receipt",
		Number: m.number, Lines: m.lines, Totals: m.totals}
}

func out944(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.InventoryMovement)
	if d.Movement != "receipt" {
		c.fail("movement", fmt.Errorf("%w: X12 944 carries receipts, got %q", ErrBadValue, d.Movement))
	}
	c.need("number", d.Number)
	rec, dates := takeDate(d.Dates, "receipt")
	order, refs := takeRef(d.References, canonical.RefOrderNumber)
	ship, refs := takeRef(refs, canonical.RefShipmentID)
	ds, _, _ := c.when(rec)
	c.seg("W17", "F", ds, d.Number, order, ship)
	c.whHeader(&d.Header, refs, dates, false)
	for i, l := range d.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		c.seg("LX", lineNo(l, i))
		upc, ids := c.itemEls(l.Item, true, 2, f+".item")
		c.seg("W07", append(append([]string{string(l.Quantity.Value), c.code(TableUnits, l.Quantity.Unit), upc}, ids...), l.Item.Lot)...)
		if l.Item.Description != "" {
			c.seg("G69", l.Item.Description)
		}
	}
	if d.Totals != nil {
		c.seg("W14", string(d.Totals.Pieces))
	}
}

// ---- 947 Warehouse Inventory Adjustment Advice → InventoryMovement (adjustment), inbound only

type in947 struct {
	warehouse
	number string
}

func (m *in947) segment(c *inCtx, id string) {
	switch id {
	case "W15":
		m.number = c.s(2)
		if t := c.when(1, 0, 0, "dates"); t != nil {
			m.dates = append([]canonical.Date{{Type: "adjustment", Time: *t}}, m.dates...)
		}
	case "W19":
		l := m.newLine(c)
		l.Reason = c.s(1)
		l.Quantity = c.qty(2, 3, fmt.Sprintf("lines[%d].quantity", len(m.lines)))
		l.Item.IDs = c.itemIDs(4, 5, 2)
	default:
		m.common(c, id)
	}
}

func (m *in947) finish(c *inCtx) canonical.Document {
	m.endLine()
	if m.number == "" {
		c.fail("number", 2, fmt.Errorf("%w: W1502", ErrMissing))
	}
	return &canonical.InventoryMovement{Header: m.header(canonical.TypeInventoryMovement), Movement: "adjustment",
		Number: m.number, Lines: m.lines}
}

// ---- 846 Inventory Inquiry/Advice ⇄ InventoryBalance

type in846 struct {
	d    canonical.InventoryBalance
	item *canonical.BalanceItem
}

func (m *in846) endItem() {
	if m.item != nil {
		m.d.Items = append(m.d.Items, *m.item)
		m.item = nil
	}
}

func (m *in846) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "BIA":
		d.Purpose, d.ReportID = c.code(TablePurpose, 1), c.s(3)
		if t := c.when(4, 5, 0, "dates"); t != nil {
			d.Dates = append([]canonical.Date{{Type: "report", Time: *t}}, d.Dates...)
		}
	case "REF":
		if m.item == nil {
			d.References = append(d.References, c.ref(c.s(1), c.s(2), c.s(3)))
		}
	case "DTM":
		if m.item == nil {
			if t := c.when(2, 3, 4, "dates"); t != nil {
				d.Dates = append(d.Dates, c.date(TableDTM, c.s(1), *t))
			}
		}
	case "LIN":
		m.endItem()
		m.item = &canonical.BalanceItem{Item: canonical.Item{IDs: c.itemIDs(0, 2, 5)}}
	case "PID":
		if m.item != nil {
			m.item.Item.Description = c.s(5)
		}
	case "QTY":
		if m.item != nil {
			f := fmt.Sprintf("items[%d].quantities[%d]", len(d.Items), len(m.item.Quantities))
			t, ok := c.p.In(TableQuantities, c.s(1))
			if !ok {
				t = c.s(1)
			}
			u := string(c.seg.Component(3, 1))
			if u != "" {
				u, _ = c.p.In(TableUnits, u)
			}
			m.item.Quantities = append(m.item.Quantities, canonical.TypedQuantity{Type: t, Value: c.dec(2, f+".value"), Unit: u})
		}
	case "CTT":
		m.endItem()
	default:
		if m.item == nil {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in846) finish(c *inCtx) canonical.Document {
	m.endItem()
	m.d.Type, m.d.Version = canonical.TypeInventoryBalance, canonical.Version
	if m.d.ReportID == "" {
		c.fail("report_id", 3, fmt.Errorf("%w: BIA03", ErrMissing))
	}
	return &m.d
}

func out846(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.InventoryBalance)
	c.need("report_id", d.ReportID)
	rep, dates := takeDate(d.Dates, "report")
	ds, ts := c.whenLocal(rep) // BIA has no time code
	c.seg("BIA", purposeOut(c, d.Purpose), "DD", d.ReportID, ds, ts)
	c.refs("REF", d.References, "references")
	c.dtms(dates, "dates")
	c.parties(d.Parties, "PER", "parties")
	for i, it := range d.Items {
		f := fmt.Sprintf("items[%d]", i)
		_, ids := c.itemEls(it.Item, false, 5, f+".item")
		for len(ids) > 2 && ids[len(ids)-1] == "" {
			ids = ids[:len(ids)-2]
		}
		c.seg("LIN", append([]string{""}, ids...)...)
		if it.Item.Description != "" {
			c.seg("PID", "F", "", "", "", it.Item.Description)
		}
		for _, q := range it.Quantities {
			c.seg("QTY", c.code(TableQuantities, q.Type), string(q.Value), c.code(TableUnits, q.Unit))
		}
	}
	c.seg("CTT", itoa(len(d.Items)))
}

// warehouseSets are the 3PL-facing sets: warehouse orders, confirmations,
// receipts, inventory.
var warehouseSets = []setMap{
	{"940", canonical.TypeWarehouseOrder, "OW", func() setIn { return &in940{} }, out940},
	{"945", canonical.TypeShipConfirmation, "SW", func() setIn { return &inW06{kind: "945"} }, out945},
	{"943", canonical.TypeInventoryMovement, "AR", func() setIn { return &inW06{kind: "943"} }, out943},
	{"944", canonical.TypeInventoryMovement, "RE", func() setIn { return &in944{} }, out944},
	{"947", "", "", func() setIn { return &in947{} }, nil},
	{"846", canonical.TypeInventoryBalance, "IB", func() setIn { return &in846{} }, out846},
}
