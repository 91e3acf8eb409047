package mapping

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// An ERP's order export: semicolon CSV in Windows-1252 with decimal
// commas, a header line per order (tag H) and detail lines (tag D).
var erpOrders = LayoutSpec{Name: "erp-orders", Format: "csv", Document: "order", Encoding: "windows-1252",
	Delimiter: ";", DecimalSeparator: ",", DateFormat: "DD.MM.YYYY",
	Records: []RecordSpec{
		{Kind: "header", Tag: "H", TagColumn: 1, Fields: []FieldSpec{
			{Path: "order_number", Column: 2},
			{Path: "dates[order]", Column: 3, Type: "date"},
			{Path: "parties[ship_to].name", Column: 4},
			{Path: "parties[ship_to].address.city", Column: 5},
			{Path: "currency", Column: 6, Default: "EUR"},
			{Path: "total", Column: 7, Type: "decimal"},
			{Path: "references[customer_reference]", Column: 8},
		}},
		{Kind: "detail", Tag: "D", TagColumn: 1, Fields: []FieldSpec{
			{Path: "lines[].line_number", Column: 2},
			{Path: "lines[].item.ids[sku]", Column: 3},
			{Path: "lines[].item.description", Column: 4},
			{Path: "lines[].quantity.value", Column: 5, Type: "decimal"},
			{Path: "lines[].quantity.unit", Column: 6},
			{Path: "lines[].unit_price", Column: 7, Type: "decimal"},
		}},
	}}

const erpCSV = "H;PO-1;05.01.2026;Caf\xe9 M\xfcller;K\xf6ln;;1.234,50;CR9\r\n" +
	"D;1;SKU-1;Kaffee \x80 Bohnen;10;case;12,5\r\n" +
	"D;2;SKU-2;Tee;2,5;each;0,99\r\n" +
	"H;PO-2;06.01.2026;Shop;Berlin;USD;10,00;\r\n" +
	"D;1;SKU-9;Zucker;1;each;10\r\n"

// A carrier's status feed: fixed width, one event per line, grouped by shipment.
var carrierStatus = LayoutSpec{Name: "carrier-status", Format: "flat", Document: "shipment_status", TimeFormat: "YYYYMMDDHHmm",
	TimeZone: "America/Chicago", GroupBy: "shipment_id",
	Records: []RecordSpec{{Fields: []FieldSpec{
		{Path: "shipment_id", Start: 1, Length: 10},
		{Path: "carrier", Start: 11, Length: 4},
		{Path: "events[].status", Start: 15, Length: 12},
		{Path: "events[].time", Start: 27, Length: 12, Type: "time"},
		{Path: "events[].location.city", Start: 39, Length: 10},
		{Path: "events[].measures.weight", Start: 49, Length: 9, Type: "decimal", Scale: 2, Pad: "0"},
	}}}}

