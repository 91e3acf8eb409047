package canonical

import (
	"reflect"
	"strings"
	"sync"
)

// Keys are a document's business keys, for indexing and search: its
// references, then its own identifiers: every string field whose JSON
// name is a reference type (shipment_id, order_number, invoice_number,
// load_id), so that a 214 or a 990 is found by the shipment it is about,
// not only by the PRO and BOL it carries. Empty values and repeats are
// left out; RefOther is kept (its Qualifier says what it is).
func Keys(d Document) []Reference {
	h := d.Head()
	out := make([]Reference, 0, len(h.References)+2)
	seen := map[Reference]bool{}
	add := func(r Reference) {
		k := Reference{Type: r.Type, Value: r.Value}
		if r.Value == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, r)
	}
	for _, r := range h.References {
		add(r)
	}
	v := reflect.ValueOf(d)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return out
	}
	for _, f := range idFields(v.Type()) {
		add(Reference{Type: f.ref, Value: v.Field(f.index).String()})
	}
	return out
}

type idField struct {
	index int
	ref   string
}

var idFieldsOf sync.Map // reflect.Type -> []idField

// idFields are the top-level string fields of t named (in JSON) after a
// reference type.
func idFields(t reflect.Type) []idField {
	if v, ok := idFieldsOf.Load(t); ok {
		return v.([]idField)
	}
	var out []idField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() == reflect.String && keyRefs[name] {
			out = append(out, idField{index: i, ref: name})
		}
	}
	idFieldsOf.Store(t, out)
	return out
}

// keyRefs are the reference types a document's own fields can carry.
var keyRefs = map[string]bool{RefShipmentID: true, RefLoadID: true, RefInvoiceNumber: true, RefOrderNumber: true, RefWarehouse: true}
