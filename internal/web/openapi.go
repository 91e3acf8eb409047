package web

import (
	"strings"
)

// OpenAPI returns the OpenAPI 3 document of every route under /api/v1: it
// is generated from the same table that mounts the routes (plus the
// external ones), so it cannot list a route that is not served or miss
// one that is.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.Routes() {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
		}
		var params []map[string]any
		for _, p := range rt.Params {
			params = append(params, map[string]any{"name": p.Name, "in": p.In, "required": p.In == "path",
				"description": p.Description, "schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		produces := rt.Produces
		if produces == "" {
			produces = "application/json"
		}
		ok := map[string]any{"description": "success", "content": map[string]any{produces: map[string]any{}}}
		if rt.Produces == "application/octet-stream" {
			ok["headers"] = map[string]any{"X-Content-SHA256": map[string]any{"description": "hex sha256 of the bytes, as archived", "schema": map[string]string{"type": "string"}}}
		}
		errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]string{"$ref": "#/components/schemas/Error"}}}}
		op["responses"] = map[string]any{"200": ok, "default": errResp}
		switch rt.Role {
		case "":
			op["security"] = []any{}
		case "partner":
			op["security"] = []any{map[string][]string{"partnerToken": {}}}
			op["description"] = "Partner-facing (the HTTP inbound transport): authenticated by the partner's own token from its configuration, not by API roles."
		default:
			op["security"] = []any{map[string][]string{"bearer": {}}}
			op["description"] = "Needs role " + rt.Role + " or above (auditor < operator < admin)."
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": false, "description": rt.Body,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object",
					"properties": map[string]any{"comment": map[string]string{"type": "string"}}}}}}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Wharf API", "version": "1",
			"description": "Operations API of Wharf. Bearer tokens come from 'wharf token create --role admin|operator|auditor'. Errors are JSON {\"error\": ..., \"hint\": ...}."},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":       map[string]any{"type": "http", "scheme": "bearer"},
				"partnerToken": map[string]any{"type": "http", "scheme": "bearer"},
			},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "required": []string{"error"},
				"properties": map[string]any{"error": map[string]string{"type": "string"}, "hint": map[string]string{"type": "string"}}}},
		},
		"security": []any{map[string][]string{"bearer": {}}},
	}
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, part := range strings.Split(strings.TrimPrefix(rt.Path, "/api/v1/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.ReplaceAll(part, ".", "_")
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
