package jsonschema

import (
	"encoding/json"
	"errors"
	"testing"
)

const testSchema = `{
  "$defs": {
    "Order": {"type": "object", "additionalProperties": false, "required": ["type", "order_number"],
      "properties": {"type": {"const": "order"}, "order_number": {"type": "string"},
        "total": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}}},
    "Line": {"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer"}, "note": {"type": ["string", "null"]}}},
    "Note": {"type": "object", "required": ["type"], "properties": {"type": {"const": "note"}}}
  },
  "oneOf": [{"$ref": "#/$defs/Order"}, {"$ref": "#/$defs/Note"}]
}`

func TestValidate(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal([]byte(testSchema), &schema); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		doc, def, want string // want: "" valid, else the error
	}{
		{`{"type": "order", "order_number": "1", "total": "12.50", "lines": [{"qty": 2, "note": null}]}`, "Order", ""},
		{`{"type": "note"}`, "", ""},
		{`{"type": "order"}`, "Order", "$.order_number: required"},
		{`{"type": "order", "order_number": "1", "total": "12,5"}`, "Order", `$.total: "12,5" does not match ^[0-9]+(\.[0-9]+)?$`},
		{`{"type": "order", "order_number": 7}`, "Order", "$.order_number: an integer, not string"},
		{`{"type": "order", "order_number": "1", "lines": [{"qty": 1}, {"qty": 1.5}]}`, "Order", "$.lines[1].qty: a number, not integer"},
		{`{"type": "order", "order_number": "1", "zeta": 1, "alpha": 2}`, "Order", "$.alpha: not in the schema"},
		{`{"type": "invoice"}`, "Order", "$.order_number: required"},
		{`{"type": "order", "order_number": "1", "lines": [{"note": 3}]}`, "Order", "$.lines[0].qty: required"},
		{`[]`, "Order", "$: an array, not object"},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.doc), &v); err != nil {
			t.Fatal(err)
		}
		var err error
		if c.def == "" {
			err = Validate(schema, v)
		} else {
			err = ValidateDef(schema, c.def, v)
		}
		got := ""
		if err != nil {
			got = err.Error()
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%s: %T is not an *Error", c.doc, err)
			}
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.doc, got, c.want)
		}
	}
	var v any
	_ = json.Unmarshal([]byte(`{"type": "other"}`), &v)
	if err := Validate(schema, v); err == nil {
		t.Error("a document of no oneOf branch passed")
	}
	if err := ValidateDef(schema, "Nope", v); err == nil {
		t.Error("an unknown definition passed")
	}
}
