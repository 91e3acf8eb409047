package mapping

import (
	"fmt"
	"strconv"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// measures builds Measures from element positions (0 = not in the segment).
func (c *inCtx) measures(w, wu, p, pu, v, vu int, field string) *canonical.Measures {
	m := &canonical.Measures{}
	get := func(i int) string {
		if i == 0 {
			return ""
		}
		return c.s(i)
	}
	if get(w) != "" {
		m.Weight = c.decSub(w, field, ".weight")
	}
	if wu > 0 {
		m.WeightUnit = c.code(TableWeight, wu)
	}
	if get(p) != "" {
		m.Pieces = c.decSub(p, field, ".pieces")
	}
	if pu > 0 {
		m.PieceUnit = c.code(TableUnits, pu)
	}
	if get(v) != "" {
		m.Volume = c.decSub(v, field, ".volume")
	}
	if vu > 0 {
		m.VolumeUnit = c.code(TableVolume, vu)
	}
	if *m == (canonical.Measures{}) {
		return nil
	}
	return m
}

func mval(m *canonical.Measures) canonical.Measures {
	if m == nil {
		return canonical.Measures{}
	}
	return *m
}

func itoa(i int) string { return strconv.Itoa(i) }

// ---- 204 Motor Carrier Load Tender ⇄ Shipment

type in204 struct {
	d           canonical.Shipment
	stop        *canonical.Stop
	stopParties []canonical.Party
	lad         *canonical.Lading
}

func (m *in204) endStop() {
	if m.stop == nil {
		return
	}
	if m.lad != nil {
		m.stop.Lading = append(m.stop.Lading, *m.lad)
		m.lad = nil
	}
	if len(m.stopParties) > 0 {
		p := m.stopParties[0]
		m.stop.Location = &p
	}
	m.d.Stops = append(m.d.Stops, *m.stop)
	m.stop, m.stopParties = nil, nil
}

func (m *in204) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "B2":
		d.Carrier, d.ShipmentID, d.PaymentMethod = c.s(2), c.s(4), c.code(TablePayment, 6)
	case "B2A":
		d.Purpose = c.code(TablePurpose, 1)
	case "L11":
		r := c.ref(c.s(2), c.s(1), c.s(3))
		if m.stop != nil {
			m.stop.References = append(m.stop.References, r)
		} else {
			d.References = append(d.References, r)
		}
	case "G62":
		f := "dates"
		if m.stop != nil {
			f = c.name("stops[%d].dates", len(d.Stops), 0)
		}
		t := c.when(2, 4, 5, f)
		if t == nil {
			return
		}
		dt := c.date(TableDates, c.s(1), *t)
		if m.stop != nil {
			m.stop.Dates = append(m.stop.Dates, dt)
		} else {
			d.Dates = append(d.Dates, dt)
		}
	case "MS3":
		d.Mode = c.code(TableMode, 4)
	case "NTE":
		if m.stop != nil {
			m.stop.Notes = append(m.stop.Notes, c.s(2))
		} else {
			d.Notes = append(d.Notes, c.s(2))
		}
	case "N7":
		d.Equipment = append(d.Equipment, canonical.Equipment{Prefix: c.s(1), Number: c.s(2),
			Type: c.code(TableEquipment, 11), Length: c.dec(15, "equipment.length")})
	case "S5":
		m.endStop()
		seq, err := strconv.Atoi(c.s(1))
		if err != nil {
			c.fail(fmt.Sprintf("stops[%d].sequence", len(d.Stops)), 1, fmt.Errorf("%w: stop sequence %q", ErrBadValue, c.s(1)))
		}
		m.stop = &canonical.Stop{Sequence: seq, Reason: c.code(TableStops, 2), Measures: c.measures(3, 4, 5, 6, 7, 8, c.name("stops[%d].measures", len(d.Stops), 0))}
		c.cur = nil
	case "L5":
		if m.stop == nil {
			return
		}
		if m.lad != nil {
			m.stop.Lading = append(m.stop.Lading, *m.lad)
		}
		m.lad = &canonical.Lading{Description: c.s(2)}
	case "AT8":
		if m.lad != nil {
			m.lad.Measures = c.measures(3, 2, 4, 0, 0, 0, "stops.lading.measures")
		}
	case "LH1", "LH2", "LH3":
		if m.lad == nil {
			return
		}
		if m.lad.Hazmat == nil {
			m.lad.Hazmat = &canonical.Hazmat{}
		}
		switch id {
		case "LH1":
			m.lad.Hazmat.UNNumber, m.lad.Hazmat.PackingGroup = c.s(3), c.s(10)
		case "LH2":
			m.lad.Hazmat.Class = c.s(1)
		case "LH3":
			m.lad.Hazmat.Description = c.s(1)
		}
	case "L3":
		m.endStop()
		d.Totals = c.measures(1, 12, 11, 0, 9, 10, "totals")
		d.Charge = c.implied(5, 2, "charge")
	default:
		if m.stop != nil {
			c.party(id, &m.stopParties)
		} else {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in204) finish(c *inCtx) canonical.Document {
	m.endStop()
	m.d.Type, m.d.Version = canonical.TypeShipment, canonical.Version
	if m.d.ShipmentID == "" {
		c.fail("shipment_id", 4, fmt.Errorf("%w: B204", ErrMissing))
	}
	return &m.d
}

func purposeOut(c *outCtx, p string) string {
	if p == "" {
		return "00"
	}
	return c.code(TablePurpose, p)
}

func out204(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.Shipment)
	c.need("shipment_id", d.ShipmentID)
	c.seg("B2", "", d.Carrier, "", d.ShipmentID, "", c.code(TablePayment, d.PaymentMethod))
	c.seg("B2A", purposeOut(c, d.Purpose))
	c.refs("L11", d.References, "references")
	c.g62s(d.Dates, "dates")
	if d.Mode != "" {
		c.seg("MS3", d.Carrier, "B", "", c.code(TableMode, d.Mode))
	}
	for _, n := range d.Notes {
		c.seg("NTE", "", n)
	}
	c.parties(d.Parties, "G61", "parties")
	for _, e := range d.Equipment {
		el := make([]string, 15)
		el[0], el[1], el[10], el[14] = e.Prefix, e.Number, c.code(TableEquipment, e.Type), string(e.Length)
		c.seg("N7", el...)
	}
	for i, s := range d.Stops {
		f := fmt.Sprintf("stops[%d]", i)
		m := mval(s.Measures)
		c.seg("S5", itoa(s.Sequence), c.code(TableStops, s.Reason), string(m.Weight), c.code(TableWeight, m.WeightUnit),
			string(m.Pieces), c.code(TableUnits, m.PieceUnit), string(m.Volume), c.code(TableVolume, m.VolumeUnit))
		c.refs("L11", s.References, f+".references")
		c.g62s(s.Dates, f+".dates")
		for _, n := range s.Notes {
			c.seg("NTE", "", n)
		}
		if s.Location != nil {
			c.party(*s.Location, "G61", f+".location")
		}
		for j, l := range s.Lading {
			c.seg("L5", itoa(j+1), l.Description)
			if l.Measures != nil {
				c.seg("AT8", "G", c.code(TableWeight, l.Measures.WeightUnit), string(l.Measures.Weight), string(l.Measures.Pieces))
			}
			if h := l.Hazmat; h != nil {
				el := make([]string, 10)
				el[2], el[9] = h.UNNumber, h.PackingGroup
				c.seg("LH1", el...)
				if h.Class != "" {
					c.seg("LH2", h.Class)
				}
				if h.Description != "" {
					c.seg("LH3", h.Description, "D")
				}
			}
		}
	}
	if d.Totals != nil || d.Charge != "" {
		t := mval(d.Totals)
		wq := ""
		if t.Weight != "" {
			wq = "G"
		}
		c.seg("L3", string(t.Weight), wq, "", "", c.implied(d.Charge, 2, "charge"), "", "", "", string(t.Volume),
			c.code(TableVolume, t.VolumeUnit), string(t.Pieces), c.code(TableWeight, t.WeightUnit))
	}
}