func TestRecordsRead(t *testing.T) {
	p := DefaultProfile()
	l, err := NewRecordLayout(erpOrders, p)
	if err != nil {
		t.Fatal(err)
	}
	var docs []canonical.Document
	out, err := FromRecords(context.Background(), strings.NewReader(erpCSV), l, Options{Profile: p,
		Emit: func(d canonical.Document) error { docs = append(docs, d); return nil }})
	if err != nil || out.Documents != 2 || out.Errors != 0 {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	o := docs[0].(*canonical.Order)
	if o.OrderNumber != "PO-1" || o.Total != "1234.50" || o.Currency != "EUR" || o.Parties[0].Name != "Café Müller" ||
		o.Parties[0].Address.City != "Köln" || o.Dates[0].Time.String() != "2026-01-05" || len(o.Lines) != 2 ||
		o.Lines[0].Item.Description != "Kaffee € Bohnen" || o.Lines[1].Quantity.Value != "2.5" || o.Lines[0].UnitPrice != "12.5" ||
		o.Lines[0].Item.IDs[0] != (canonical.Reference{Type: "sku", Value: "SKU-1"}) || o.References[0].Value != "CR9" ||
		o.Source.Line != 1 || o.Source.Layout != "erp-orders" {
		t.Errorf("order = %s", jsonOf(t, o))
	}
	if docs[1].(*canonical.Order).Source.Line != 4 || docs[1].(*canonical.Order).Currency != "USD" {
		t.Errorf("second order = %s", jsonOf(t, docs[1]))
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	for _, spec := range []LayoutSpec{erpOrders, carrierStatus} {
		t.Run(spec.Name, func(t *testing.T) {
			p := DefaultProfile()
			l, err := NewRecordLayout(spec, p)
			if err != nil {
				t.Fatal(err)
			}
			var input string
			if spec.Format == "csv" {
				input = erpCSV
			} else {
				input = "SHP1      ABCDX1          202601051130DAYTON    000125050\r\n" +
					"SHP1      ABCDD1          202601061400COLUMBUS  000000000\r\n" +
					"SHP2      ABCDX3          202601051130TOLEDO\r\n"
			}
			var docs []canonical.Document
			if _, err := FromRecords(context.Background(), strings.NewReader(input), l, Options{Profile: p,
				Emit:    func(d canonical.Document) error { d.Head().Source = nil; docs = append(docs, d); return nil },
				OnError: func(e *Error) { t.Error(e) }}); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			r, err := NewRecordRenderer(&buf, l, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				if errs, err := r.Render(context.Background(), d); err != nil || errs != nil {
					t.Fatal(errs, err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if spec.Format == "flat" && buf.String() != strings.Replace(input, "TOLEDO\r\n", "TOLEDO             \r\n", 1) {
				t.Errorf("rendered:\n%q\nwant (same as read):\n%q", buf.String(), input)
			}
			var back []canonical.Document
			FromRecords(context.Background(), &buf, l, Options{Profile: p,
				Emit: func(d canonical.Document) error { d.Head().Source = nil; back = append(back, d); return nil }})
			if len(back) != len(docs) {
				t.Fatalf("%d documents back, want %d", len(back), len(docs))
			}
			for i := range docs {
				if a, b := jsonOf(t, docs[i]), jsonOf(t, back[i]); a != b {
					t.Errorf("document %d:\nwant %s\ngot  %s", i, a, b)
				}
			}
		})
	}
}

func TestRecordsErrors(t *testing.T) {
	p, _ := NewProfile(ProfileSpec{Partner: "erp"})
	l, _ := NewRecordLayout(erpOrders, p)
	bad := strings.Replace(erpCSV, "2,5;each", "zwei;each", 1)
	var errs []*Error
	out, err := FromRecords(context.Background(), strings.NewReader(bad), l, Options{Profile: p, OnError: func(e *Error) { errs = append(errs, e) }})
	if err != nil || out.Documents != 1 || len(out.Quarantined) != 1 || len(errs) != 1 {
		t.Fatalf("outcome %+v errs %v err %v", out, errs, err)
	}
	e := errs[0]
	if e.Partner != "erp" || e.Document != "order at line 1" || e.Field != "lines[].quantity.value" || e.Pos.Line != 3 ||
		e.Pos.Column != "5 (lines[].quantity.value)" || !errors.Is(e, ErrBadValue) {
		t.Errorf("error %+v: %v", e, e)
	}
	// Windows-1252 cannot hold every rune: the renderer says so.
	var buf bytes.Buffer
	r, _ := NewRecordRenderer(&buf, l, p)
	o := &canonical.Order{Header: head("order"), OrderNumber: "PO-✓"}
	r.Render(context.Background(), o)
	if err := r.Close(); err == nil {
		t.Error("a rune outside windows-1252 was written without error")
	}
}

// mapRecords maps in with spec and returns the documents (without source)
// and the outcome; every error goes to errs as "LINE:COLUMN DOCUMENT: message".
func mapRecords(t *testing.T, spec LayoutSpec, p *Profile, in string) ([]canonical.Document, *Outcome, []string) {
	t.Helper()
	l, err := NewRecordLayout(spec, p)
	if err != nil {
		t.Fatal(err)
	}
	var docs []canonical.Document
	var errs []string
	out, err := FromRecords(context.Background(), strings.NewReader(in), l, Options{Profile: p,
		Emit: func(d canonical.Document) error { d.Head().Source = nil; docs = append(docs, d); return nil },
		OnError: func(e *Error) {
			errs = append(errs, fmt.Sprintf("%d:%s %s: %v", e.Pos.Line, e.Pos.Column, e.Document, e.Err))
		}})
	if err != nil {
		t.Fatal(err)
	}
	return docs, out, errs
}

// TestRecordsLineErrors: a line that matches no record (a trailer) or
// cannot be read (a quote that does not close) is an error of its own,
// quarantined at its line: it does not take the document before it down,
// unless that document goes on after it (the line is then one of its
// lines), and the reject policy rejects the file.
func TestRecordsLineErrors(t *testing.T) {
	quarantine, _ := NewProfile(ProfileSpec{Partner: "erp"})
	reject, _ := NewProfile(ProfileSpec{Partner: "erp", Policy: "reject"})
	grouped := LayoutSpec{Name: "grouped", Format: "csv", Document: "order", GroupBy: "order_number",
		Records: []RecordSpec{{Fields: []FieldSpec{{Path: "order_number", Column: 1}, {Path: "lines[].item.description", Column: 2},
			{Path: "lines[].quantity.value", Column: 3, Type: "decimal"}}}}}
	for _, tc := range []struct {
		name        string
		spec        LayoutSpec
		p           *Profile
		in          string
		orders      []string // order numbers delivered
		quarantined []string // "DOCUMENT@LINE" of each quarantined entry
		rejected    bool
	}{
		{"trailer after the last document", erpOrders, quarantine, erpCSV + "T;2;1.244,50\r\n",
			[]string{"PO-1", "PO-2"}, []string{"file@6"}, false},
		{"trailer between documents", erpOrders, quarantine, strings.Replace(erpCSV, "H;PO-2", "T;1\r\nH;PO-2", 1),
			[]string{"PO-1", "PO-2"}, []string{"file@4"}, false},
		{"unknown line amid a document's lines", erpOrders, quarantine, strings.Replace(erpCSV, "D;2;", "X;9\r\nD;2;", 1),
			[]string{"PO-2"}, []string{"order at line 1@1"}, false},
		{"trailer, reject policy", erpOrders, reject, erpCSV + "T;2;1.244,50\r\n", // the caller discards PO-1
			[]string{"PO-1"}, []string{"file@6"}, true},
		{"quote error on a line of its own group", grouped, quarantine, "A,x,1\nB,\"12\" pipe\",2\nC,y,3\n",
			[]string{"A", "C"}, []string{"file@2"}, false},
		{"quote error on the first line of the next group", grouped, quarantine, "A,x,1\nB,\"12\" pipe\",2\nB,y,3\nC,z,4\n",
			[]string{"A", "C"}, []string{"order at line 3@3"}, false},
		{"quote error on the last line of a group", grouped, quarantine, "A,x,1\nA,\"12\" pipe\",2\nC,y,3\n",
			[]string{"C"}, []string{"order at line 1@1"}, false},
		{"quote error amid a group", grouped, quarantine, "A,x,1\n\"A\" ,y,2\nA,z,3\nC,y,3\n",
			[]string{"C"}, []string{"order at line 1@1"}, false},
		{"quote never closed", grouped, quarantine, "A,x,1\nB,\"12 pipe,2\nC,y,3\n",
			[]string{"A"}, []string{"file@2"}, false},
		{"quote error, reject policy", grouped, reject, "A,x,1\nB,\"12\" pipe\",2\nC,y,3\n",
			nil, []string{"file@2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, out, errs := mapRecords(t, tc.spec, tc.p, tc.in)
			var orders, q []string
			for _, d := range docs {
				orders = append(orders, d.(*canonical.Order).OrderNumber)
			}
			for _, e := range out.Quarantined {
				q = append(q, fmt.Sprintf("%s@%d", e.Document, e.Pos.Line))
			}
			if strings.Join(orders, ",") != strings.Join(tc.orders, ",") || strings.Join(q, ",") != strings.Join(tc.quarantined, ",") ||
				out.Rejected != tc.rejected || out.Documents != len(tc.orders) {
				t.Errorf("delivered %v, quarantined %v, rejected %v; want %v, %v, %v\nerrors %q", orders, q, out.Rejected,
					tc.orders, tc.quarantined, tc.rejected, errs)
			}
			if len(errs) != 1 || out.Errors != 1 {
				t.Errorf("errors %q (outcome %d), want one", errs, out.Errors)
			}
		})
	}
}

// TestRecordsCodeTables: CSV and fixed-width values go through the
// partner's code tables (and the built-in ones) like X12 codes: a code is
// read as its canonical value and written back as the code; other values
// are taken as they are.
func TestRecordsCodeTables(t *testing.T) {
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago",
		Codes: map[string]map[string]string{TableUnits: {"KT": "carton"}, TableStatus: {"PU": "picked_up"}}})
	if err != nil {
		t.Fatal(err)
	}
	spec := LayoutSpec{Name: "status", Format: "csv", Document: "shipment_status", GroupBy: "shipment_id", TimeFormat: "YYYYMMDDHHmm",
		Records: []RecordSpec{{Fields: []FieldSpec{{Path: "shipment_id", Column: 1}, {Path: "events[].status", Column: 2},
			{Path: "events[].time", Column: 3, Type: "time"}, {Path: "events[].measures.weight_unit", Column: 4},
			{Path: "events[].measures.piece_unit", Column: 5}}}}}
	in := "S1,PU,202601051130,L,KT\r\nS1,X6,202601051230,K,CA\r\nS1,delivered,202601061400,lb,pallet\r\nS1,ZZ,202601061500,,\r\n"
	docs, out, errs := mapRecords(t, spec, p, in)
	if len(docs) != 1 || len(errs) != 0 {
		t.Fatalf("outcome %+v, errors %q", out, errs)
	}
	var got []string
	for _, e := range docs[0].(*canonical.ShipmentStatus).Events {
		s := e.Status
		if e.Measures != nil {
			s += "/" + e.Measures.WeightUnit + "/" + e.Measures.PieceUnit
		}
		got = append(got, s)
	}
	if want := "picked_up/lb/carton,in_transit/kg/case,delivered/lb/pallet,ZZ"; strings.Join(got, ",") != want {
		t.Errorf("events %s, want %s", strings.Join(got, ","), want)
	}
	l, _ := NewRecordLayout(spec, p)
	var buf bytes.Buffer
	r, _ := NewRecordRenderer(&buf, l, p)
	if errs, err := r.Render(context.Background(), docs[0]); err != nil || errs != nil {
		t.Fatal(errs, err)
	}
	r.Close()
	// The way back: the partner's codes (PU, KT), the built-in ones (X6,
	// D1, L, K, CA, PL), a code no table knows as it is.
	want := "S1,PU,202601051130,L,KT\r\nS1,X6,202601051230,K,CA\r\nS1,D1,202601061400,L,PL\r\nS1,ZZ,202601061500,,\r\n"
	if buf.String() != want {
		t.Errorf("rendered\n%s\nwant\n%s", buf.String(), want)
	}
	// The AS/400 order sample's units: CA is read as case.
	docs, _, _ = mapRecords(t, erpOrders, p, strings.Replace(erpCSV, ";case;", ";CA;", 1))
	if u := docs[0].(*canonical.Order).Lines[0].Quantity.Unit; u != "case" {
		t.Errorf("unit CA read as %q, want case", u)
	}
}

// TestRecordsDecimalErrorQuotesInput: the error quotes the value as the
// file has it, not after the decimal comma was converted.
func TestRecordsDecimalErrorQuotesInput(t *testing.T) {
	_, _, errs := mapRecords(t, erpOrders, DefaultProfile(), strings.Replace(erpCSV, ";12,5\r\n", ";40,62\x80\r\n", 1)) // € in Windows-1252
	if want := `2:7 (lines[].unit_price) order at line 1: invalid value: "40,62€": not a decimal number`; len(errs) != 1 || errs[0] != want {
		t.Errorf("errors %q, want %q", errs, want)
	}
	spec := carrierStatus
	_, _, errs = mapRecords(t, spec, DefaultProfile(), "SHP1      ABCDX1          202601051130DAYTON    00012,5x0\r\n")
	if want := `1:49-57 (events[].measures.weight) shipment_status at line 1: invalid value: "12,5x0": not a decimal number (implied decimal)`; len(errs) != 1 || errs[0] != want {
		t.Errorf("errors %q, want %q", errs, want)
	}
}

// TestRecordsShortLine: a line that ends inside a number or a time is an
// error at the field, never a value read as if padded (000031075 cut to
// 00003 is not 0.03); one that ends inside or before a text field is not.
func TestRecordsShortLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SHP1      ABCDX1          202601051130DAYTON    00003\r\n",
			`1:49-57 (events[].measures.weight) shipment_status at line 1: input cannot be read: line ends inside the field: the line has 53 characters, the field is characters 49-57 (read "00003")`},
		{"SHP1      ABCDX1          20260105\r\n",
			`1:27-38 (events[].time) shipment_status at line 1: input cannot be read: line ends inside the field: the line has 34 characters, the field is characters 27-38 (read "20260105")`},
		{"SHP1      ABCDX1          202601051130DAY\r\n", ""},
		{"SHP1      ABCDX1          202601051130\r\n", ""},
	} {
		docs, _, errs := mapRecords(t, carrierStatus, DefaultProfile(), tc.in)
		if strings.Join(errs, "\n") != tc.want || (tc.want == "") != (len(docs) == 1) {
			t.Errorf("%q: %d documents, errors %q; want %q", tc.in, len(docs), errs, tc.want)
		}
	}
}
