package canonical

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// encodingJSON is the reference: what encoding/json writes for the CLI.
func encodingJSON(t *testing.T, d Document) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func checkSame(t *testing.T, d Document, where string) {
	t.Helper()
	got, err := AppendJSON(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := encodingJSON(t, d); !bytes.Equal(got, want) {
		t.Errorf("%s: AppendJSON differs from encoding/json:\n got %s\nwant %s", where, got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	n := 0
	eachLine(t, corpusDocuments(t), func(where string, line []byte) {
		if d, err := Decode(line); err == nil {
			n++
			checkSame(t, d, where)
		}
	})
	if n < 20 {
		t.Fatalf("only %d documents compared", n)
	}
	// Every field set, and strings that need escaping.
	tm := At(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5*3600)))
	nasty := "a\"b\\c\n\r\t\x01\u2028<&>\xff é"
	h := Header{Type: TypeShipment, Version: Version, Purpose: "change", References: []Reference{{"po", nasty, "Q", "d"}},
		Dates: []Date{{"x", tm, "Q"}, {"y", NewDate(2026, 1, 2), ""}}, Notes: []string{nasty, ""},
		Parties: []Party{{Role: "r", Qualifier: "q", Name: "n", IDQualifier: "i", ID: "d", Address: &Address{Lines: []string{"1", "2"}, City: "c",
			State: "s", PostalCode: "p", Country: "c"}, Contacts: []Contact{{"r", "n", "p", "e"}, {}}}},
		Source: &Source{Format: "x12", Partner: "p", Sender: "s", Receiver: "r", Interchange: "i", Group: "g", Set: "s", SetID: "204",
			Version: "004010", Layout: "l", Line: 3, Offset: 99}}
	m := &Measures{"1", "lb", "2", "pc", "3", "cf"}
	s := &Shipment{Header: h, ShipmentID: "S", Carrier: "C", PaymentMethod: "p", Mode: "m", Equipment: []Equipment{{"t", "p", "n", "53"}, {}},
		Stops: []Stop{{Sequence: 1, Reason: "r", Location: &h.Parties[0], Dates: h.Dates, References: h.References, Measures: m,
			Lading: []Lading{{"d", m, &Hazmat{"u", "c", "d", "p"}}, {}}, Notes: []string{"n"}}, {}}, Totals: m, Charge: "1.00"}
	checkSame(t, s, "full shipment")
	checkSame(t, &Shipment{Header: Header{Type: TypeShipment}}, "empty shipment")
	h.Type = TypeShipmentStatus
	st := &ShipmentStatus{Header: h, ShipmentID: "S", Carrier: "C", Events: []StatusEvent{{Status: "s", Reason: "r", Time: &tm,
		Location: &Address{City: "c"}, Equipment: "e", Measures: m, ProofOfDelivery: "p", Appointment: "a"}, {}}}
	checkSame(t, st, "full status")
	checkSame(t, &Order{Header: Header{Type: TypeOrder}, OrderNumber: "1"}, "fallback")
	q := Quantity{"1", "each"}
	lines := []WarehouseLine{{LineNumber: "1", Item: Item{IDs: h.References, Description: "d", Lot: "l"}, Quantity: q, Ordered: &q, Status: "s", Reason: "r"}, {}}
	h.Type = TypeWarehouseOrder
	checkSame(t, &WarehouseOrder{Header: h, OrderNumber: "o", Carrier: "c", Mode: "m", PaymentMethod: "p", Lines: lines, Totals: m}, "full warehouse order")
	checkSame(t, &WarehouseOrder{}, "empty warehouse order")
	h.Type = TypeShipConfirmation
	checkSame(t, &ShipConfirmation{Header: h, OrderNumber: "o", ShipmentID: "s", Carrier: "c", Mode: "m", Lines: lines, Totals: m}, "full confirmation")
	checkSame(t, &ShipConfirmation{}, "empty confirmation")
	h.Type = TypeFreightInvoice
	checkSame(t, &FreightInvoice{Header: h, InvoiceNumber: "i", ShipmentID: "s", Carrier: "c", PaymentMethod: "p", Currency: "USD",
		Lines: []FreightLine{{"1", "d", m, []Charge{{"c", "d", "1.00", "2", "PH", &q}, {}}}, {}}, Totals: m, Total: "9.99"}, "full freight invoice")
	checkSame(t, &FreightInvoice{}, "empty freight invoice")
}

// fill sets every field reachable from v: a field added to a type and
// forgotten by the hand-written encoder makes TestAppendJSONAllFields fail.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(Time{}) {
			v.Set(reflect.ValueOf(NewDate(2026, 1, 2)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	}
}

func TestAppendJSONAllFields(t *testing.T) {
	for _, typ := range Types {
		d := New(typ)
		fill(reflect.ValueOf(d).Elem(), 0)
		d.Head().Type = typ
		checkSame(t, d, "every field of "+typ)
	}
}