// ---- 990 Response to a Load Tender ⇄ TenderResponse

type in990 struct{ d canonical.TenderResponse }

func (m *in990) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "B1":
		d.Carrier, d.ShipmentID, d.Date, d.Action = c.s(1), c.s(2), c.when(3, 0, 0, "date"), c.code(TableAction, 4)
	case "N9":
		d.References = append(d.References, c.ref(c.s(1), c.s(2), c.s(3)))
	case "V9":
		d.Reason = c.s(8)
	case "K1":
		d.Notes = append(d.Notes, c.s(1))
	}
}

func (m *in990) finish(c *inCtx) canonical.Document {
	m.d.Type, m.d.Version = canonical.TypeTenderResponse, canonical.Version
	if m.d.Action == "" {
		c.fail("action", 4, fmt.Errorf("%w: B104", ErrMissing))
	}
	return &m.d
}

func out990(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.TenderResponse)
	c.need("shipment_id", d.ShipmentID)
	c.need("action", d.Action)
	ds, _, _ := c.when(d.Date)
	c.seg("B1", d.Carrier, d.ShipmentID, ds, c.code(TableAction, d.Action))
	c.refs("N9", d.References, "references")
	if d.Reason != "" {
		c.seg("V9", "REJ", "", "", "", "", "", "", d.Reason)
	}
	for _, n := range d.Notes {
		c.seg("K1", n)
	}
}

