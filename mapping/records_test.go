package mapping

import (
	"bytes"
	"context"
	"errors"
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
