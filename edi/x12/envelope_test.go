package x12

import (
	"context"
	"io"
	"strings"
	"testing"
)

const isaT = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*U*00401*000000001*0*P*>~"

func TestEnvelopes(t *testing.T) {
	set := func(ctl string) string { return "ST*990*" + ctl + "~B1*SCAC*SHP1*20260101*A~SE*3*" + ctl + "~" }
	gs := "GS*GF*S*R*20260101*1200*1*X*004010~"
	tests := []struct {
		name, in, want string
	}{
		{"ok", isaT + gs + set("0001") + "GE*1*1~IEA*1*000000001~", "I000000001:A G1:A S990/0001:A"},
		{"two interchanges", isaT + gs + set("0001") + "GE*1*1~IEA*1*000000001~\n" + strings.Replace(isaT, "000000001", "000000002", 1) + gs + set("0001") + "GE*1*1~IEA*1*000000002~",
			"I000000001:A G1:A S990/0001:A I000000002:A G1:A S990/0001:A"},
		{"duplicate ST02", isaT + gs + set("0001") + set("0001") + "GE*2*1~IEA*1*000000001~", "I000000001:A G1:P:23 S990/0001:A S990/0001:R:23"},
		{"SE02 mismatch", isaT + gs + "ST*990*0001~B1*SCAC*SHP1*20260101*A~SE*3*0002~GE*1*1~IEA*1*000000001~", "I000000001:A G1:R S990/0001:R:3"},
		{"SE missing", isaT + gs + "ST*990*0001~B1*SCAC*SHP1*20260101*A~GE*1*1~IEA*1*000000001~", "I000000001:A G1:R S990/0001:R:2"},
		{"GE count", isaT + gs + set("0001") + "GE*2*1~IEA*1*000000001~", "I000000001:A G1:R:5 S990/0001:A"},
		{"GE missing", isaT + gs + set("0001") + "IEA*1*000000001~", "I000000001:A G1:R:3 S990/0001:A"},
		{"IEA count", isaT + gs + set("0001") + "GE*1*1~IEA*2*000000001~", "I000000001:R:021 G1:A S990/0001:A"},
		{"IEA missing", isaT + gs + set("0001") + "GE*1*1~", "I000000001:R:023 G1:A S990/0001:A"},
		{"segment between groups", isaT + gs + set("0001") + "GE*1*1~N9*X*Y~IEA*1*000000001~", "I000000001:R:024 G1:A S990/0001:A"},
		{"bad ISA13", strings.Replace(isaT, "000000001", "00000000A", 1) + gs + set("0001") + "GE*1*1~IEA*1*00000000A~", "I00000000A:R:018 G1:A S990/0001:A"},
		{"bad ISA09 date", strings.Replace(isaT, "260101", "261301", 1) + gs + set("0001") + "GE*1*1~IEA*1*000000001~", "I000000001:E:014 G1:A S990/0001:A"},
		{"unsupported control version", strings.Replace(isaT, "00401", "00100", 1) + gs + set("0001") + "GE*1*1~IEA*1*000000001~", "I000000001:R:003 G1:A S990/0001:A"},
		{"LF inside an element", isaT + gs + "ST*990*0001~B1*SC\nAC*SHP1*2026\r\n0101*A~SE*3*0001~GE*1*1~IEA*1*000000001~", "I000000001:A G1:A S990/0001:A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := (&Checker{}).Check(context.Background(), NewReader(strings.NewReader(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(rep); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestTA1WhenRequested(t *testing.T) {
	in := strings.Replace(isaT, "*0*P*", "*1*P*", 1) + "GS*GF*S*R*20260101*1200*1*X*004010~ST*990*0001~B1*SCAC*SHP1*20260101*A~SE*3*0001~GE*1*1~IEA*1*000000001~"
	rep, _ := (&Checker{}).Check(context.Background(), NewReader(strings.NewReader(in)))
	var b strings.Builder
	WriteAcks(context.Background(), &b, rep, AckOptions{})
	if !strings.Contains(b.String(), "TA1*000000001*260101*1200*A*000~GS*FA*R*S*") {
		t.Fatal(b.String())
	}
}

func TestElementBytesAfterLF(t *testing.T) {
	r := NewReader(strings.NewReader(isaT + "GS*GF*S*R*20260101*1200*1*X*004010~ST*990*0001~B1*SC\nAC*SHP1~"))
	for {
		s, err := r.Read()
		if err == io.EOF {
			t.Fatal("no B1")
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.Is("B1") {
			if string(s.Element(1)) != "SCAC" || s.Len() != 3 {
				t.Fatalf("%q", s.Bytes())
			}
			return
		}
	}
}

// TestConcurrentCheckers: checkers share DefaultSchemas (run with -race).
func TestConcurrentCheckers(t *testing.T) {
	in := isaT + "GS*SM*S*R*20260101*1200*1*X*004010~ST*204*0001~B2**SCAC**SHP1**PP~B2A*00~S5*1*LD~SE*5*0001~GE*1*1~IEA*1*000000001~"
	done := make(chan string)
	for i := 0; i < 4; i++ {
		go func() {
			rep, _ := (&Checker{}).Check(context.Background(), NewReader(strings.NewReader(in)))
			done <- summary(rep)
		}()
	}
	for i := 0; i < 4; i++ {
		if got := <-done; got != "I000000001:A G1:A S204/0001:A" {
			t.Error(got)
		}
	}
}