// ---- 214 Shipment Status ⇄ ShipmentStatus

type in214 struct {
	d  canonical.ShipmentStatus
	ev *canonical.StatusEvent
	lx bool
}

func (m *in214) endEvent() {
	if m.ev != nil {
		m.d.Events = append(m.d.Events, *m.ev)
		m.ev = nil
	}
}

func (m *in214) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "B10":
		d.ShipmentID, d.Carrier = c.s(2), c.s(3)
		if pro := c.s(1); pro != "" {
			d.References = append([]canonical.Reference{{Type: canonical.RefPRO, Value: pro}}, d.References...)
		}
	case "L11":
		d.References = append(d.References, c.ref(c.s(2), c.s(1), c.s(3)))
	case "LX":
		m.endEvent()
		m.lx = true
	case "AT7":
		m.endEvent()
		m.ev = &canonical.StatusEvent{Status: c.code(TableStatus, 1), Reason: c.code(TableReasons, 2), Appointment: c.s(3),
			Time: c.when(5, 6, 7, c.name("events[%d].time", len(d.Events), 0))}
		if m.ev.Status == "" && m.ev.Appointment == "" {
			c.fail(fmt.Sprintf("events[%d].status", len(d.Events)), 1, fmt.Errorf("%w: AT701 or AT703", ErrMissing))
		}
	case "MS1":
		if m.ev != nil {
			m.ev.Location = &canonical.Address{City: c.s(1), State: c.s(2), Country: c.s(3)}
		}
	case "MS2":
		if m.ev != nil {
			m.ev.Equipment = c.s(2)
		}
	case "AT8":
		if m.ev != nil {
			m.ev.Measures = c.measures(3, 2, 4, 0, 0, 0, c.name("events[%d].measures", len(d.Events), 0))
		}
	case "K1":
		if m.ev != nil && c.s(1) == "POD" {
			m.ev.ProofOfDelivery = c.s(2)
		} else {
			d.Notes = append(d.Notes, c.s(1))
		}
	case "NTE":
		d.Notes = append(d.Notes, c.s(2))
	default:
		c.party(id, &d.Parties)
	}
}

func (m *in214) finish(c *inCtx) canonical.Document {
	m.endEvent()
	m.d.Type, m.d.Version = canonical.TypeShipmentStatus, canonical.Version
	return &m.d
}

// takeRef removes and returns the value of the first reference of type t.
func takeRef(refs []canonical.Reference, t string) (string, []canonical.Reference) {
	for i, r := range refs {
		if r.Type == t && r.Qualifier == "" {
			rest := append(append([]canonical.Reference(nil), refs[:i]...), refs[i+1:]...)
			return r.Value, rest
		}
	}
	return "", refs
}

