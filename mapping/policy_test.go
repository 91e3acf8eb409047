package mapping

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/mapping/canonical"
)

const twoTenders = `ISA*00*          *00*          *ZZ*SHIPPER        *ZZ*CARRIER        *260102*0304*U*00401*000000007*0*P*>~
GS*SM*SHIPPER*CARRIER*20260102*0304*7*X*004010~
ST*204*0001~
B2**ABCD**SHP1**PP~
B2A*00~
L11*X1*DJ~
G62*64*20260104*1*1000*LT~
S5*1*LD~
SE*7*0001~
ST*204*0002~
B2**ABCD****PP~
B2A*00~
S5*X*LD~
SE*5*0002~
ST*204*0003~
B2**ABCD**SHP3**PP~
B2A*00~
SE*4*0003~
GE*3*7~
IEA*1*000000007~
`

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		docs        int
		rejected    bool
		quarantined int
	}{
		{"quarantine", 2, false, 1},
		{"reject", 1, true, 1},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			p, err := NewProfile(ProfileSpec{Partner: "acme", Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			var errs []*Error
			var docs []canonical.Document
			out, err := FromX12(context.Background(), strings.NewReader(twoTenders), Options{Profile: p,
				Emit: func(d canonical.Document) error { docs = append(docs, d); return nil }, OnError: func(e *Error) { errs = append(errs, e) }})
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != tc.docs || out.Documents != tc.docs || out.Rejected != tc.rejected || len(out.Quarantined) != tc.quarantined {
				t.Fatalf("docs %d, outcome %+v; want %d docs, rejected %v, %d quarantined", len(docs), out, tc.docs, tc.rejected, tc.quarantined)
			}
			if len(errs) != 2 {
				t.Fatalf("errors %v, want 2 (stop sequence, shipment id)", errs)
			}
			e := errs[0]
			if e.Partner != "acme" || e.Document != "204 0002" || e.Field != "stops[0].sequence" || e.Pos.Interchange != "000000007" ||
				e.Pos.Group != "7" || e.Pos.Set != "0002" || e.Pos.SegmentID != "S5" || e.Pos.SetPosition != 4 || e.Pos.Element != 1 ||
				!errors.Is(e, ErrBadValue) {
				t.Errorf("error = %+v (%v)", e, e)
			}
			if msg := e.Error(); !strings.Contains(msg, "partner acme") || !strings.Contains(msg, "stops[0].sequence") || !strings.Contains(msg, "segment 13 S5") {
				t.Errorf("message %q lacks partner, field or segment", msg)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Los_Angeles",
		Codes:    map[string]map[string]string{TableReferences: {"DJ": "load_id"}, TableDates: {"64": "tender_deadline"}},
		Defaults: map[string]string{"shipment.mode": "truckload"}})
	if err != nil {
		t.Fatal(err)
	}
	var got *canonical.Shipment
	_, err = FromX12(context.Background(), strings.NewReader(twoTenders), Options{Profile: p,
		Emit: func(d canonical.Document) error {
			if got == nil {
				got = d.(*canonical.Shipment)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.References) != 1 || got.References[0] != (canonical.Reference{Type: "load_id", Value: "X1"}) {
		t.Errorf("references = %+v, want the partner's DJ as load_id", got.References)
	}
	if d := got.Dates[0]; d.Type != "tender_deadline" || d.Time.String() != "2026-01-04T10:00:00-08:00" {
		t.Errorf("date = %+v %s, want tender_deadline at 10:00 Los Angeles time", d, d.Time)
	}
	if got.Mode != "truckload" {
		t.Errorf("mode = %q, want the partner default", got.Mode)
	}
	// The way back uses the partner's qualifier too.
	edi := render(t, p, "204", got)
	if !bytes.Contains(edi, []byte("L11*X1*DJ~")) || !bytes.Contains(edi, []byte("G62*64*20260104*Z*1000*LT~")) {
		t.Errorf("rendered without the partner's codes:\n%s", edi)
	}
	if _, err := NewProfile(ProfileSpec{Codes: map[string]map[string]string{"nope": {}}}); err == nil {
		t.Error("unknown table accepted")
	}
	if _, err := NewProfile(ProfileSpec{TimeZone: "Mars/Olympus"}); err == nil {
		t.Error("unknown zone accepted")
	}
}

func TestRenderErrors(t *testing.T) {
	p := DefaultProfile()
	var buf bytes.Buffer
	r, err := NewX12Renderer(x12Writer(&buf), RenderOptions{Profile: p, Set: "204", Numbers: memNumbers(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	bad := &canonical.Shipment{Header: head(canonical.TypeShipment)}
	bad.References = []canonical.Reference{{Type: "mystery", Value: "1"}}
	errs, err := r.Render(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].Field != "shipment_id" || errs[1].Field != "references[0].type" {
		t.Fatalf("errors = %v", errs)
	}
	good := &canonical.Shipment{Header: head(canonical.TypeShipment), ShipmentID: "S1"}
	if errs, _ := r.Render(context.Background(), good); len(errs) != 0 {
		t.Fatal(errs)
	}
	if errs, _ := r.Render(context.Background(), &canonical.Invoice{Header: head(canonical.TypeInvoice)}); len(errs) != 1 || errs[0].Field != "type" {
		t.Fatalf("wrong type accepted: %v", errs)
	}
	r.Close()
	if r.Documents != 1 || len(r.Quarantined) != 2 || bytes.Count(buf.Bytes(), []byte("ST*204")) != 1 {
		t.Fatalf("outcome %+v, output:\n%s", r.Outcome, buf.Bytes())
	}
}

// TestRenderStatusCodes: picked_up, a canonical milestone, is written as
// AT7 CP (Completed Loading at Pick-up Location) and read back as
// picked_up; a value that is neither in the status table nor a code is an
// error naming the field, never text in AT701; a code no table names (ZZ)
// is written as it is, as FromX12 keeps it.
func TestRenderStatusCodes(t *testing.T) {
	p := DefaultProfile()
	at := canonical.At(time.Date(2026, 11, 26, 8, 15, 0, 0, time.UTC))
	doc := func(status ...string) *canonical.ShipmentStatus {
		d := &canonical.ShipmentStatus{Header: head(canonical.TypeShipmentStatus), ShipmentID: "L1", Carrier: "ODFL"}
		for _, s := range status {
			d.Events = append(d.Events, canonical.StatusEvent{Status: s, Time: &at})
		}
		return d
	}
	good := doc("picked_up", "departed_pickup", "ZZ")
	edi := render(t, p, "214", good)
	for _, seg := range []string{"AT7*CP****20261126*0815*UT~", "AT7*AF****20261126*0815*UT~", "AT7*ZZ****20261126*0815*UT~"} {
		if !bytes.Contains(edi, []byte(seg)) {
			t.Errorf("no %s in\n%s", seg, edi)
		}
	}
	back, _ := mapAll(t, p, edi)
	back[0].Head().Source = nil
	if a, b := jsonOf(t, good), jsonOf(t, back[0]); a != b {
		t.Errorf("round trip:\nwant %s\ngot  %s", a, b)
	}

	var buf bytes.Buffer
	r, err := NewX12Renderer(x12Writer(&buf), RenderOptions{Profile: p, Set: "214", Numbers: memNumbers(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	bad := doc("delivered", "picked up late")
	bad.Events[0].Reason = "weather_delay"
	errs, err := r.Render(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 2 || errs[0].Field != "events[0].reason" || errs[1].Field != "events[1].status" || !errors.Is(errs[1], ErrBadValue) ||
		!strings.Contains(errs[1].Error(), `"picked up late" has no X12 code in the status table`) {
		t.Fatalf("errors = %v", errs)
	}
	r.Close()
	if bytes.Contains(buf.Bytes(), []byte("AT7")) {
		t.Errorf("a document with errors was written:\n%s", buf.Bytes())
	}
}

// TestRenderTimesWithoutCode: BIA (846) and BSN (856) carry a date and a
// time but no time code, and FromX12 reads them in the partner's zone: a
// time in another zone is written in the partner's, so the instant
// survives the round trip (it comes back with the partner's offset).
func TestRenderTimesWithoutCode(t *testing.T) {
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago"})
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		when time.Time
		seg  string
	}{
		{time.Date(2026, 11, 27, 23, 0, 0, 0, ny), "BIA*00*DD*INV1*20261127*2200~"},
		{time.Date(2026, 11, 28, 0, 30, 0, 0, ny), "BIA*00*DD*INV1*20261127*2330~"}, // the date changes too
		{time.Date(2026, 7, 1, 6, 0, 5, 0, time.UTC), "BIA*00*DD*INV1*20260701*010005~"},
	} {
		t0 := canonical.At(tc.when)
		d := &canonical.InventoryBalance{Header: head(canonical.TypeInventoryBalance), ReportID: "INV1"}
		d.Purpose = "original"
		d.Dates = []canonical.Date{{Type: "report", Time: t0}}
		edi := render(t, p, "846", d)
		if !bytes.Contains(edi, []byte(tc.seg)) {
			t.Errorf("%s: no %s in\n%s", tc.when, tc.seg, edi)
		}
		back, _ := mapAll(t, p, edi)
		if got := back[0].Head().Dates[0].Time; !got.Time.Equal(tc.when) {
			t.Errorf("846 report time %s came back as %s", tc.when, got)
		}
		sn := &canonical.ShipNotice{Header: head(canonical.TypeShipNotice), ShipmentID: "ASN1"}
		sn.Purpose = "original"
		sn.Dates = []canonical.Date{{Type: "ship", Time: t0}}
		back, _ = mapAll(t, p, render(t, p, "856", sn))
		if got := back[0].Head().Dates[0].Time; !got.Time.Equal(tc.when) {
			t.Errorf("856 ship time %s came back as %s", tc.when, got)
		}
	}
}
