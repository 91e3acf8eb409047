package testenv

import "github.com/wharfedi/wharf/internal/jsonschema"

// ValidateJSON checks v (decoded by encoding/json into any) against the
// subset of JSON Schema that Wharf's published schemas use
// (docs/canonical.schema.json, docs/events.schema.json); see package
// jsonschema. It names the first place that does not follow the schema,
// as a JSON path from "$".
func ValidateJSON(schema map[string]any, v any) error { return jsonschema.Validate(schema, v) }
