package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Schema is a JSON Schema (the OpenAPI 3.0 dialect) written by hand, for a
// Route.Response whose shape no Go type describes.
type Schema map[string]any

// OpenAPI returns the OpenAPI 3 document of every route under /api/v1: it
// is generated from the same table that mounts the routes (plus the
// external ones), so it cannot list a route that is not served or miss
// one that is. Response schemas are generated from the Go types the
// handlers encode (Route.Response), so they cannot drift from what is
// sent either; the cmd/wharf contract test checks real answers against
// them.
func (s *Server) OpenAPI() map[string]any {
	g := newSchemaGen()
	errResponses := map[string]any{"Unexpected": errorResponse("an error the server did not expect (500): see the server's log")}
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	for _, rt := range s.Routes() {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
		}
		tags[rt.Tag] = true
		var params []map[string]any
		for _, p := range rt.Params {
			param := map[string]any{"name": p.Name, "in": p.In, "required": p.In == "path", "description": p.doc(), "schema": p.schema()}
			if p.List {
				param["style"], param["explode"] = "form", false
			}
			params = append(params, param)
		}
		if params != nil {
			op["parameters"] = params
		}
		produces := rt.Produces
		if produces == "" {
			produces = "application/json"
		}
		var body map[string]any
		switch {
		case produces == "application/octet-stream":
			body = map[string]any{"type": "string", "format": "binary"}
		case rt.Response == nil:
			panic("web: route " + rt.Method + " " + rt.Path + " has no Response type")
		case isSchema(rt.Response):
			body = rt.Response.(Schema)
		default:
			body = g.of(reflect.TypeOf(rt.Response))
		}
		ok := map[string]any{"description": rt.Summary, "content": map[string]any{produces: map[string]any{"schema": body}}}
		if produces == "application/octet-stream" {
			ok["headers"] = map[string]any{"X-Content-SHA256": map[string]any{"description": "hex sha256 of the bytes, as archived", "schema": map[string]string{"type": "string"}}}
		}
		responses := map[string]any{strconv.Itoa(rt.success()): ok, "default": map[string]string{"$ref": "#/components/responses/Unexpected"}}
		codes := rt.Errors
		if !slices.ContainsFunc(s.o.ExternalRoutes, func(x Route) bool { return x.Method == rt.Method && x.Path == rt.Path }) {
			codes = rt.errorCodes()
		}
		for _, code := range codes {
			name := errorName(code)
			if _, ok := errResponses[name]; !ok {
				r := errorResponse(errorText[code])
				switch code {
				case http.StatusUnauthorized:
					r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"description": `Bearer realm="wharf"`, "schema": map[string]string{"type": "string"}}}
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "seconds to wait before trying again (when given)", "schema": map[string]string{"type": "integer"}}}
				}
				errResponses[name] = r
			}
			responses[strconv.Itoa(code)] = map[string]string{"$ref": "#/components/responses/" + name}
		}
		op["responses"] = responses
		switch rt.Role {
		case "":
			op["security"] = []any{}
		case "partner":
			op["security"] = []any{map[string][]string{"partnerToken": {}}}
			op["description"] = "Partner-facing (the HTTP inbound transport): authenticated by the partner's own token from its configuration, not by API roles."
		default:
			op["security"] = []any{map[string][]string{"bearer": {}}}
			op["description"] = "Needs role " + rt.Role + " or above (auditor < operator < admin)."
			switch rt.Scope {
			case "":
				op["description"] = op["description"].(string) + " Partner tokens are refused."
			case ScopeAnyPartner:
				op["description"] = op["description"].(string) + " Any partner token may call it too."
				op["x-wharf-scope"] = rt.Scope
			default:
				op["description"] = op["description"].(string) + " A partner token needs scope " + rt.Scope + " and sees only its own partner's data."
				op["x-wharf-scope"] = rt.Scope
			}
		}
		if d := rt.Deprecated; d != nil {
			op["deprecated"] = true
			desc, _ := op["description"].(string)
			op["description"] = strings.TrimSpace(fmt.Sprintf("Deprecated since %s; served until %s (its Sunset header). Use %s instead. %s",
				d.Since.UTC().Format("2006-01-02"), d.Sunset.UTC().Format("2006-01-02"), d.Successor, desc))
		}
		if rt.Request != nil {
			schema, ok := rt.Request.(Schema)
			if !ok {
				schema = g.of(reflect.TypeOf(rt.Request))
			}
			op["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": schema}}}
		}
		if rt.Body != "" {
			op["requestBody"] = map[string]any{"required": false, "description": rt.Body,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object", "additionalProperties": false,
					"properties": map[string]any{"comment": map[string]string{"type": "string"}}}}}}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	g.comps["Error"] = map[string]any{"type": "object", "required": []string{"error"}, "additionalProperties": false,
		"description": "Every error answer: what went wrong and, where there is one, what to do.",
		"properties":  map[string]any{"error": map[string]string{"type": "string"}, "hint": map[string]string{"type": "string"}}}
	var tagList []map[string]string
	for _, t := range slices.Sorted(maps.Keys(tags)) {
		tagList = append(tagList, map[string]string{"name": t, "description": tagText[t]})
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Wharf API", "version": "1",
			"description": "Operations API of Wharf. Bearer tokens come from 'wharf token create --role admin|operator|auditor'. Errors are JSON {\"error\": ..., \"hint\": ...}. " +
				"Query parameters a route does not list, and values outside a parameter's enum, are refused with 400 and a hint naming the valid ones.",
			"license": map[string]string{"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}},
		"servers": []map[string]string{{"url": "/", "description": "the Wharf HTTP listener that serves this document (WHARF_HTTP_ADDR, default 127.0.0.1:8080)"}},
		"tags":    tagList,
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer":       map[string]any{"type": "http", "scheme": "bearer", "description": "a token from 'wharf token create'"},
				"partnerToken": map[string]any{"type": "http", "scheme": "bearer", "description": "the partner's token from its configuration (partners[].http.token_env)"},
			},
			"schemas":   g.comps,
			"responses": errResponses,
		},
		"security": []any{map[string][]string{"bearer": {}}},
	}
}

