package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/jsonschema"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/transports"
)

// POST /api/v1/documents: a canonical JSON document, checked against
// docs/canonical.schema.json and archived exactly like a file drop
// (transport "api", through the gateway); a malformed one is refused with
// its field and reason and archived as rejected, so nothing is lost.

// canonicalSchemaJSON is docs/canonical.schema.json (a copy the binary
// carries; TestCanonicalSchemaCopyUpToDate keeps it the same).
//
//go:embed schemas/canonical.schema.json
var canonicalSchemaJSON []byte

var canonicalSchema = sync.OnceValue(func() map[string]any {
	var s map[string]any
	if err := json.Unmarshal(canonicalSchemaJSON, &s); err != nil {
		panic("web: schemas/canonical.schema.json: " + err.Error())
	}
	return s
})

// maxDocument is the largest document POST /api/v1/documents takes.
const maxDocument = 16 << 20

// docError is why a posted document is refused: the field (a JSON path
// without "$.", "" for the whole body) and the reason.
type docError struct{ Field, Reason string }

func (e *docError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// canonicalDef returns the $defs name of canonical document type typ, or "".
func canonicalDef(root map[string]any, typ string) string {
	alts, _ := root["oneOf"].([]any)
	defs, _ := root["$defs"].(map[string]any)
	for _, a := range alts {
		ref, _ := a.(map[string]any)["$ref"].(string)
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, _ := defs[name].(map[string]any)
		props, _ := def["properties"].(map[string]any)
		t, _ := props["type"].(map[string]any)
		if t["const"] == typ {
			return name
		}
	}
	return ""
}

// checkDocument checks one canonical JSON document: JSON, one object, a
// known type, the schema of that type, and readable by the sync (canonical.Decode).
func checkDocument(b []byte) (string, *docError) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return "", &docError{Reason: "the body is empty: send one canonical JSON document"}
		}
		return "", &docError{Reason: "not JSON: " + err.Error()}
	}
	if dec.More() {
		return "", &docError{Reason: "more than one JSON value: send one document per request"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", &docError{Reason: "not a JSON object"}
	}
	typ, ok := m["type"].(string)
	if !ok {
		return "", &docError{Field: "type", Reason: "required: the canonical document type (" + strings.Join(canonical.Types, ", ") + ")"}
	}
	root := canonicalSchema()
	def := canonicalDef(root, typ)
	if def == "" {
		return typ, &docError{Field: "type", Reason: fmt.Sprintf("%q is not a canonical document type: use one of %s", typ, strings.Join(canonical.Types, ", "))}
	}
	if err := jsonschema.ValidateDef(root, def, v); err != nil {
		var je *jsonschema.Error
		if errors.As(err, &je) {
			return typ, &docError{Field: strings.TrimPrefix(strings.TrimPrefix(je.Path, "$"), "."), Reason: je.Reason}
		}
		return typ, &docError{Reason: err.Error()}
	}
	if _, err := canonical.Decode(b); err != nil {
		return typ, &docError{Reason: err.Error()}
	}
	return typ, nil
}

type documentOut struct {
	ID      string `json:"id" doc:"the archived message's ID (as a file drop's)"`
	Type    string `json:"type" doc:"the canonical document type"`
	Partner string `json:"partner" doc:"the partner it is archived and processed as"`
}

// documentSchema describes the body: any canonical document; the server
// checks it against docs/canonical.schema.json.
var documentSchema = Schema{"type": "object", "required": []string{"type"},
	"description": "one canonical document; the server checks it against its type's schema in docs/canonical.schema.json and names the first field that does not follow it",
	"properties":  map[string]any{"type": map[string]any{"type": "string", "enum": canonical.Types}, "version": map[string]string{"type": "string"}}}

func (s *Server) mountDocuments() {
	s.handle(Route{Method: "POST", Path: "/api/v1/documents", Summary: "Submit a canonical JSON document: archived and processed like a file drop (transport api); a malformed one is refused with its field and reason, and archived as rejected",
		Role: store.RoleOperator, Scope: store.ScopeDocumentsWrite, Tag: "objects", Request: documentSchema, Response: documentOut{}, Status: http.StatusCreated,
		Errors: []int{http.StatusRequestEntityTooLarge},
		Params: []Param{{Name: "partner", In: "query", Description: "the partner it comes from (required for operator tokens; a partner token: its own)"},
			{Name: "filename", In: "query", Description: "a name for it in the archive (default TYPE.json)"}}},
		s.postDocument)
}

func (s *Server) postDocument(w http.ResponseWriter, r *http.Request, p *principal) error {
	partner := r.URL.Query().Get("partner")
	if p.Partner != "" {
		partner = p.Partner
	}
	if partner == "" {
		return badRequest("partner: required", "name the partner the document comes from: ?partner=ID")
	}
	if _, err := s.st.GetPartner(r.Context(), partner); errors.Is(err, store.ErrNotFound) {
		return badRequest(fmt.Sprintf("partner: %q is not a partner", partner), "see GET /api/v1/partners")
	} else if err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDocument))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the document is larger than %d MiB", maxDocument>>20), "send large batches as a file (SFTP, AS2, folder)"}
	}
	if err != nil {
		return err
	}
	typ, bad := checkDocument(b)
	name := r.URL.Query().Get("filename")
	if name == "" {
		name = "document.json"
		if typ != "" && canonical.New(typ) != nil {
			name = typ + ".json"
		}
	}
	in := transports.Incoming{Partner: partner, Transport: "api", RemoteName: name, RemoteAddr: r.RemoteAddr,
		IdempotencyKey: r.Header.Get("Idempotency-Key"), Awaited: true}
	g := &gateway.Gateway{Archive: s.o.Archive, Store: s.st, Foreground: s.o.Foreground}
	if bad != nil {
		in.IdempotencyKey = "" // a refused document is kept each time it is sent
		id, err := g.Refuse(r.Context(), in, bytes.NewReader(b), bad.Error())
		if err != nil {
			return err
		}
		s.audit(r.Context(), p, r, "document_refused", fmt.Sprintf("message %s from partner %s: %s", id, partner, bad.Error()))
		return badRequest(fmt.Sprintf("%s (refused; archived as rejected message %s)", bad.Error(), id),
			"fix the field and post the document again")
	}
	id, err := g.Receive(r.Context(), in, bytes.NewReader(b))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, documentOut{ID: id, Type: typ, Partner: partner})
	return nil
}