// takeDate removes and returns the first date of type t.
func takeDate(dates []canonical.Date, t string) (*canonical.Time, []canonical.Date) {
	for i, d := range dates {
		if d.Type == t && d.Qualifier == "" {
			tm := d.Time
			rest := append(append([]canonical.Date(nil), dates[:i]...), dates[i+1:]...)
			return &tm, rest
		}
	}
	return nil, dates
}

func out214(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.ShipmentStatus)
	pro, refs := takeRef(d.References, canonical.RefPRO)
	if pro == "" && d.ShipmentID == "" {
		c.fail("shipment_id", fmt.Errorf("%w: B10 needs a PRO reference or the shipment id", ErrMissing))
	}
	c.seg("B10", pro, d.ShipmentID, d.Carrier)
	c.refs("L11", refs, "references")
	for _, n := range d.Notes {
		c.seg("K1", n)
	}
	c.parties(d.Parties, "G61", "parties")
	for i, e := range d.Events {
		f := fmt.Sprintf("events[%d]", i)
		c.seg("LX", itoa(i+1))
		ds, ts, zs := c.when(e.Time)
		if e.Status == "" && e.Appointment == "" {
			c.fail(f+".status", ErrMissing)
		}
		c.seg("AT7", c.codeAt(TableStatus, e.Status, f+".status"), c.codeAt(TableReasons, e.Reason, f+".reason"), e.Appointment, "", ds, ts, zs)
		if l := e.Location; l != nil {
			c.seg("MS1", l.City, l.State, l.Country)
		}
		if e.Equipment != "" {
			c.seg("MS2", d.Carrier, e.Equipment)
		}
		if ms := e.Measures; ms != nil {
			c.seg("AT8", "G", c.code(TableWeight, ms.WeightUnit), string(ms.Weight), string(ms.Pieces))
		}
		if e.ProofOfDelivery != "" {
			c.seg("K1", "POD", e.ProofOfDelivery)
		}
	}
}

// ---- 210 Motor Carrier Freight Details and Invoice ⇄ FreightInvoice

type in210 struct {
	d    canonical.FreightInvoice
	line *canonical.FreightLine
}

func (m *in210) endLine() {
	if m.line != nil {
		m.d.Lines = append(m.d.Lines, *m.line)
		m.line = nil
	}
}

func (m *in210) ensureLine(c *inCtx) {
	if m.line == nil {
		m.line = &canonical.FreightLine{LineNumber: c.s(1)}
	}
}

func (m *in210) segment(c *inCtx, id string) {
	d := &m.d
	switch id {
	case "B3":
		d.InvoiceNumber, d.ShipmentID, d.PaymentMethod, d.Carrier = c.s(2), c.s(3), c.code(TablePayment, 4), c.s(11)
		if t := c.when(6, 0, 0, "dates"); t != nil {
			d.Dates = append(d.Dates, canonical.Date{Type: "invoice", Time: *t})
		}
		d.Total = c.implied(7, 2, "total")
		if t := c.when(9, 0, 0, "dates"); t != nil {
			d.Dates = append(d.Dates, c.date(TableDTM, c.s(10), *t))
		}
	case "C3":
		d.Currency = c.s(1)
	case "N9":
		d.References = append(d.References, c.ref(c.s(1), c.s(2), c.s(3)))
	case "G62":
		if t := c.when(2, 4, 5, "dates"); t != nil {
			d.Dates = append(d.Dates, c.date(TableDates, c.s(1), *t))
		}
	case "LX":
		m.endLine()
		m.ensureLine(c)
	case "L5":
		m.ensureLine(c)
		m.line.Description = c.s(2)
	case "L0":
		m.ensureLine(c)
		m.line.Measures = c.measures(4, 11, 8, 9, 6, 7, c.name("lines[%d].measures", len(d.Lines), 0))
	case "L1":
		m.ensureLine(c)
		i, j := len(d.Lines), len(m.line.Charges)
		m.line.Charges = append(m.line.Charges, canonical.Charge{Rate: c.dec(2, c.name("lines[%d].charges[%d].rate", i, j)), RateBasis: c.s(3),
			Amount: c.implied(4, 2, c.name("lines[%d].charges[%d].amount", i, j)), Code: c.s(8), Description: c.s(12)})
	case "L3":
		m.endLine()
		d.Totals = c.measures(1, 12, 11, 0, 9, 10, "totals")
	default:
		if m.line == nil {
			c.party(id, &d.Parties)
		}
	}
}