var tagText = map[string]string{
	"meta":       "the document itself, who you are, the audit log",
	"operations": "overview, stuck documents and traces",
	"partners":   "trading partners and their certificates",
	"messages":   "the archive: search, details, originals, replays",
	"objects":    "business objects the sync follows: orders, shipments, invoices, inventory reports",
	"exceptions": "the exceptions queue and what operators do with it",
	"jobs":       "the job runtime's jobs and schedules",
	"archive":    "archive integrity",
	"transports": "partner-facing transports on the same listener",
	"admin":      "API tokens and console users (admin only)",
}

// errorText describes each error status the routes document.
var errorText = map[int]string{
	http.StatusGone:                  "a deprecated route after its Sunset: hint names the route that replaces it",
	http.StatusBadRequest:            "a parameter or the body is not valid: error says which, hint lists the valid values",
	http.StatusUnauthorized:          "no bearer token, or an unknown or revoked one",
	http.StatusForbidden:             "the token's role is too low, or a partner token lacks the route's scope or names another partner: error and hint name the role or scope needed",
	http.StatusNotFound:              "no such object: check the ID (list or search first)",
	http.StatusConflict:              "the object is not in a state that allows this",
	http.StatusRequestEntityTooLarge: "the body is larger than the partner's limit",
	http.StatusUnprocessableEntity:   "refused by the archive's rules (not archived)",
	http.StatusTooManyRequests:       "over a rate limit (the token's, or the partner's at the HTTP inbound: error names the limit and who), or too many failed authentications from this address: wait Retry-After seconds",
	http.StatusServiceUnavailable:    "not available now: error and hint say why and where to turn (Retry-After when trying again will do)",
}

// errorName names an error status's response component: 404 is NotFound.
func errorName(code int) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(http.StatusText(code))
}

func errorResponse(desc string) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]string{"$ref": "#/components/schemas/Error"}}}}
}

// success is the status of a route's success.
func (rt Route) success() int {
	if rt.Status == 0 {
		return http.StatusOK
	}
	return rt.Status
}

