// Package jsonschema checks decoded JSON against the subset of JSON Schema
// that Wharf's published schemas use (docs/canonical.schema.json,
// docs/events.schema.json): $ref to $defs, oneOf, const, type (one or a
// list), required, properties with additionalProperties false, items,
// pattern. Nothing else of JSON Schema is read. It names the first place
// that does not follow the schema, as a JSON path from "$"; properties are
// checked in name order, so the same input always gets the same answer.
package jsonschema

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Error is where a value does not follow its schema, and why.
type Error struct {
	Path   string // JSON path from "$": $.items[0].quantities
	Reason string
}

func (e *Error) Error() string { return e.Path + ": " + e.Reason }

// Validate checks v (decoded by encoding/json into any) against schema;
// the error is an *Error.
func Validate(schema map[string]any, v any) error {
	if err := validate(schema, schema, v, "$"); err != nil {
		return err
	}
	return nil
}

// ValidateDef checks v against the definition name of root's $defs.
func ValidateDef(root map[string]any, name string, v any) error {
	defs, _ := root["$defs"].(map[string]any)
	def, ok := defs[name].(map[string]any)
	if !ok {
		return fmt.Errorf("jsonschema: no definition %q", name)
	}
	if err := validate(root, def, v, "$"); err != nil {
		return err
	}
	return nil
}

func fail(path, format string, args ...any) *Error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}

var patterns sync.Map // string -> *regexp.Regexp

func validate(root, s map[string]any, v any, path string) *Error {
	if r, ok := s["$ref"].(string); ok {
		def, _ := root["$defs"].(map[string]any)[strings.TrimPrefix(r, "#/$defs/")].(map[string]any)
		if def == nil {
			return fail(path, "the schema's %s is missing", r)
		}
		return validate(root, def, v, path)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n, last := 0, (*Error)(nil)
		for _, a := range alts {
			if err := validate(root, a.(map[string]any), v, path); err == nil {
				n++
			} else {
				last = err
			}
		}
		if n != 1 {
			return fail(path, "matches %d of oneOf (last error: %v)", n, last)
		}
		return nil
	}
	if c, ok := s["const"]; ok && c != v {
		return fail(path, "%v is not %v", v, c)
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
		a := "a "
		if kind == "integer" || kind == "array" || kind == "object" {
			a = "an "
		}
		return fail(path, "%s%s, not %s", a, kind, strings.Join(kinds, " or "))
	}
	switch kind {
	case "object":
		m := v.(map[string]any)
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				return fail(path+"."+r.(string), "required")
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					return fail(path+"."+k, "not in the schema")
				}
				continue
			}
			if err := validate(root, ps, m[k], path+"."+k); err != nil {
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
		p, ok := s["pattern"].(string)
		if !ok {
			break
		}
		re, _ := patterns.Load(p)
		if re == nil {
			c, err := regexp.Compile(p)
			if err != nil {
				return fail(path, "the schema's pattern %s: %v", p, err)
			}
			re, _ = patterns.LoadOrStore(p, c)
		}
		if !re.(*regexp.Regexp).MatchString(v.(string)) {
			return fail(path, "%q does not match %s", v, p)
		}
	}
	return nil
}
