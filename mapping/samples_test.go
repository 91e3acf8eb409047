package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// The samples of the repository's top-level testdata folder: CSV and
// fixed-width exports with their layouts (testdata/csv/wharf.yaml,
// testdata/fixed/wharf.yaml) and canonical documents. Each README.md there
// says what each file exercises; these tests hold the files to it. Golden
// outputs are under testdata/golden/samples (go test ./mapping -run
// TestSample -update).
const samplesDir = "../testdata"

// sampleLayouts loads the layouts of dir/wharf.yaml the way cmd/wharf
// does (config.Load, then a LayoutSpec per layouts[] entry).
func sampleLayouts(t *testing.T, dir string, p *Profile) map[string]*RecordLayout {
	t.Helper()
	path := filepath.Join(samplesDir, dir, "wharf.yaml")
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(config.ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*RecordLayout{}
	for _, l := range c.Layouts {
		spec := LayoutSpec{Name: l.Name, Format: l.Format, Document: l.Document, Encoding: l.Encoding, Delimiter: l.Delimiter,
			Header: l.Header, DecimalSeparator: l.DecimalSeparator, DateFormat: l.DateFormat, TimeFormat: l.TimeFormat,
			TimeZone: l.TimeZone, GroupBy: l.GroupBy}
		for _, r := range l.Records {
			rs := RecordSpec{Kind: r.Kind, Tag: r.Tag, TagColumn: r.TagColumn, TagStart: r.TagStart, TagLength: r.TagLength}
			for _, f := range r.Fields {
				rs.Fields = append(rs.Fields, FieldSpec{Path: f.Path, Column: f.Column, Header: f.Header, Start: f.Start,
					Length: f.Length, Type: f.Type, Format: f.Format, Scale: f.Scale, Align: f.Align, Pad: f.Pad, Default: f.Default, Value: f.Value})
			}
			spec.Records = append(spec.Records, rs)
		}
		rl, err := NewRecordLayout(spec, p)
		if err != nil {
			t.Fatalf("%s: layout %s: %v", path, l.Name, err)
		}
		out[l.Name] = rl
	}
	return out
}

func sampleProfile(t *testing.T) *Profile {
	t.Helper()
	p, err := NewProfile(ProfileSpec{Partner: "acme", TimeZone: "America/Chicago",
		Envelope: Envelope{SenderQual: "ZZ", SenderID: "WHARF", ReceiverQual: "ZZ", ReceiverID: "ACME"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sampleFiles lists the files of dir that are neither layouts nor README.
func sampleFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(samplesDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && n != "wharf.yaml" && n != "README.md" {
			out = append(out, n)
		}
	}
	return out
}

// checkCovered fails when a file of dir has no test case or is missing
// from dir/README.md.
func checkCovered(t *testing.T, dir string, tested map[string]bool) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(samplesDir, dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sampleFiles(t, dir) {
		if !tested[f] {
			t.Errorf("%s/%s has no test case: add it to the table", dir, f)
		}
		if !bytes.Contains(readme, []byte("`"+f+"`")) {
			t.Errorf("%s/README.md does not describe %s", dir, f)
		}
	}
}

type recordSample struct {
	file   string
	layout string
	docs   int // documents delivered
	// errs are the errors expected, each "LINE:COLUMN: text" (the
	// column as mapping.Position gives it: "3 (dates[order])" for CSV,
	// "27-38 (events[].time)" for fixed width, "" for a whole line).
	errs []string
	// set, when not empty, renders the documents to X12 (golden
	// FILE.SET.x12); renderErrs are the errors expected then, each
	// "DOCUMENT FIELD: text".
	set        string
	renderErrs []string
}

var csvSamples = []recordSample{
	{file: "orders.csv", layout: "erp-orders", docs: 3, set: "850"},
	{file: "orders-bom.csv", layout: "erp-orders", docs: 3},
	{file: "orders-bad-date.csv", layout: "erp-orders", docs: 3,
		errs: []string{`5:9 (dates[requested_delivery]): invalid value: "02/30/2026" does not match the date format "MM/DD/YYYY"`,
			`4:3 (dates[order]): invalid value: "2026-11-25" does not match the date format "MM/DD/YYYY"`,
			`5:3 (dates[order]): invalid value: "2026-11-25" does not match the date format "MM/DD/YYYY"`}},
	{file: "orders-missing-column.csv", layout: "erp-orders", docs: 2, set: "850",
		renderErrs: []string{"order #1 lines[1].quantity.value: required value missing", "order #2 order_number: required value missing"}},
	{file: "orders-embedded-newline.csv", layout: "erp-orders", docs: 1,
		errs: []string{`4:14 (lines[].quantity.value): invalid value: "twelve": not a decimal number`}},
	// The inch mark closes the quoted description early: line 2 is set
	// aside on its own (an error at the line and column where the quoted
	// field starts), the two orders after it are delivered.
	{file: "orders-unterminated-quote.csv", layout: "erp-orders", docs: 2, set: "850",
		errs: []string{`2:13 (lines[].item.description): input cannot be read: csv: line 2 column 13: unbalanced quote: the field quoted from character 108 is closed at character 121 and " zinc,40,cas…" follows instead of the delimiter or the line end (write a quote inside a quoted field as "")`}},
	{file: "shipment-status.csv", layout: "tms-status", docs: 2, set: "214"},
	{file: "inventory-snapshot.tsv", layout: "wms-inventory", docs: 1, set: "846"},
	{file: "invoices.csv", layout: "erp-invoices", docs: 2, set: "810"},
	// The bad price quarantines the first invoice (quoted as written); the
	// trailer is set aside on its own, the second invoice is delivered.
	{file: "invoices-errors.csv", layout: "erp-invoices", docs: 1, set: "810",
		errs: []string{`3:7 (lines[].unit_price): invalid value: "40,62€": not a decimal number`,
			`6:: input cannot be read: csv: line 6: line matches no record of the layout`}},
}

var fixedSamples = []recordSample{
	{file: "carrier-status.txt", layout: "carrier-status", docs: 2, set: "214"},
	// Line 2 ends inside the time, line 4 inside the zero-filled weight:
	// both shipments are quarantined, the weight is never read as 0.03.
	{file: "carrier-status-short-line.txt", layout: "carrier-status", docs: 0,
		errs: []string{`2:27-38 (events[].time): input cannot be read: line ends inside the field: the line has 32 characters, the field is characters 27-38 (read "202611")`,
			`4:61-69 (events[].measures.weight): input cannot be read: line ends inside the field: the line has 65 characters, the field is characters 61-69 (read "00003")`}},
	{file: "orders.txt", layout: "as400-orders", docs: 2, set: "850"},
	// The bad quantity quarantines the first order; the trailer is set
	// aside on its own, the second order is delivered.
	{file: "orders-bad-numeric.txt", layout: "as400-orders", docs: 1, set: "850",
		errs: []string{`3:52-60 (lines[].quantity.value): invalid value: "I2500": not a decimal number (implied decimal)`,
			`6:: input cannot be read: flat: line 6: line matches no record of the layout`}},
}

func TestSampleCSV(t *testing.T)   { testRecordSamples(t, "csv", csvSamples) }
func TestSampleFixed(t *testing.T) { testRecordSamples(t, "fixed", fixedSamples) }

// testRecordSamples maps each sample with its layout and compares the
// documents, errors and outcome with testdata/golden/samples/DIR/FILE.jsonl,
// the errors and their positions with the table, and, for samples with a
// set, the X12 rendering with FILE.SET.x12.
func testRecordSamples(t *testing.T, dir string, samples []recordSample) {
	p := sampleProfile(t)
	layouts := sampleLayouts(t, dir, p)
	tested := map[string]bool{}
	for _, s := range samples {
		tested[s.file] = true
		t.Run(s.file, func(t *testing.T) {
			l := layouts[s.layout]
			if l == nil {
				t.Fatalf("no layout %q in %s/wharf.yaml", s.layout, dir)
			}
			in, err := os.ReadFile(filepath.Join(samplesDir, dir, s.file))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			var docs []canonical.Document
			var got []string
			out, err := FromRecords(context.Background(), bytes.NewReader(in), l, Options{Profile: p,
				Emit: func(d canonical.Document) error { docs = append(docs, d); return enc.Encode(d) },
				OnError: func(e *Error) {
					got = append(got, fmt.Sprintf("%d:%s: %v", e.Pos.Line, e.Pos.Column, e.Err))
					enc.Encode(map[string]any{"error": e})
				}})
			if err != nil {
				t.Fatal(err)
			}
			enc.Encode(map[string]any{"outcome": out})
			if out.Documents != s.docs || len(docs) != s.docs {
				t.Errorf("%s/%s: %d documents, want %d", dir, s.file, out.Documents, s.docs)
			}
			sort.Strings(got)
			want := append([]string(nil), s.errs...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s/%s: errors\n%s\nwant\n%s", dir, s.file, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if s.set != "" {
				edi, errs := renderSample(t, p, s.set, docs)
				var rgot []string
				for _, e := range errs {
					rgot = append(rgot, fmt.Sprintf("%s %s: %v", e.Document, e.Field, e.Err))
					enc.Encode(map[string]any{"render_error": e})
				}
				if strings.Join(rgot, "\n") != strings.Join(s.renderErrs, "\n") {
					t.Errorf("%s/%s: render errors\n%s\nwant\n%s", dir, s.file, strings.Join(rgot, "\n"), strings.Join(s.renderErrs, "\n"))
				}
				golden(t, filepath.Join("samples", dir, s.file+"."+s.set+".x12"), edi)
			}
			golden(t, filepath.Join("samples", dir, s.file+".jsonl"), buf.Bytes())
		})
	}
	checkCovered(t, dir, tested)
}

// renderSample renders docs as one interchange, collecting the errors of
// the documents left out.
func renderSample(t *testing.T, p *Profile, set string, docs []canonical.Document) ([]byte, []*Error) {
	t.Helper()
	var buf bytes.Buffer
	r, err := NewX12Renderer(x12.NewWriter(&buf), RenderOptions{Profile: p, Set: set, Numbers: &x12.MemoryControlNumbers{}, Now: fixedNow, Newline: true})
	if err != nil {
		t.Fatal(err)
	}
	var all []*Error
	for _, d := range docs {
		errs, err := r.Render(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, errs...)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), all
}

// canonicalSamples are the documents of testdata/canonical and the X12 set
// each renders to ("" for documents X12 only brings in: 947, 997/999).
var canonicalSamples = []struct {
	file, set string
	delims    x12.Delimiters // the delimiters the interchange must declare (zero: the default)
}{
	{file: "order.json", set: "850"},
	{file: "shipment-free-text.json", set: "204", delims: delimiterSets[2]}, // ':' and '>' in the data
	{file: "shipment-status-pod.json", set: "214"},
	{file: "invoice.json", set: "810"},
	{file: "freight-invoice.json", set: "210"},
	{file: "inventory-receipt.json", set: "944"},
	{file: "inventory-balance.json", set: "846"},
	{file: "inventory-adjustment.json"},
	{file: "acknowledgment.json"},
	{file: "master-items.json"},
}

// TestSampleCanonical decodes each canonical sample (mapping/canonical's
// TestSampleSchema validates them against docs/canonical.schema.json),
// renders it to its X12 set, compares with
// testdata/golden/samples/canonical/FILE.SET.x12 and maps the X12 back:
// the document must survive the round trip.
func TestSampleCanonical(t *testing.T) {
	p := sampleProfile(t)
	tested := map[string]bool{}
	for _, s := range canonicalSamples {
		tested[s.file] = true
		t.Run(s.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(samplesDir, "canonical", s.file))
			if err != nil {
				t.Fatal(err)
			}
			d, err := canonical.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if s.set == "" {
				for _, set := range OutboundSets() {
					if typ, _, _ := SetFor(set); typ == d.Head().Type && d.Head().Type != canonical.TypeInventoryMovement {
						t.Errorf("%s has an outbound set (%s): give it in the table", s.file, set)
					}
				}
				return
			}
			want := jsonOf(t, d)
			edi, errs := renderSample(t, p, s.set, []canonical.Document{d})
			if len(errs) > 0 {
				t.Fatalf("render: %v", errs)
			}
			golden(t, filepath.Join("samples", "canonical", s.file+"."+s.set+".x12"), edi)
			wd := s.delims
			if wd.Element == 0 {
				wd = x12.DefaultDelimiters
			}
			if got := isaDelims(t, edi); got != in4010(wd) {
				t.Errorf("ISA declares %+v, want %+v", got, in4010(wd))
			}
			back, _ := mapAll(t, p, edi)
			if len(back) != 1 {
				t.Fatalf("mapped back %d documents", len(back))
			}
			back[0].Head().Source = nil
			if got := jsonOf(t, back[0]); got != want {
				t.Errorf("round trip:\nwant %s\ngot  %s", want, got)
			}
		})
	}
	checkCovered(t, "canonical", tested)
}

// TestSampleErrorsNameTheFile: what an operator reads for a bad sample
// line: the file, the line and the column (or field positions).
func TestSampleErrorsNameTheFile(t *testing.T) {
	p := sampleProfile(t)
	for _, tc := range []struct{ dir, file, layout, want string }{
		{"csv", "orders-bad-date.csv", "erp-orders", `orders-bad-date.csv: mapping: partner acme: order at line 4: dates[order] at line 4, column 3 (dates[order]): invalid value`},
		{"fixed", "orders-bad-numeric.txt", "as400-orders", `orders-bad-numeric.txt: mapping: partner acme: order at line 1: lines[].quantity.value at line 3, column 52-60 (lines[].quantity.value): invalid value`},
	} {
		l := sampleLayouts(t, tc.dir, p)[tc.layout]
		f, err := os.Open(filepath.Join(samplesDir, tc.dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		_, err = FromRecords(context.Background(), f, l, Options{Profile: p, OnError: func(e *Error) {
			if errors.Is(e, ErrBadValue) {
				msgs = append(msgs, filepath.Base(f.Name())+": "+e.Error())
			}
		}})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 || !strings.HasPrefix(msgs[0], tc.want) {
			t.Errorf("%s: first error %q, want it to start %q", tc.file, msgs, tc.want)
		}
	}
}
