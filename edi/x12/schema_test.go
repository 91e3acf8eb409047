package x12

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// wrap puts a transaction set into one interchange and group: segs[0] is
// ST's elements ("204*0001"), the rest the set's body; SE is added.
func wrap(fg, version string, segs ...string) string {
	return "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260101*1200*U*00401*000000001*0*P*>~" +
		"GS*" + fg + "*S*R*20260101*1200*1*X*" + version + "~" +
		"ST*" + segs[0] + "~" + strings.Join(segs[1:], "~") + "~" +
		"SE*" + fmt.Sprint(len(segs)+1) + "*0001~GE*1*1~IEA*1*000000001~"
}

// setResult checks one set (ST01 and control 0001 implied by the first
// element of segs) and returns its status, codes and a compact list of
// segment errors "ID@pos/loop:code" and warnings "w:code".
func setResult(t *testing.T, strict bool, fg, version string, segs ...string) string {
	t.Helper()
	in := wrap(fg, version, segs...)
	rep, err := (&Checker{Strict: strict}).Check(context.Background(), NewReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Interchanges) != 1 || len(rep.Interchanges[0].Groups) != 1 || len(rep.Interchanges[0].Groups[0].Sets) != 1 {
		t.Fatalf("structure of %q: %s", in, summary(rep))
	}
	st := rep.Interchanges[0].Groups[0].Sets[0]
	out := []string{string(st.Status) + codesSuffix(st.Codes)}
	for _, e := range st.Errors {
		s := fmt.Sprintf("%s@%d/%s:%s", e.ID, e.Position, e.Loop, e.Code)
		for _, el := range e.Elements {
			s += fmt.Sprintf(",%d:%s", el.Position, el.Code)
		}
		out = append(out, s)
	}
	for _, is := range st.Issues {
		if is.Warning && is.Code != "" {
			out = append(out, "w:"+is.Code)
		}
	}
	return strings.Join(out, " ")
}

func TestSchemaStructure(t *testing.T) {
	const v = "004010"
	tests := []struct {
		name   string
		strict bool
		fg     string
		segs   []string
		want   string
	}{
		{"204 minimal", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "S5*1*LD"}, "A"},
		{"204 stops with nested loops", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "N1*SH*X", "N3*A", "N4*BB*OH",
			"S5*1*LD", "L11*1*PO", "G62*69*20260101", "N1*SF*Y", "N4*CC*OH", "OID*1*2", "L5*1*FREIGHT", "AT8*G*L*100", "G61*SH*ME", "L11*X*SI",
			"S5*2*UL", "L3*100*G"}, "A"},
		{"204 without stops: mandatory loop missing", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "L3*100*G"},
			"R:5 S5@4/0300:3"},
		{"consecutive loops", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "S5*1*LD", "S5*2*UL", "S5*3*UL"}, "A"},
		{"204 without B2A", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "S5*1*LD"}, "R:5 B2A@3/:3"},
		{"204 L11 after the stop's N1 loop is out of sequence (warning)", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00",
			"S5*1*LD", "N1*SF*Y", "L11*1*PO"}, "E w:7"},
		{"... and an error when strict", true, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00",
			"S5*1*LD", "N1*SF*Y", "L11*1*PO"}, "R:5 L11@6/0310:7"},
		{"segment not in the set (warning)", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "S5*1*LD", "BEG*00*SA*1**20260101"}, "E w:6"},
		{"loop over its maximum (warning)", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00",
			"N1*SH*1", "N1*SH*2", "N1*SH*3", "N1*SH*4", "N1*SH*5", "N1*SH*6", "S5*1*LD"}, "E w:4"},
		{"segment over its maximum (warning)", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "G62*64*20260101", "G62*64*20260102", "S5*1*LD"}, "E w:5"},
		{"invalid segment ID", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00", "S5*1*LD", "s5x*1"}, "R:5 s5x@5/:1"},
		{"element errors: mandatory missing rejects, length warns", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A", "S5*1*LOAD"},
			"R:5 B2A@3/:8,1:1 S5@4/0300:8,2:5"},
		{"too many elements", false, "SM", []string{"204*0001", "B2**SCAC**SHP1**PP", "B2A*00*LT*X", "S5*1*LD"}, "R:5 B2A@3/:8,3:3"},
		{"numeric, date and time types", false, "QM", []string{"214*0001", "B10*1*2*SCAC", "LX*A", "AT7*X1*NS***20261340*2561"},
			"E LX@3/0200:8,1:6 AT7@4/0205:8,5:8,6:9"},
		{"closed code list", false, "FA", []string{"997*0001", "AK1*SM*1", "AK9*Z*1*1*1"}, "E AK9@3/:8,1:7"},
		{"997 AK2 loop needs AK5", false, "FA", []string{"997*0001", "AK1*SM*1", "AK2*204*0001", "AK9*A*1*1*1"}, "R:5 AK5@4/AK2:3"},
		{"940 detail with and without LX", false, "OW", []string{"940*0001", "W05*N*ORD1", "LX*1", "W01*1*CA", "W01*2*CA", "W76*3"}, "A"},
		{"856 hierarchy", false, "SH", []string{"856*0001", "BSN*00*SHP1*20260101*1200", "HL*1**S", "TD5*B*2*SCAC", "N1*ST*X", "N3*A",
			"HL*2*1*O", "PRF*PO1", "HL*3*2*I", "LIN**VN*X", "SN1**1*EA", "CTT*3"}, "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setResult(t, tt.strict, tt.fg, v, tt.segs...); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestSchemasLoad(t *testing.T) {
	s := DefaultSchemas()
	for _, id := range []string{"204", "990", "214", "210", "940", "945", "943", "944", "947", "846", "856", "850", "810", "997"} {
		for _, v := range []string{"004010", "005010"} {
			sch := s.Lookup(id, v+"X999")
			if sch == nil {
				t.Errorf("no schema %s/%s", id, v)
				continue
			}
			segs := sch.Segments()
			if segs[0] != "ST" || segs[len(segs)-1] != "SE" {
				t.Errorf("%s: segments %v", sch.Name, segs)
			}
		}
	}
	if s.Lookup("999", "005010X231A1") == nil {
		t.Error("no 999")
	}
	if cl := s.Codes("353"); cl == nil || cl.Codes["00"] != "Original" {
		t.Error("code list 353")
	}
	for _, bad := range []string{"set 204 SM 004010 T\n  ST! [0100 N1\n", "set 204 SM 004010 T\n  ST! ]\n", "set 204 SM 004010 T\n  [0100 [0110 N1 ] ]\n", "seg N1 x\n"} {
		if _, err := LoadSchemas(fstest.MapFS{"schemas/a.txt": {Data: []byte(bad)}}); err == nil {
			t.Errorf("schema %q accepted", bad)
		}
	}
}

func Test999Context(t *testing.T) {
	in := wrap("SM", "005010", "204*0001", "B2**SCAC**SHP77**PP", "B2A*00", "S5*1*LD", "N1")
	rep, _ := (&Checker{}).Check(context.Background(), NewReader(strings.NewReader(in)))
	var b strings.Builder
	WriteAcks(context.Background(), &b, rep, AckOptions{Kind: "999"})
	if !strings.Contains(b.String(), "IK3*N1*5*0310*8~CTX*B204>SHP77~IK4*1*98*1~IK5*R*5~") {
		t.Fatalf("999:\n%s", b.String())
	}
	if st := rep.Interchanges[0].Groups[0].Sets[0]; st.Key != "SHP77" || st.KeyRef != "B204" {
		t.Fatalf("key %q %q", st.Key, st.KeyRef)
	}
}
