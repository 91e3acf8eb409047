package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
)

func runWith(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

const mapConfig = `partners:
  - id: acme
    x12_ids: ["ZZ:ACME"]
    mapping:
      timezone: America/Chicago
      codes:
        references: ["DJ=load_id"]
  - id: strict
    x12_ids: ["ZZ:STRICT"]
    mapping:
      policy: reject
  - id: pinned
    x12_ids: ["ZZ:PINNED"]
    mapping:
      x12: {delimiters: "*:^~"}
layouts:
  - name: orders
    format: csv
    document: order
    header: true
    group_by: order_number
    records:
      - fields:
          - {path: order_number, column: 1, header: PO}
          - {path: "lines[].item.ids[sku]", column: 2, header: SKU}
          - {path: "lines[].quantity.value", column: 3, header: QTY, type: decimal}
`

func mapSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(cfg, []byte(mapConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WHARF_CONFIG", cfg)
	t.Setenv("WHARF_DATA", filepath.Join(dir, "data"))
	return dir
}

func TestMapAndRenderX12(t *testing.T) {
	mapSetup(t)
	out, errs, code := runWith(t, "", "map", "--partner", "acme", corpusFile("004010/204.edi"))
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"type":"shipment"`) ||
		!strings.Contains(out, `{"type":"load_id","value":"ACME-LD-666555"}`) || !strings.Contains(out, `"2026-03-11T07:00:00-05:00"`) {
		t.Fatalf("map: code %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// Render it back for the partner twice: persistent control numbers
	// advance; the partner's code table turns load_id into DJ; the free text
	// "Shippers Reference: 3PHT04417" renders although ':' is a common
	// component separator.
	x1, errs, code := runWith(t, out, "render", "--to", "x12:204", "--partner", "acme")
	if code != 0 || !strings.HasPrefix(x1, "ISA*00*") || !strings.Contains(x1, "*ZZ*ACME           *") || !strings.Contains(x1, "L11*ACME-LD-666555*DJ~") ||
		!strings.Contains(x1, "NTE**Shippers Reference: 3PHT04417~") ||
		!strings.Contains(x1, "IEA*1*000000001~") {
		t.Fatalf("render: code %d\nstdout %s\nstderr %s", code, x1, errs)
	}
	// A partner that pins ':' as its component separator cannot receive
	// that text: a clear error naming the element, not a broken file.
	if x, errs, code := runWith(t, out, "render", "--to", "x12:204", "--partner", "pinned"); code != 1 || x != "" ||
		!strings.Contains(errs, "partner pinned") || !strings.Contains(errs, "NTE02") || !strings.Contains(errs, "Shippers Reference: 3PHT04417") {
		t.Fatalf("render with pinned delimiters: code %d\nstdout %s\nstderr %s", code, x, errs)
	}
	x2, _, _ := runWith(t, out, "render", "--to", "x12:204", "--partner", "acme", "-")
	if !strings.Contains(x2, "IEA*1*000000002~") || !strings.Contains(x2, "GE*1*2~") {
		t.Fatalf("second render did not take the next control numbers:\n%s", x2)
	}
	// And map what was rendered: the same document (source aside).
	back, errs, code := runWith(t, x1, "map", "--partner", "acme", "-")
	d1, _ := canonical.Decode([]byte(out))
	d2, err := canonical.Decode([]byte(back))
	if code != 0 || err != nil {
		t.Fatalf("map back: %d %v %s", code, err, errs)
	}
	d1.Head().Source, d2.Head().Source = nil, nil
	if !reflect.DeepEqual(jsonString(t, d1), jsonString(t, d2)) {
		t.Errorf("round trip through the CLI differs:\n%s\n%s", jsonString(t, d1), jsonString(t, d2))
	}
}

func jsonString(t *testing.T, d canonical.Document) string {
	var b bytes.Buffer
	if err := newEncoder(&b).Encode(d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMapErrorsAndPolicy(t *testing.T) {
	mapSetup(t)
	// A 204 without B204 passes the X12 checker but cannot be mapped:
	// quarantined, exit 1, message with partner and position.
	out, errs, code := runWith(t, "", "map", "--partner", "acme", corpusFile("mapping/204-no-shipment-id.edi"))
	if code != 1 || out != "" || !strings.Contains(errs, "partner acme: 204 ") || !strings.Contains(errs, "shipment_id") ||
		!strings.Contains(errs, "interchange ") || !strings.Contains(errs, "1 quarantined") {
		t.Fatalf("code %d\nstdout %s\nstderr %s", code, out, errs)
	}
	// Reject policy: one bad set and nothing is written, even the good ones.
	good, _ := os.ReadFile(corpusFile("004010/204-minimal.edi"))
	bad, _ := os.ReadFile(corpusFile("mapping/204-no-shipment-id.edi"))
	out, errs, code = runWith(t, string(good)+"\n"+string(bad), "map", "--partner", "strict", "-")
	if code != 1 || out != "" || !strings.Contains(errs, "file rejected") {
		t.Fatalf("reject: code %d\nstdout %q\nstderr %s", code, out, errs)
	}
	out, _, code = runWith(t, string(good), "map", "--partner", "strict", "-")
	if code != 0 || !strings.Contains(out, `"shipment"`) {
		t.Fatalf("good file under reject policy: %d %s", code, out)
	}
	for _, args := range [][]string{{"map"}, {"map", "--from", "xlsx:foo", "a"}, {"map", "--from", "csv:nope", "a"}, {"render"},
		{"render", "--to", "x12:315"}, {"map", "does-not-exist.edi"}, {"render", "--to", "csv:nope"}} {
		if _, _, code := runWith(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	_, errs, code = runWith(t, `{"type":"invoice","invoice_number":"1"}`+"\n", "render", "--to", "x12:204", "--partner", "acme")
	if code != 1 || !strings.Contains(errs, "line 1") || !strings.Contains(errs, "takes shipment documents") {
		t.Fatalf("wrong document type: %d %s", code, errs)
	}
}

func TestMapRenderCSV(t *testing.T) {
	mapSetup(t)
	in := "PO,SKU,QTY\r\nPO1,A,1\r\nPO1,B,2.5\r\nPO2,C,3\r\n"
	out, errs, code := runWith(t, in, "map", "--from", "csv:orders", "-")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"lines":[{"item":{"ids":[{"type":"sku","value":"A"}]},"quantity":{"value":"1"}},{"item":{"ids":[{"type":"sku","value":"B"}]},"quantity":{"value":"2.5"}}]`) {
		t.Fatalf("map csv: %d\n%s\n%s", code, out, errs)
	}
	csvOut, errs, code := runWith(t, out, "render", "--to", "csv:orders")
	if code != 0 || csvOut != in {
		t.Fatalf("render csv: %d\n%q\nwant %q\n%s", code, csvOut, in, errs)
	}
}

// The configuration's code tables are mapping's.
func TestConfigNamesMatchMapping(t *testing.T) {
	var names []string
	for n := range (config.CodeTables{References: []string{"a=b"}, Parties: []string{"a=b"}, Dates: []string{"a=b"}, DTM: []string{"a=b"},
		Status: []string{"a=b"}, Reasons: []string{"a=b"}, Units: []string{"a=b"}, Weight: []string{"a=b"}, Volume: []string{"a=b"},
		Equipment: []string{"a=b"}, Payment: []string{"a=b"}, Mode: []string{"a=b"}, Stops: []string{"a=b"}, Purpose: []string{"a=b"},
		W05: []string{"a=b"}, Action: []string{"a=b"}, Items: []string{"a=b"}, Levels: []string{"a=b"}, Quantities: []string{"a=b"},
		OrderTypes: []string{"a=b"}}).Tables() {
		names = append(names, n)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, mapping.TableNames()) {
		t.Errorf("config code tables %v\nmapping tables      %v", names, mapping.TableNames())
	}
}

// Without --partner, the interchange's sender picks the partner's dialect.
func TestMapPartnerFromSender(t *testing.T) {
	dir := mapSetup(t)
	cfg := strings.Replace(mapConfig, `x12_ids: ["ZZ:ACME"]`, `x12_ids: ["ZZ:ACME", "14:ACME000111111"]`, 1)
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600)
	in, _ := os.ReadFile(corpusFile("004010/204.edi"))
	// The same tender from the partner's second ID: its code table applies.
	in = bytes.Replace(in, []byte("*ZZ*ACME           *"), []byte("*14*ACME000111111  *"), 1)
	out, errs, code := runWith(t, string(in), "map", "-")
	if code != 0 || !strings.Contains(out, `"partner":"acme"`) || !strings.Contains(out, `{"type":"load_id","value":"ACME-LD-666555"}`) {
		t.Fatalf("code %d\n%s\n%s", code, out, errs)
	}
}
