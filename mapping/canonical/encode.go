package canonical

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON of d to dst, byte for byte what
// encoding/json writes with SetEscapeHTML(false) (a test holds them
// equal), without reflection for the high-volume types (Shipment,
// ShipmentStatus, FreightInvoice, WarehouseOrder, ShipConfirmation) so
// that mapping large files is not bound by encoding.
// Other types go through encoding/json.
func AppendJSON(dst []byte, d Document) ([]byte, error) {
	e := enc{b: dst}
	switch v := d.(type) {
	case *Shipment:
		e.shipment(v)
	case *ShipmentStatus:
		e.status(v)
	case *FreightInvoice:
		e.freight(v)
	case *WarehouseOrder:
		e.open()
		e.header(&v.Header)
		e.str("order_number", v.OrderNumber, false)
		e.str("carrier", v.Carrier, true)
		e.str("mode", v.Mode, true)
		e.str("payment_method", v.PaymentMethod, true)
		e.whLines(v.Lines)
		e.measures("totals", v.Totals)
		e.close()
	case *ShipConfirmation:
		e.open()
		e.header(&v.Header)
		e.str("order_number", v.OrderNumber, false)
		e.str("shipment_id", v.ShipmentID, true)
		e.str("carrier", v.Carrier, true)
		e.str("mode", v.Mode, true)
		e.whLines(v.Lines)
		e.measures("totals", v.Totals)
		e.close()
	default:
		var b bytes.Buffer
		je := json.NewEncoder(&b)
		je.SetEscapeHTML(false)
		if err := je.Encode(d); err != nil {
			return dst, err
		}
		return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...), nil
	}
	return e.b, nil
}

type enc struct {
	b     []byte
	comma bool
}

func (e *enc) open() { e.b = append(e.b, '{'); e.comma = false }
func (e *enc) close() {
	e.b = append(e.b, '}')
	e.comma = true
}