func (m *in210) finish(c *inCtx) canonical.Document {
	m.endLine()
	m.d.Type, m.d.Version = canonical.TypeFreightInvoice, canonical.Version
	if m.d.InvoiceNumber == "" {
		c.fail("invoice_number", 2, fmt.Errorf("%w: B302", ErrMissing))
	}
	return &m.d
}

func out210(c *outCtx, doc canonical.Document) {
	d := doc.(*canonical.FreightInvoice)
	c.need("invoice_number", d.InvoiceNumber)
	inv, dates := takeDate(d.Dates, "invoice")
	c.need("dates[invoice]", func() string {
		if inv == nil {
			return ""
		}
		return "x"
	}())
	var del *canonical.Time
	delQual := ""
	for i, dt := range dates {
		if q, ok := c.p.Out(TableDTM, dt.Type); ok && dt.Qualifier == "" {
			tm := dt.Time
			del, delQual = &tm, q
			dates = append(append([]canonical.Date(nil), dates[:i]...), dates[i+1:]...)
			break
		}
	}
	invD, _, _ := c.when(inv)
	delD, _, _ := c.when(del)
	c.seg("B3", "", d.InvoiceNumber, d.ShipmentID, c.code(TablePayment, d.PaymentMethod), "", invD,
		c.implied(d.Total, 2, "total"), "", delD, delQual, d.Carrier)
	if d.Currency != "" {
		c.seg("C3", d.Currency)
	}
	c.refs("N9", d.References, "references")
	c.g62s(dates, "dates")
	c.parties(d.Parties, "", "parties")
	for i, l := range d.Lines {
		f := fmt.Sprintf("lines[%d]", i)
		n := l.LineNumber
		if n == "" {
			n = itoa(i + 1)
		}
		c.seg("LX", n)
		if l.Description != "" {
			c.seg("L5", n, l.Description)
		}
		if ms := l.Measures; ms != nil {
			wq := ""
			if ms.Weight != "" {
				wq = "G"
			}
			c.seg("L0", n, "", "", string(ms.Weight), wq, string(ms.Volume), c.code(TableVolume, ms.VolumeUnit),
				string(ms.Pieces), c.code(TableUnits, ms.PieceUnit), "", c.code(TableWeight, ms.WeightUnit))
		}
		for j, ch := range l.Charges {
			c.seg("L1", n, string(ch.Rate), ch.RateBasis, c.implied(ch.Amount, 2, fmt.Sprintf("%s.charges[%d].amount", f, j)),
				"", "", "", ch.Code, "", "", "", ch.Description)
		}
	}
	t := mval(d.Totals)
	wq := ""
	if t.Weight != "" {
		wq = "G"
	}
	c.seg("L3", string(t.Weight), wq, "", "", c.implied(d.Total, 2, "total"), "", "", "", string(t.Volume),
		c.code(TableVolume, t.VolumeUnit), string(t.Pieces), c.code(TableWeight, t.WeightUnit))
}

// transportSets are the carrier-facing sets: load tender, response, status, freight invoice.
var transportSets = []setMap{
	{"204", canonical.TypeShipment, "SM", func() setIn { return &in204{} }, out204},
	{"990", canonical.TypeTenderResponse, "GF", func() setIn { return &in990{} }, out990},
	{"214", canonical.TypeShipmentStatus, "QM", func() setIn { return &in214{} }, out214},
	{"210", canonical.TypeFreightInvoice, "IM", func() setIn { return &in210{} }, out210},
}
