package canonical

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wharfedi/wharf/internal/jsonschema"
)

// TestSampleSchema validates the canonical documents of the repository's
// testdata/canonical (one JSON document per file) and the documents mapped
// from its CSV and fixed-width samples (mapping's golden outputs) against
// docs/canonical.schema.json, and checks that Decode reads each sample.
func TestSampleSchema(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	// Documents mapped from rows that lack a column the schema requires:
	// mapping delivers them (a quantity {"value": ""}); rendering them to
	// X12 is where they fail (ErrMissing). Listed so a change shows.
	invalid := map[string]string{
		"../testdata/golden/samples/csv/orders-missing-column.csv.jsonl:1":     "lines[1].quantity.value",
		"../testdata/golden/samples/csv/orders-unterminated-quote.csv.jsonl:1": "lines[0].quantity.value",
	}
	check := func(where string, b []byte) {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if _, doc := v["type"]; !doc {
			return // error, outcome and render_error lines of the golden files
		}
		err := jsonschema.Validate(schema, v)
		if _, bad := invalid[where]; bad {
			if err == nil {
				t.Errorf("%s: valid now: remove it from the list of invalid documents", where)
			}
		} else if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if _, err := Decode(b); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	samples, _ := filepath.Glob("../../testdata/canonical/*.json")
	if len(samples) < 5 {
		t.Fatalf("only %d samples in testdata/canonical", len(samples))
	}
	types := map[string]bool{}
	for _, f := range samples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check(f, b)
		var h Header
		json.Unmarshal(b, &h)
		types[h.Type] = true
	}
	for _, typ := range []string{TypeOrder, TypeShipment, TypeShipmentStatus, TypeInvoice, TypeFreightInvoice, TypeInventoryMovement} {
		if !types[typ] {
			t.Errorf("no %s in testdata/canonical", typ)
		}
	}
	mapped, _ := filepath.Glob("../testdata/golden/samples/*/*.jsonl")
	n := 0
	eachLine(t, mapped, func(where string, line []byte) {
		if bytes.HasPrefix(line, []byte(`{"type":`)) {
			n++
		}
		check(where, line)
	})
	if n < 10 {
		t.Fatalf("validated only %d mapped documents", n)
	}
}
