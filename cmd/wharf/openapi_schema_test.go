package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// oaDoc is an OpenAPI 3.0 document read as JSON, with the subset of JSON
// Schema that Wharf's document uses: $ref (to components), allOf, type,
// nullable, properties, required, additionalProperties, items, enum,
// minimum, maximum and the date-time format. A keyword outside that subset
// fails validation, so the document cannot grow past what is checked.
type oaDoc struct {
	root map[string]any
}

// known lists the schema keywords validate understands; the others that
// carry no constraint are listed as ignored.
var (
	knownKeywords   = []string{"$ref", "allOf", "type", "nullable", "properties", "required", "additionalProperties", "items", "enum", "format", "minimum", "maximum"}
	ignoredKeywords = []string{"description"}
)

// resolve follows a local $ref ("#/components/...").
func (d *oaDoc) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = d.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, part)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not an object", ref)
	}
	return m, nil
}

// operation returns the operation object of method and path template.
func (d *oaDoc) operation(method, path string) (map[string]any, error) {
	paths, _ := d.root["paths"].(map[string]any)
	item, ok := paths[path].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document has no path %s", path)
	}
	op, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document has no %s %s", method, path)
	}
	return op, nil
}

// response returns the documented response of an operation for a status
// (not the default: every status a route answers must be listed), with
// $ref followed.
func (d *oaDoc) response(op map[string]any, status int) (map[string]any, error) {
	rs, _ := op["responses"].(map[string]any)
	r, ok := rs[fmt.Sprint(status)].(map[string]any)
	if !ok {
		var have []string
		for k := range rs {
			have = append(have, k)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("status %d is not documented (documented: %s)", status, strings.Join(have, ", "))
	}
	if ref, ok := r["$ref"].(string); ok {
		return d.resolve(ref)
	}
	return r, nil
}

// validate checks a decoded JSON value (numbers as json.Number) against a
// schema, returning every mismatch with its JSON path.
func (d *oaDoc) validate(schema map[string]any, v any, path string) []string {
	for k := range schema {
		if !slices.Contains(knownKeywords, k) && !slices.Contains(ignoredKeywords, k) {
			return []string{fmt.Sprintf("%s: the schema uses %q, which this validator does not check", path, k)}
		}
	}
	if ref, ok := schema["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			return []string{path + ": " + err.Error()}
		}
		return d.validate(target, v, path)
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{path + ": null where the document does not allow it"}
	}
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			sm, _ := s.(map[string]any)
			errs = append(errs, d.validate(sm, v, path)...)
		}
	}
	if enum, ok := schema["enum"].([]any); ok {
		switch v.(type) {
		case string, bool, json.Number: // comparable
			if !slices.Contains(enum, v) {
				errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
			}
		default:
			errs = append(errs, fmt.Sprintf("%s: %T where one of %v is documented", path, v, enum))
		}
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T where an object is documented", path, v))
		}
		props, _ := schema["properties"].(map[string]any)
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					errs = append(errs, fmt.Sprintf("%s: required property %q is missing", path, r))
				}
			}
		}
		for _, k := range sortedKeys(obj) {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(ps, obj[k], path+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: property %q is not in the document", path, k))
				}
			case map[string]any:
				errs = append(errs, d.validate(ap, obj[k], path+"."+k)...)
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T where an array is documented", path, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, it := range arr {
			errs = append(errs, d.validate(items, it, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T where a string is documented", path, v))
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", path, s))
			}
		}
	case "integer", "number":
		n, ok := v.(json.Number)
		if !ok {
			return append(errs, fmt.Sprintf("%s: %T where a %s is documented", path, v, typ))
		}
		f, err := n.Float64()
		if err != nil || (typ == "integer" && !integerRe.MatchString(n.String())) {
			return append(errs, fmt.Sprintf("%s: %s is not a %s", path, n, typ))
		}
		if m, ok := schema["minimum"].(json.Number); ok {
			if min, _ := m.Float64(); f < min {
				errs = append(errs, fmt.Sprintf("%s: %s is below the minimum %s", path, n, m))
			}
		}
		if m, ok := schema["maximum"].(json.Number); ok {
			if max, _ := m.Float64(); f > max || math.IsInf(f, 0) {
				errs = append(errs, fmt.Sprintf("%s: %s is above the maximum %s", path, n, m))
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: %T where a boolean is documented", path, v))
		}
	default:
		errs = append(errs, fmt.Sprintf("%s: the schema's type %q is unknown", path, typ))
	}
	return errs
}

var integerRe = regexp.MustCompile(`^-?[0-9]+$`)

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
