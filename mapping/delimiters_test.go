package mapping

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// shipmentWith is a small 204 whose first reference (L1101) holds ref and
// whose note (NTE02) holds note.
func shipmentWith(t *testing.T, ref, note string) canonical.Document {
	t.Helper()
	d, err := canonical.Decode([]byte(`{"type":"shipment","version":"1","purpose":"original","shipment_id":"SHP1","carrier":"ABCD","payment_method":"prepaid",
		"references":[{"type":"customer_reference","value":"CR1"}],
		"stops":[{"sequence":1,"reason":"load","location":{"role":"ship_from","name":"DC 1"}},
		         {"sequence":2,"reason":"unload","location":{"role":"ship_to","name":"STORE 7"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := d.(*canonical.Shipment)
	if ref != "" {
		s.References[0].Value = ref
	}
	if note != "" {
		s.Notes = []string{note}
	}
	return d
}

func delimProfile(t *testing.T, version string, pinned x12.Delimiters) *Profile {
	t.Helper()
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago",
		Envelope: Envelope{SenderQual: "ZZ", SenderID: "WHARF", ReceiverQual: "ZZ", ReceiverID: "ACME", Version: version, Delimiters: pinned}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// isaDelims reads the delimiters an interchange declares in its ISA.
func isaDelims(t *testing.T, b []byte) x12.Delimiters {
	t.Helper()
	if len(b) < 106 || !bytes.HasPrefix(b, []byte("ISA")) {
		t.Fatalf("no ISA at the start of %q", b)
	}
	d := x12.Delimiters{Element: b[3], Component: b[104], Segment: b[105]}
	if string(b[84:89]) >= "00402" {
		d.Repetition = b[82]
	}
	return d
}

// in4010 is d as an 004010 ISA declares it: without repetition separator.
func in4010(d x12.Delimiters) x12.Delimiters {
	d.Repetition = 0
	return d
}

func TestRenderPicksDelimiters(t *testing.T) {
	sets := DelimiterSets()
	control := sets[len(sets)-1]
	tests := []struct {
		name      string
		version   string
		ref, note string
		want      x12.Delimiters
	}{
		{"plain text keeps the default", "", "3PHT0XXXX", "HANDLE WITH CARE", x12.DefaultDelimiters},
		{"colon", "", "Shippers Reference: 3PHT0XXXX", "", sets[1]},
		{"greater-than keeps the default", "", "A>B", "", x12.DefaultDelimiters},
		{"colon and greater-than", "", "Ref: 7", "pallets > 3", sets[2]},
		{"asterisk", "", "", "**FRAGILE**", sets[3]},
		{"asterisk and tilde", "", "~approx 40", "**FRAGILE**", sets[9]},
		{"tilde", "", "~approx 40", "", sets[6]},
		{"every printable delimiter", "", `a:b>c\d`, "x|y*z~", control},
		{"caret in 004010 is data", "", "A^B", "", x12.DefaultDelimiters},
		{"caret in 005010 is a repetition separator", "005010", "A^B", "", control},
		{"colon in 005010", "005010", "Shippers Reference: 3PHT0XXXX", "", sets[1]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := delimProfile(t, tc.version, x12.Delimiters{})
			doc := shipmentWith(t, tc.ref, tc.note)
			want := jsonOf(t, doc)
			var buf bytes.Buffer
			r, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: "204", Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow, Newline: true})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := r.Render(context.Background(), doc)
			if err != nil || len(errs) > 0 {
				t.Fatalf("Render = %v, %v", errs, err)
			}
			if got := r.Delimiters(); got != tc.want {
				t.Errorf("Delimiters() = %+v, want %+v", got, tc.want)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			want4 := tc.want
			if tc.version == "" {
				want4 = in4010(want4)
			}
			if got := isaDelims(t, buf.Bytes()); got != want4 {
				t.Errorf("ISA declares %+v, want %+v", got, want4)
			}
			back, out := mapAll(t, p, buf.Bytes())
			if len(back) != 1 || out.Documents != 1 {
				t.Fatalf("mapped back %d documents: %s", len(back), buf.Bytes())
			}
			back[0].Head().Source = nil
			if got := jsonOf(t, back[0]); got != want {
				t.Errorf("round trip:\nwant %s\ngot  %s\n%q", want, got, buf.Bytes())
			}
		})
	}
}

// TestRenderDelimitersSeeAllDocuments: a value in the last document
// decides the delimiters of the whole interchange, and a document that
// no set fits together with the others is quarantined alone.
func TestRenderDelimitersSeeAllDocuments(t *testing.T) {
	p := delimProfile(t, "", x12.Delimiters{})
	docs := []canonical.Document{
		shipmentWith(t, "PLAIN", ""),
		shipmentWith(t, "", "bell \x1c here"),        // rules out the control characters
		shipmentWith(t, `a:b>c\d`, "x|y*z~"),         // fits only the control characters: quarantined
		shipmentWith(t, "Shippers Reference: 3", ""), // ':' → '>'
	}
	var buf bytes.Buffer
	r, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: "204", Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		errs, err := r.Render(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		if (len(errs) > 0) != (i == 2) {
			t.Fatalf("document %d: errors %v", i, errs)
		}
		if i == 2 {
			e := errs[0]
			if !errors.Is(e, ErrBadValue) || e.Field != "L1101" || e.Pos.SegmentID != "L11" || e.Pos.Element != 1 ||
				!strings.Contains(e.Error(), "no delimiter set fits") || !strings.Contains(e.Error(), "partner acme") {
				t.Errorf("error = %v (%+v)", e, e.Pos)
			}
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := isaDelims(t, buf.Bytes()), in4010(DelimiterSets()[1]); got != want {
		t.Errorf("ISA declares %+v, want %+v", got, want)
	}
	if r.Documents != 3 || len(r.Quarantined) != 1 {
		t.Errorf("outcome %+v", r.Outcome)
	}
	back, _ := mapAll(t, p, buf.Bytes())
	if len(back) != 3 {
		t.Fatalf("mapped back %d documents", len(back))
	}
	for i, j := range []int{0, 1, 3} {
		back[i].Head().Source = nil
		if a, b := jsonOf(t, docs[j]), jsonOf(t, back[i]); a != b {
			t.Errorf("document %d:\nwant %s\ngot  %s", j, a, b)
		}
	}
}

func TestRenderPinnedDelimiters(t *testing.T) {
	const value = "Shippers Reference: 3PHT0XXXX"
	tests := []struct {
		name     string
		profile  x12.Delimiters // Envelope.Delimiters
		options  x12.Delimiters // RenderOptions.Delimiters
		writer   x12.Delimiters // x12.Writer.Delimiters
		ref      string
		note     string
		wantErr  string // "" : rendered
		wantElem int
		wantSeg  string
	}{
		{name: "profile pins the default, value holds the component separator", profile: x12.DefaultDelimiters, ref: value,
			wantErr: `"Shippers Reference: 3PHT0XXXX" holds ':' at byte 19, the component separator of the delimiters pinned by the partner profile`, wantSeg: "L11", wantElem: 1},
		{name: "element separator in a note", profile: x12.DefaultDelimiters, note: "**FRAGILE**",
			wantErr: `holds '*' at byte 1, the element separator`, wantSeg: "NTE", wantElem: 2},
		{name: "segment terminator", profile: x12.Delimiters{Element: '|', Component: '>', Segment: '~'}, note: "~40",
			wantErr: `holds '~' at byte 1, the segment terminator`, wantSeg: "NTE", wantElem: 2},
		{name: "render options pin", options: x12.DefaultDelimiters, ref: value,
			wantErr: "pinned by the render options", wantSeg: "L11", wantElem: 1},
		{name: "writer pins", writer: x12.DefaultDelimiters, ref: value,
			wantErr: "pinned by the X12 writer", wantSeg: "L11", wantElem: 1},
		{name: "pinned set that fits", profile: x12.Delimiters{Element: '*', Component: '>', Repetition: '^', Segment: '~'}, ref: value},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := delimProfile(t, "", tc.profile)
			var buf bytes.Buffer
			w := x12.NewWriter(&buf)
			w.Delimiters = tc.writer
			r, err := NewX12Renderer(w, RenderOptions{Profile: p, Set: "204", Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow, Delimiters: tc.options})
			if err != nil {
				t.Fatal(err)
			}
			errs, err := r.Render(context.Background(), shipmentWith(t, tc.ref, tc.note))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("errors %v", errs)
				}
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
				if got := isaDelims(t, buf.Bytes()); got != in4010(tc.profile) {
					t.Errorf("ISA declares %+v, want %+v", got, tc.profile)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			e := errs[0]
			msg := e.Error()
			t.Log(msg)
			if !errors.Is(e, ErrBadValue) || e.Partner != "acme" || e.Pos.SegmentID != tc.wantSeg || e.Pos.Element != tc.wantElem ||
				e.Pos.SetPosition < 2 || !strings.Contains(msg, tc.wantErr) || !strings.HasPrefix(msg, "mapping: partner acme: shipment #1: "+tc.wantSeg) {
				t.Errorf("error = %s (%+v)", msg, e.Pos)
			}
			if err := r.Close(); err != nil || buf.Len() != 0 {
				t.Errorf("Close = %v, wrote %q", err, buf.Bytes())
			}
		})
	}
}

func TestRenderDelimitersEnvelope(t *testing.T) {
	p := delimProfile(t, "", x12.Delimiters{})
	p.Envelope.ReceiverID = "ACME:1"
	var buf bytes.Buffer
	r, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: "204", Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Delimiters(); got != DelimiterSets()[1] {
		t.Errorf("an envelope ID with ':' gives %+v", got)
	}
	p = delimProfile(t, "", x12.DefaultDelimiters)
	p.Envelope.ReceiverID = "ACME:1"
	if _, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: "204"}); err == nil || !strings.Contains(err.Error(), "ISA08") {
		t.Errorf("pinned delimiters in an envelope ID: %v", err)
	}
	p = delimProfile(t, "", x12.Delimiters{Element: '*', Component: 'A', Segment: '~'})
	if _, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: "204"}); err == nil || !strings.Contains(err.Error(), "letter") {
		t.Errorf("a letter as delimiter: %v", err)
	}
}

// BenchmarkX12Render renders 500 204s with the delimiters picked (the
// documents held until Close) and pinned (written as rendered).
func BenchmarkX12Render(b *testing.B) {
	g := &gen{r: rand.New(rand.NewSource(1)), loc: DefaultProfile().Location}
	docs := make([]canonical.Document, 500)
	for i := range docs {
		docs[i] = g.doc("204")
	}
	for _, bc := range []struct {
		name string
		d    x12.Delimiters
	}{{"picked", x12.Delimiters{}}, {"pinned", x12.DefaultDelimiters}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for i := 0; i < b.N; i++ {
				buf.Reset()
				r, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Set: "204", Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow, Delimiters: bc.d})
				if err != nil {
					b.Fatal(err)
				}
				for _, d := range docs {
					if errs, err := r.Render(context.Background(), d); err != nil || len(errs) > 0 {
						b.Fatal(errs, err)
					}
				}
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}
