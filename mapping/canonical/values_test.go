package canonical

import (
	"errors"
	"testing"
)

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		in     Decimal
		scale  int
		scaled Decimal
		impl   string
	}{
		{"1250", 2, "1250.00", "125000"},
		{"12.345", 2, "12.35", "1235"},
		{"-0.004", 2, "0.00", "0"},
		{"9.999", 2, "10.00", "1000"},
		{".5", 2, "0.50", "50"},
		{"-3.5", 0, "-4", "-4"},
	} {
		s, err := tc.in.Scaled(tc.scale)
		i, err2 := tc.in.Implied(tc.scale)
		if err != nil || err2 != nil || s != tc.scaled || i != tc.impl {
			t.Errorf("%q scale %d: %q %q (%v %v), want %q %q", tc.in, tc.scale, s, i, err, err2, tc.scaled, tc.impl)
		}
	}
	for in, want := range map[string]Decimal{"125000": "1250.00", "5": "0.05", "-125": "-1.25", "0": "0.00"} {
		if got, err := FromImplied(in, 2); err != nil || got != want {
			t.Errorf("FromImplied(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"1,5", "", "-", "1.2.3", "1e5", "12a"} {
		if _, err := ParseDecimal(bad); !errors.Is(err, ErrBadDecimal) {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
	if _, err := FromImplied("12.5", 2); err == nil {
		t.Error("FromImplied accepted a decimal point")
	}
}

func TestTime(t *testing.T) {
	for _, s := range []string{"2026-01-05", "2026-01-05T08:00:00-05:00", "2026-01-05T13:00:00Z"} {
		v, err := ParseTime(s)
		if err != nil || v.String() != s {
			t.Errorf("ParseTime(%q) = %v, %v", s, v, err)
		}
	}
	for _, bad := range []string{"2026-01-05T08:00:00", "05.01.2026", "2026-13-01"} {
		if _, err := ParseTime(bad); !errors.Is(err, ErrBadTime) {
			t.Errorf("ParseTime(%q) accepted a time without zone or a bad date", bad)
		}
	}
	if _, err := Decode([]byte(`{"type":"order","version":"2"}`)); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2 accepted: %v", err)
	}
	if _, err := Decode([]byte(`{"type":"memo"}`)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type accepted: %v", err)
	}
	d, err := Decode([]byte(`{"type":"order","order_number":"1","total":12.5,"future_field":1}`))
	if err != nil || d.(*Order).Total != "12.5" || d.Head().Version != Version {
		t.Errorf("Decode = %+v, %v", d, err)
	}
}