// errorCodes returns the error statuses an API route answers, sorted:
// those every route of its kind may answer (400 for a query parameter it
// does not take or a bad value, 401 and 429 for a token, 403 for a role
// above auditor, 404 with a path parameter) and the route's own
// (Route.Errors). An external route lists all of its own in Errors.
func (rt Route) errorCodes() []int {
	// Any route refuses query parameters it does not take.
	set := map[int]bool{http.StatusBadRequest: true}
	if rt.Role != "" && rt.Role != "partner" {
		// 403: a role below the route's, or a partner token without
		// the route's scope (every route refuses some partner token).
		set[http.StatusUnauthorized], set[http.StatusTooManyRequests], set[http.StatusForbidden] = true, true, true
	}
	for _, p := range rt.Params {
		if p.In == "path" {
			set[http.StatusNotFound] = true
		}
	}
	for _, c := range rt.Errors {
		set[c] = true
	}
	if rt.Deprecated != nil {
		set[http.StatusGone] = true // from its Sunset on
	}
	for _, c := range rt.Never {
		delete(set, c)
	}
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

func (p Param) doc() string {
	d := p.Description
	if len(p.Enum) > 0 {
		d += " (one of: " + strings.Join(p.Enum, ", ") + ")"
	}
	if p.List {
		d += "; several comma-separated"
	}
	return d
}

func (p Param) schema() map[string]any {
	switch p.Type {
	case "integer":
		return map[string]any{"type": "integer", "minimum": p.Min, "maximum": p.Max}
	case "boolean":
		return map[string]any{"type": "boolean"}
	}
	s := map[string]any{"type": "string"}
	if p.Format != "" {
		s["format"] = p.Format
	}
	if len(p.Enum) > 0 {
		s["enum"] = p.Enum
	}
	if p.List {
		return map[string]any{"type": "array", "items": s}
	}
	return s
}

// check validates a query parameter's value against its type and enum,
// returning the 400 to answer.
func (p Param) check(v string) error {
	switch p.Type {
	case "integer":
		n, err := strconv.Atoi(v)
		if err != nil || n < p.Min || n > p.Max {
			return badRequest(fmt.Sprintf("%s %q is not a number from %d to %d", p.Name, v, p.Min, p.Max), fmt.Sprintf("use %s=%d up to %s=%d", p.Name, p.Min, p.Name, p.Max))
		}
		return nil
	case "boolean":
		if v != "true" && v != "false" {
			return badRequest(fmt.Sprintf("%s %q is not true or false", p.Name, v), "use "+p.Name+"=true or "+p.Name+"=false")
		}
		return nil
	}
	if len(p.Enum) == 0 {
		return nil
	}
	vals := []string{v}
	if p.List {
		vals = trimAll(vals)
	}
	for _, x := range vals {
		if !slices.Contains(p.Enum, x) {
			noun := p.Noun
			if noun == "" {
				noun = "valid " + p.Name
			}
			return badRequest(fmt.Sprintf("%s %q is not a %s", p.Name, x, noun), "use one of: "+strings.Join(p.Enum, ", "))
		}
	}
	return nil
}

// checkQuery refuses query parameters the route does not take and values
// its parameters do not allow: a misspelt filter must not quietly match
// everything.
func (rt Route) checkQuery(r *http.Request) error {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	var names []string
	byName := map[string]Param{}
	for _, p := range rt.Params {
		if p.In == "query" {
			names = append(names, p.Name)
			byName[p.Name] = p
		}
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		p, ok := byName[k]
		if !ok {
			hint := rt.Method + " " + rt.Path + " takes no query parameters"
			if len(names) > 0 {
				hint = rt.Method + " " + rt.Path + " takes: " + strings.Join(names, ", ")
			}
			return badRequest(fmt.Sprintf("unknown query parameter %q", k), hint)
		}
		if len(q[k]) > 1 && !p.List {
			return badRequest(fmt.Sprintf("query parameter %q given %d times", k, len(q[k])), "give it once")
		}
		for _, v := range q[k] {
			if v == "" {
				continue // an empty field of a form: no filter
			}
			if err := p.check(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func isSchema(v any) bool { _, ok := v.(Schema); return ok }

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

// schemaGen writes JSON Schemas of Go types as encoding/json encodes them:
// a struct becomes a component (closed: additionalProperties false) whose
// fields without omitempty are required; slices are arrays (handlers never
// send null for them). Struct tags `doc:"..."`, `enum:"a,b"` and
// `nullable:"true"` (a pointer field that may be null) add a description,
// an enum and nullable.
type schemaGen struct {
	comps map[string]any
	names map[reflect.Type]string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{comps: map[string]any{}, names: map[reflect.Type]string{}}
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	rawType       = reflect.TypeOf(json.RawMessage(nil))
	statusType    = reflect.TypeOf(lifecycle.Status(""))
	eventKindType = reflect.TypeOf(lifecycle.EventKind(""))
	directionType = reflect.TypeOf(store.Direction(""))
	documentType  = reflect.TypeOf((*canonical.Document)(nil)).Elem()
	schemaType    = reflect.TypeOf(Schema(nil))
)

func (g *schemaGen) of(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{}
	case statusType:
		return g.ref(t, "MessageStatus", func() map[string]any {
			return map[string]any{"type": "string", "enum": statusNames(), "description": "a message's status (docs/architecture.md, package lifecycle)"}
		})
	case eventKindType:
		return g.ref(t, "EventKind", func() map[string]any {
			var e []string
			for _, k := range lifecycle.EventKinds() {
				e = append(e, string(k))
			}
			return map[string]any{"type": "string", "enum": e, "description": "what an event of a message's history records"}
		})
	case directionType:
		return g.ref(t, "Direction", func() map[string]any {
			return map[string]any{"type": "string", "enum": []string{string(store.Inbound), string(store.Outbound)}, "description": "in: received by Wharf; out: sent by Wharf"}
		})
	case documentType:
		return g.ref(t, "CanonicalDocument", func() map[string]any {
			return map[string]any{"type": "object", "required": []string{"type", "version"},
				"description": "a canonical document; its full schema, per type, is docs/canonical.schema.json",
				"properties":  map[string]any{"type": map[string]any{"type": "string", "enum": canonical.Types}, "version": map[string]string{"type": "string"}}}
		})
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		if t == schemaType {
			panic("web: a Schema is used as a value, not a type")
		}
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		return g.ref(t, "", func() map[string]any { return g.object(t) })
	}
	panic(fmt.Sprintf("web: no schema for Go type %s", t))
}

// ref returns a $ref to t's component, building it once.
func (g *schemaGen) ref(t reflect.Type, name string, build func() map[string]any) map[string]any {
	if n, ok := g.names[t]; ok {
		return map[string]any{"$ref": "#/components/schemas/" + n}
	}
	if name == "" {
		name = strings.TrimSuffix(t.Name(), "Out")
		name = strings.ToUpper(name[:1]) + name[1:]
		if _, taken := g.comps[name]; taken {
			pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			name = strings.ToUpper(pkg[:1]) + pkg[1:] + name
		}
		if _, taken := g.comps[name]; taken {
			panic("web: two types want the schema name " + name)
		}
	}
	g.names[t] = name
	g.comps[name] = nil // taken, against recursion
	g.comps[name] = build()
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props, req := map[string]any{}, []string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			omit := strings.Contains(opts, "omitempty")
			s := g.of(ft)
			if d := f.Tag.Get("doc"); d != "" {
				s = withKey(s, "description", d)
			}
			if e := f.Tag.Get("enum"); e != "" {
				s = withKey(s, "enum", strings.Split(e, ","))
			}
			if f.Tag.Get("nullable") == "true" {
				s = withKey(s, "nullable", true)
			}
			props[name] = s
			if !omit {
				req = append(req, name)
			}
		}
	}
	walk(t)
	sort.Strings(req)
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(req) > 0 {
		out["required"] = req
	}
	return out
}

// withKey returns s with one more keyword; a $ref cannot have siblings in
// OpenAPI 3.0, so it is wrapped in allOf.
func withKey(s map[string]any, k string, v any) map[string]any {
	if _, isRef := s["$ref"]; isRef {
		s = map[string]any{"allOf": []any{s}}
	} else {
		c := make(map[string]any, len(s)+1)
		for kk, vv := range s {
			c[kk] = vv
		}
		s = c
	}
	s[k] = v
	return s
}
