package testenv

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ValidateJSON checks v (decoded by encoding/json into any) against the
// subset of JSON Schema that Wharf's published schemas use
// (docs/canonical.schema.json, docs/events.schema.json): $ref to $defs,
// oneOf, const, type (one or a list), required, properties with
// additionalProperties false, items, pattern. It names the first place
// that does not follow the schema, as a JSON path from "$".
func ValidateJSON(schema map[string]any, v any) error { return validateJSON(schema, schema, v, "$") }

func validateJSON(root, s map[string]any, v any, path string) error {
	if r, ok := s["$ref"].(string); ok {
		return validateJSON(root, root["$defs"].(map[string]any)[strings.TrimPrefix(r, "#/$defs/")].(map[string]any), v, path)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n, last := 0, error(nil)
		for _, a := range alts {
			if err := validateJSON(root, a.(map[string]any), v, path); err == nil {
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
			if err := validateJSON(root, ps, x, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range v.([]any) {
				if err := validateJSON(root, items, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
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
