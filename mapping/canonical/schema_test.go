package canonical

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/jsonschema"
)

var update = flag.Bool("update", false, "rewrite docs/canonical.schema.json from the Go types")

const schemaPath = "../../docs/canonical.schema.json"

const (
	decimalPattern = `^-?([0-9]+\.?[0-9]*|\.[0-9]+)$`
	timePattern    = `^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$`
)

var docTypes = map[string]reflect.Type{}

func init() {
	for _, t := range Types {
		docTypes[t] = reflect.TypeOf(New(t)).Elem()
	}
}

// schemaOf builds the JSON Schema of the canonical documents from the Go
// types, so the schema cannot drift from the code.
func schemaOf() map[string]any {
	defs := map[string]any{}
	var ref func(t reflect.Type) map[string]any
	ref = func(t reflect.Type) map[string]any {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t {
		case reflect.TypeOf(Decimal("")):
			return map[string]any{"type": "string", "pattern": decimalPattern}
		case reflect.TypeOf(Time{}):
			return map[string]any{"type": "string", "pattern": timePattern, "description": "RFC 3339 time with zone, or YYYY-MM-DD"}
		}
		switch t.Kind() {
		case reflect.String:
			return map[string]any{"type": "string"}
		case reflect.Int, reflect.Int64:
			return map[string]any{"type": "integer"}
		case reflect.Bool:
			return map[string]any{"type": "boolean"}
		case reflect.Slice:
			return map[string]any{"type": "array", "items": ref(t.Elem())}
		case reflect.Struct:
			if _, ok := defs[t.Name()]; !ok {
				defs[t.Name()] = nil // placeholder against recursion
				props, req := map[string]any{}, []string{}
				var walk func(t reflect.Type)
				walk = func(t reflect.Type) {
					for i := 0; i < t.NumField(); i++ {
						f := t.Field(i)
						if f.Anonymous {
							walk(f.Type)
							continue
						}
						name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
						if name == "" || name == "-" {
							continue
						}
						props[name] = ref(f.Type)
						if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
							req = append(req, name)
						}
					}
				}
				walk(t)
				sort.Strings(req)
				def := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
				if len(req) > 0 {
					def["required"] = req
				}
				defs[t.Name()] = def
			}
			return map[string]any{"$ref": "#/$defs/" + t.Name()}
		}
		panic("schema: unhandled " + t.String())
	}
	var one []any
	for _, typ := range Types {
		r := ref(docTypes[typ])
		def := defs[docTypes[typ].Name()].(map[string]any)
		def["properties"].(map[string]any)["type"] = map[string]any{"const": typ}
		def["properties"].(map[string]any)["version"] = map[string]any{"const": Version}
		one = append(one, r)
	}
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/wharfedi/wharf/docs/canonical.schema.json",
		"title":       "Wharf canonical logistics document, version " + Version,
		"description": "One line of the JSON Lines written by `wharf map` and read by `wharf render`. Generated from mapping/canonical by `go test ./mapping/canonical -update`.",
		"oneOf":       one,
		"$defs":       defs,
	}
}

func TestSchemaFile(t *testing.T) {
	b, err := json.MarshalIndent(schemaOf(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(schemaPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(schemaPath)
	if err != nil || !bytes.Equal(have, b) {
		t.Fatalf("%s is not the schema of the Go types (go test ./mapping/canonical -update): %v", schemaPath, err)
	}
}

// TestGoldenValidate checks every document of the golden outputs and
// canonical examples against docs/canonical.schema.json.
func TestGoldenValidate(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	n := 0
	eachLine(t, corpusDocuments(t), func(where string, line []byte) {
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatal(err)
		}
		if _, doc := v["type"]; !doc {
			return // error and outcome lines
		}
		n++
		if err := jsonschema.Validate(schema, v); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	})
	if n < 20 {
		t.Fatalf("validated only %d documents", n)
	}
	// The validator can fail.
	bad := map[string]any{"type": "order", "version": "1", "order_number": "1", "total": "12,5"}
	if jsonschema.Validate(schema, bad) == nil {
		t.Error("a decimal comma passed validation")
	}
}

// corpusDocuments lists the mapped goldens of the X12 corpus (one folder per
// corpus folder) and the canonical examples.
func corpusDocuments(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../testdata/golden/x12/*/*.jsonl")
	if len(files) < 30 {
		t.Fatalf("only %d mapped goldens found under ../testdata/golden/x12", len(files))
	}
	ex, _ := filepath.Glob("../testdata/canonical/*.jsonl")
	return append(files, ex...)
}

// eachLine calls f with every line of the files and its place (file:line).
func eachLine(t *testing.T, files []string, f func(where string, line []byte)) {
	t.Helper()
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for line := 1; sc.Scan(); line++ {
			f(name+":"+strconv.Itoa(line), sc.Bytes())
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