func (e *enc) key(k string) {
	if e.comma {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
	e.comma = false
}

// str writes "k":"v"; omitempty skips an empty v.
func (e *enc) str(k, v string, omitempty bool) {
	if omitempty && v == "" {
		return
	}
	e.key(k)
	e.quote(v)
	e.comma = true
}

func (e *enc) dec(k string, v Decimal, omitempty bool) { e.str(k, string(v), omitempty) }

func (e *enc) int(k string, v int64, omitempty bool) {
	if omitempty && v == 0 {
		return
	}
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
	e.comma = true
}

func (e *enc) time(k string, t Time) {
	e.key(k)
	e.b = append(e.b, '"')
	if t.DateOnly {
		e.b = t.Time.AppendFormat(e.b, time.DateOnly)
	} else {
		e.b = t.Time.AppendFormat(e.b, time.RFC3339)
	}
	e.b = append(e.b, '"')
	e.comma = true
}

func (e *enc) strings(k string, l []string) {
	if len(l) == 0 {
		return
	}
	e.key(k)
	e.b = append(e.b, '[')
	for i, s := range l {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.quote(s)
	}
	e.b = append(e.b, ']')
	e.comma = true
}

const hex = "0123456789abcdef"

// quote writes s as a JSON string like encoding/json without HTML escaping.
func (e *enc) quote(s string) {
	e.b = append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			e.b = append(e.b, s[start:i]...)
			switch c {
			case '"', '\\':
				e.b = append(e.b, '\\', c)
			case '\n':
				e.b = append(e.b, '\\', 'n')
			case '\r':
				e.b = append(e.b, '\\', 'r')
			case '\t':
				e.b = append(e.b, '\\', 't')
			case '\b':
				e.b = append(e.b, '\\', 'b')
			case '\f':
				e.b = append(e.b, '\\', 'f')
			default:
				e.b = append(e.b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			e.b = append(e.b, s[start:i]...)
			e.b = append(e.b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			e.b = append(e.b, s[start:i]...)
			e.b = append(e.b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	e.b = append(e.b, s[start:]...)
	e.b = append(e.b, '"')
}

func (e *enc) header(h *Header) {
	e.str("type", h.Type, false)
	e.str("version", h.Version, false)
	e.str("purpose", h.Purpose, true)
	e.refs("references", h.References)
	e.dates("dates", h.Dates)
	if len(h.Parties) > 0 {
		e.key("parties")
		e.b = append(e.b, '[')
		for i := range h.Parties {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.party(&h.Parties[i])
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.strings("notes", h.Notes)
	if s := h.Source; s != nil {
		e.key("source")
		e.open()
		e.str("format", s.Format, false)
		e.str("partner", s.Partner, true)
		e.str("sender", s.Sender, true)
		e.str("receiver", s.Receiver, true)
		e.str("interchange", s.Interchange, true)
		e.str("usage", s.Usage, true)
		e.str("group", s.Group, true)
		e.str("set", s.Set, true)
		e.str("set_id", s.SetID, true)
		e.str("x12_version", s.Version, true)
		e.str("layout", s.Layout, true)
		e.int("line", int64(s.Line), true)
		e.int("offset", s.Offset, true)
		e.close()
	}
}

func (e *enc) refs(k string, rs []Reference) {
	if len(rs) == 0 {
		return
	}
	e.key(k)
	e.b = append(e.b, '[')
	for i := range rs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		r := &rs[i]
		e.open()
		e.str("type", r.Type, false)
		e.str("value", r.Value, false)
		e.str("qualifier", r.Qualifier, true)
		e.str("description", r.Description, true)
		e.close()
	}
	e.b = append(e.b, ']')
	e.comma = true
}

func (e *enc) dates(k string, ds []Date) {
	if len(ds) == 0 {
		return
	}
	e.key(k)
	e.b = append(e.b, '[')
	for i := range ds {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		d := &ds[i]
		e.open()
		e.str("type", d.Type, false)
		e.time("time", d.Time)
		e.str("qualifier", d.Qualifier, true)
		e.close()
	}
	e.b = append(e.b, ']')
	e.comma = true
}

func (e *enc) address(a *Address) {
	e.open()
	e.strings("lines", a.Lines)
	e.str("city", a.City, true)
	e.str("state", a.State, true)
	e.str("postal_code", a.PostalCode, true)
	e.str("country", a.Country, true)
	e.close()
}

func (e *enc) party(p *Party) {
	e.open()
	e.str("role", p.Role, false)
	e.str("qualifier", p.Qualifier, true)
	e.str("name", p.Name, true)
	e.str("id_qualifier", p.IDQualifier, true)
	e.str("id", p.ID, true)
	if p.Address != nil {
		e.key("address")
		e.address(p.Address)
	}
	if len(p.Contacts) > 0 {
		e.key("contacts")
		e.b = append(e.b, '[')
		for i := range p.Contacts {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			c := &p.Contacts[i]
			e.open()
			e.str("role", c.Role, true)
			e.str("name", c.Name, true)
			e.str("phone", c.Phone, true)
			e.str("email", c.Email, true)
			e.close()
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.close()
}

func (e *enc) measures(k string, m *Measures) {
	if m == nil {
		return
	}
	e.key(k)
	e.open()
	e.dec("weight", m.Weight, true)
	e.str("weight_unit", m.WeightUnit, true)
	e.dec("pieces", m.Pieces, true)
	e.str("piece_unit", m.PieceUnit, true)
	e.dec("volume", m.Volume, true)
	e.str("volume_unit", m.VolumeUnit, true)
	e.close()
}

func (e *enc) shipment(s *Shipment) {
	e.open()
	e.header(&s.Header)
	e.str("shipment_id", s.ShipmentID, false)
	e.str("carrier", s.Carrier, true)
	e.str("payment_method", s.PaymentMethod, true)
	e.str("mode", s.Mode, true)
	if len(s.Equipment) > 0 {
		e.key("equipment")
		e.b = append(e.b, '[')
		for i := range s.Equipment {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			q := &s.Equipment[i]
			e.open()
			e.str("type", q.Type, true)
			e.str("prefix", q.Prefix, true)
			e.str("number", q.Number, true)
			e.dec("length", q.Length, true)
			e.close()
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	if len(s.Stops) > 0 {
		e.key("stops")
		e.b = append(e.b, '[')
		for i := range s.Stops {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.stop(&s.Stops[i])
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.measures("totals", s.Totals)
	e.dec("charge", s.Charge, true)
	e.close()
}

func (e *enc) stop(s *Stop) {
	e.open()
	e.int("sequence", int64(s.Sequence), false)
	e.str("reason", s.Reason, true)
	if s.Location != nil {
		e.key("location")
		e.party(s.Location)
	}
	e.dates("dates", s.Dates)
	e.refs("references", s.References)
	e.measures("measures", s.Measures)
	if len(s.Lading) > 0 {
		e.key("lading")
		e.b = append(e.b, '[')
		for i := range s.Lading {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			l := &s.Lading[i]
			e.open()
			e.str("description", l.Description, true)
			e.measures("measures", l.Measures)
			if h := l.Hazmat; h != nil {
				e.key("hazmat")
				e.open()
				e.str("un_number", h.UNNumber, true)
				e.str("class", h.Class, true)
				e.str("description", h.Description, true)
				e.str("packing_group", h.PackingGroup, true)
				e.close()
			}
			e.close()
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.strings("notes", s.Notes)
	e.close()
}

func (e *enc) status(s *ShipmentStatus) {
	e.open()
	e.header(&s.Header)
	e.str("shipment_id", s.ShipmentID, true)
	e.str("carrier", s.Carrier, true)
	if len(s.Events) > 0 {
		e.key("events")
		e.b = append(e.b, '[')
		for i := range s.Events {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			v := &s.Events[i]
			e.open()
			e.str("status", v.Status, false)
			e.str("reason", v.Reason, true)
			if v.Time != nil {
				e.time("time", *v.Time)
			}
			if v.Location != nil {
				e.key("location")
				e.address(v.Location)
			}
			e.str("equipment", v.Equipment, true)
			e.measures("measures", v.Measures)
			e.str("proof_of_delivery", v.ProofOfDelivery, true)
			e.str("appointment", v.Appointment, true)
			e.close()
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.close()
}

func (e *enc) quantity(k string, q *Quantity) {
	e.key(k)
	e.open()
	e.dec("value", q.Value, false)
	e.str("unit", q.Unit, true)
	e.close()
}

func (e *enc) item(k string, it *Item) {
	e.key(k)
	e.open()
	e.refs("ids", it.IDs)
	e.str("description", it.Description, true)
	e.str("lot", it.Lot, true)
	e.close()
}

func (e *enc) whLines(ls []WarehouseLine) {
	if len(ls) == 0 {
		return
	}
	e.key("lines")
	e.b = append(e.b, '[')
	for i := range ls {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		l := &ls[i]
		e.open()
		e.str("line_number", l.LineNumber, true)
		e.item("item", &l.Item)
		e.quantity("quantity", &l.Quantity)
		if l.Ordered != nil {
			e.quantity("ordered", l.Ordered)
		}
		e.str("status", l.Status, true)
		e.str("reason", l.Reason, true)
		e.close()
	}
	e.b = append(e.b, ']')
	e.comma = true
}

func (e *enc) freight(f *FreightInvoice) {
	e.open()
	e.header(&f.Header)
	e.str("invoice_number", f.InvoiceNumber, false)
	e.str("shipment_id", f.ShipmentID, true)
	e.str("carrier", f.Carrier, true)
	e.str("payment_method", f.PaymentMethod, true)
	e.str("currency", f.Currency, true)
	if len(f.Lines) > 0 {
		e.key("lines")
		e.b = append(e.b, '[')
		for i := range f.Lines {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			l := &f.Lines[i]
			e.open()
			e.str("line_number", l.LineNumber, true)
			e.str("description", l.Description, true)
			e.measures("measures", l.Measures)
			if len(l.Charges) > 0 {
				e.key("charges")
				e.b = append(e.b, '[')
				for j := range l.Charges {
					if j > 0 {
						e.b = append(e.b, ',')
					}
					c := &l.Charges[j]
					e.open()
					e.str("code", c.Code, true)
					e.str("description", c.Description, true)
					e.dec("amount", c.Amount, false)
					e.dec("rate", c.Rate, true)
					e.str("rate_basis", c.RateBasis, true)
					if c.Quantity != nil {
						e.quantity("quantity", c.Quantity)
					}
					e.close()
				}
				e.b = append(e.b, ']')
				e.comma = true
			}
			e.close()
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
	e.measures("totals", f.Totals)
	e.dec("total", f.Total, false)
	e.close()
}
