package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// TestSchema checks the events Wharf writes (the store's message and
// exception events, a sync milestone) against docs/events.schema.json.
func TestSchema(t *testing.T) {
	raw, err := os.ReadFile("../docs/events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	st := testenv.OpenStore(t, "SQLite", store.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	m := &store.Message{PartnerID: "acme", Direction: store.Outbound, Transport: "sftp", RemoteName: "214.x12", Status: lifecycle.StatusWaiting}
	if err := st.InsertMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMessageStatus(ctx, m.ID, lifecycle.StatusDeadLetter); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RaiseException(ctx, &store.Exception{Reason: "delivery", ObjectKind: "message", ObjectKey: m.ID, PartnerID: "acme"}); err != nil {
		t.Fatal(err)
	}
	e := &wsync.Engine{Store: st, Rules: &wsync.Rules{}, Now: func() time.Time { return clock }}
	in := &store.Message{PartnerID: "erp", Direction: store.Inbound, Transport: "folder", RemoteName: "orders.csv", Status: lifecycle.StatusReceived}
	if err := st.InsertMessage(ctx, in); err != nil {
		t.Fatal(err)
	}
	d, err := canonical.Decode([]byte(`{"type":"order","version":"1","order_number":"PO1","references":[{"type":"shipment_id","value":"SH1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, in, 1, d); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AssignOutbox(ctx, 100); err != nil {
		t.Fatal(err)
	}
	rows, err := st.OutboxAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range rows {
		ev, err := events.FromOutbox(r, "")
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(ev.JSON, &v); err != nil {
			t.Fatal(err)
		}
		if err := validate(schema, schema, v, "$"); err != nil {
			t.Errorf("%s does not follow docs/events.schema.json: %v\n%s", ev.Type, err, ev.JSON)
		}
		types = append(types, ev.Type)
	}
	want := []string{"wharf.message.waiting", "wharf.message.dead_letter", "wharf.exception.opened", "wharf.message.received", "wharf.order.created", "wharf.shipment.planned"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
}

// validate checks v against the subset of JSON Schema the events schema
// uses: $ref to $defs, oneOf, const, type (one or a list), required,
// properties with additionalProperties false, items, pattern.
func validate(root, s map[string]any, v any, path string) error {
	if r, ok := s["$ref"].(string); ok {
		return validate(root, root["$defs"].(map[string]any)[strings.TrimPrefix(r, "#/$defs/")].(map[string]any), v, path)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n, last := 0, error(nil)
		for _, a := range alts {
			if err := validate(root, a.(map[string]any), v, path); err == nil {
				n++
			} else {
				last = err
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (last error: %v)", path, n, last)
		}
		return nil
	}
	if c, ok := s["const"]; ok && c != v {
		return fmt.Errorf("%s: %v is not %v", path, v, c)
	}
	var kinds []string
	switch k := s["type"].(type) {
	case string:
		kinds = []string{k}
	case []any:
		for _, x := range k {
			kinds = append(kinds, x.(string))
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	var kind string
	switch x := v.(type) {
	case nil:
		kind = "null"
	case map[string]any:
		kind = "object"
	case []any:
		kind = "array"
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	case float64:
		kind = "number"
		if x == float64(int64(x)) {
			kind = "integer"
		}
	}
	if !slices.Contains(kinds, kind) && !(kind == "integer" && slices.Contains(kinds, "number")) {
		return fmt.Errorf("%s: a %s, not %v", path, kind, kinds)
	}
	switch kind {
	case "object":
		m := v.(map[string]any)
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				return fmt.Errorf("%s: %s is required", path, r)
			}
		}
		for k, x := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s: property %q is not in the schema", path, k)
				}
				continue
			}
			if err := validate(root, ps, x, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v.([]any) {
				if err := validate(root, items, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v.(string)) {
			return fmt.Errorf("%s: %q does not match %s", path, v, p)
		}
	}
	return nil
}
