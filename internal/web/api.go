package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// apiHandler handles an authenticated API request.
type apiHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// handle mounts an API route: the pattern is documented (OpenAPI) and
// recorded; the handler runs once the bearer token's role reaches rt.Role.
func (s *Server) handle(rt Route, h apiHandler) {
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
		var p *principal
		if rt.Role != "" {
			tok := bearer(r)
			if tok == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wharf"`)
				writeError(w, http.StatusUnauthorized, "missing bearer token", "send 'Authorization: Bearer TOKEN'; create one with 'wharf token create --role auditor'")
				return
			}
			if s.lockedOut(w, r) {
				return
			}
			var err error
			p, err = s.tokenPrincipal(r.Context(), tok)
			if errors.Is(err, errUnauthenticated) {
				s.authFailed(r.Context(), nil, r, "api_token_refused", rt.Method+" "+r.URL.Path+": "+err.Error())
				w.Header().Set("WWW-Authenticate", `Bearer realm="wharf", error="invalid_token"`)
				msg := "unknown or revoked token"
				if err.Error() != errUnauthenticated.Error() {
					msg = err.Error()
				}
				writeError(w, http.StatusUnauthorized, msg, "create a new one with 'wharf token create'")
				return
			}
			if err != nil {
				code, msg, hint := statusOf(err)
				writeError(w, code, msg, hint)
				return
			}
			if !p.can(rt.Role) {
				s.audit(r.Context(), p, r, "api_denied", rt.Method+" "+r.URL.Path)
				writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s", p.Role, rt.Method, rt.Path),
					fmt.Sprintf("this needs role %s or above", rt.Role))
				return
			}
		}
		if err := h(w, r, p); err != nil {
			code, msg, hint := statusOf(err)
			if code >= 500 {
				s.log.Error("api", "route", rt.Method+" "+rt.Path, "err", err)
			}
			writeError(w, code, msg, hint)
		}
	})
}

var (
	pLimit   = Param{"limit", "query", "at most this many (default 100, at most 1000)"}
	pID      = Param{"id", "path", "message ID"}
	pComment = "JSON object {\"comment\": \"why\"}"
)

func (s *Server) mountAPI() {
	auditor, operator := store.RoleAuditor, store.RoleOperator
	s.handle(Route{Method: "GET", Path: "/api/v1/openapi.json", Summary: "This OpenAPI 3 document", Tag: "meta"},
		func(w http.ResponseWriter, r *http.Request, _ *principal) error {
			writeJSON(w, 200, s.OpenAPI())
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/me", Summary: "Who the token is and its role", Role: auditor, Tag: "meta"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			writeJSON(w, 200, map[string]string{"actor": p.Actor, "role": p.Role})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/overview", Summary: "Throughput and error rate per partner and transport, last 24 h and 7 days", Role: auditor, Tag: "operations"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ws, err := s.Overview(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"windows": ws})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/overview/daily", Summary: "Messages and errors per day (UTC), last 7 days, oldest first", Role: auditor, Tag: "operations"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ds, err := s.Daily(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"days": ds})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/stuck", Summary: "Documents that stopped: received not mapped, mapped not delivered, delivered not acknowledged", Role: auditor, Tag: "operations"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			st, err := s.Stuck(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"stuck": nonNil(st)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/partners", Summary: "Trading partners", Role: auditor, Tag: "partners"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ps, err := s.st.ListPartners(r.Context())
			if err != nil {
				return err
			}
			out := []map[string]any{}
			for _, pt := range ps {
				out = append(out, partnerJSON(pt))
			}
			writeJSON(w, 200, map[string]any{"partners": out})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/partners/{id}", Summary: "One trading partner", Role: auditor, Tag: "partners",
		Params: []Param{{"id", "path", "partner ID"}}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			pt, err := s.st.GetPartner(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, partnerJSON(pt))
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages", Summary: "Search archived messages, newest first (the filters of 'wharf archive search')", Role: auditor, Tag: "messages",
		Params: []Param{{"partner", "query", "partner ID"}, {"direction", "query", "in or out"}, {"since", "query", "RFC 3339 time, received at or after"},
			{"until", "query", "RFC 3339 time, received before"}, {"key", "query", "business key or control number"}, {"status", "query", "status, comma-separated for several"},
			{"transport", "query", "transport name"}, {"before", "query", "paging: received_at of the last message seen"},
			{"before_id", "query", "paging: id of the last message seen"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			f, err := messageFilter(r)
			if err != nil {
				return err
			}
			es, err := s.o.Archive.Search(r.Context(), f)
			if err != nil {
				return err
			}
			out := []*entryOut{}
			for _, e := range es {
				out = append(out, entryJSON(e))
			}
			writeJSON(w, 200, map[string]any{"messages": out})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}", Summary: "A message with its business keys and history", Role: auditor, Tag: "messages", Params: []Param{pID}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			d, err := s.Detail(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"message": entryJSON(d.Entry), "keys": keysJSON(d.Keys), "events": eventsJSON(d.Events)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}/events", Summary: "A message's history, oldest first", Role: auditor, Tag: "messages", Params: []Param{pID}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			evs, err := s.o.Archive.Events(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"events": eventsJSON(evs)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}/content", Summary: "The original bytes, byte for byte; X-Content-SHA256 carries their sha256", Role: auditor, Tag: "messages",
		Params: []Param{pID}, Produces: "application/octet-stream"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			return s.download(w, r, p)
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/messages/{id}/replay", Summary: "Run a message again from its archived bytes: re-run processing of an inbound one or a dead letter's delivery; re-send any other outbound one as a new message", Role: operator, Tag: "messages", Params: []Param{pID}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			res, err := s.Replay(r.Context(), r.PathValue("id"), delivery.ReplayOptions{Actor: p.Actor})
			if err != nil {
				return err
			}
			s.audit(r.Context(), p, r, "replay", res.String())
			writeJSON(w, 200, map[string]any{"original": res.Original.ID, "direction": res.Original.Direction, "new_message": res.NewID, "job": res.Job})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/traces/{key}", Summary: "Everything Wharf knows about a business key, as one timeline", Role: auditor, Tag: "operations",
		Params: []Param{{"key", "path", "PO, BOL, PRO, shipment ID, invoice number or control number"}}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			tr, err := s.Trace(r.Context(), r.PathValue("key"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, tr)
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/jobs", Summary: "Recent jobs, newest first", Role: auditor, Tag: "jobs",
		Params: []Param{{"state", "query", "available, running, retryable, completed, cancelled, discarded, scheduled (comma-separated)"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			limit, err := limitOf(r)
			if err != nil {
				return err
			}
			js, err := s.Jobs(r.Context(), trimAll(r.URL.Query()["state"]), limit)
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"jobs": nonNil(js)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/schedules", Summary: "Schedules with their last and next run", Role: auditor, Tag: "jobs"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ss, err := s.Schedules(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"schedules": nonNil(ss)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/certificates", Summary: "AS2 certificates (Wharf's own and partners') with expiry, soonest first", Role: auditor, Tag: "partners"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			cs, err := s.Certificates(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"certificates": nonNil(cs)})
			return nil
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/archive/verify", Summary: "Check every stored blob against its sha256 and the hash chain", Role: auditor, Tag: "archive",
		Params: []Param{{"skip_blobs", "query", "true: check the hash chain only"}}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			rep, err := s.Verify(r, p, r.URL.Query().Get("skip_blobs") == "true")
			if err != nil {
				return err
			}
			code := 200
			writeJSON(w, code, verifyJSON(rep))
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/audit", Summary: "Audit events, newest first", Role: store.RoleAdmin, Tag: "meta",
		Params: []Param{{"actor", "query", "only this actor"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			limit, err := limitOf(r)
			if err != nil {
				return err
			}
			evs, err := s.st.AuditEvents(r.Context(), r.URL.Query().Get("actor"), limit)
			if err != nil {
				return err
			}
			writeJSON(w, 200, map[string]any{"audit": nonNil(evs)})
			return nil
		})
	s.mountExceptionsAPI()
	// Anything else under /api/v1/ is a JSON 404, not the console's page.
	s.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), "see /api/v1/openapi.json for the routes")
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func limitOf(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, badRequest(fmt.Sprintf("limit %q is not a number from 1 to 1000", v), "")
	}
	return n, nil
}

// messageFilter reads the search filters of `wharf archive search`.
func messageFilter(r *http.Request) (store.MessageFilter, error) {
	q := r.URL.Query()
	f := store.MessageFilter{PartnerID: q.Get("partner"), Key: strings.TrimSpace(q.Get("key")), Transport: q.Get("transport")}
	for _, v := range trimAll(q["status"]) {
		st, err := lifecycle.ParseStatus(v)
		if err != nil {
			return f, badRequest(fmt.Sprintf("status %q: use one of %v", v, lifecycle.Statuses()), "")
		}
		f.Statuses = append(f.Statuses, st)
	}
	switch d := q.Get("direction"); d {
	case "", "in", "out":
		f.Direction = store.Direction(d)
	default:
		return f, badRequest(fmt.Sprintf("direction %q: use in or out", d), "")
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(t.name)
		if v == "" {
			continue
		}
		tm, ok := ParseTime(v)
		if !ok {
			return f, badRequest(fmt.Sprintf("%s %q is not an RFC 3339 time", t.name, v), "write it like 2026-01-31T00:00:00Z or 2026-01-31")
		}
		*t.dst = tm
	}
	if v := q.Get("before"); v != "" {
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, badRequest(fmt.Sprintf("before %q is not an RFC 3339 time", v), "pass the received_at of the last message of the previous page, with before_id its id")
		}
		f.Before, f.BeforeID = tm, q.Get("before_id")
	}
	n, err := limitOf(r)
	if err != nil {
		return f, err
	}
	f.Limit = n
	return f, nil
}

// download streams a message's original bytes with their sha256 in
// X-Content-SHA256 (hex) and Digest (RFC 3230, base64). The archive checks
// the bytes against the sha256 while streaming; a mismatch aborts the body.
func (s *Server) download(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	rc, e, err := s.o.Archive.Get(r.Context(), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := e.RemoteName
	if name == "" {
		name = e.ID
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	s.audit(r.Context(), p, r, "download", fmt.Sprintf("message %s (%s, %d bytes, sha256 %s)", e.ID, name, e.Size, e.SHA256))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(e.Size, 10))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("X-Content-SHA256", e.SHA256)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Error("download aborted: the bytes sent are not the original", "message", e.ID, "err", err)
		panic(http.ErrAbortHandler) // cut the connection so the client sees a broken download
	}
	return nil
}

// Verify runs archive verification as p, recording an audit event.
func (s *Server) Verify(r *http.Request, p *principal, skipBlobs bool) (*archive.Report, error) {
	rep, err := s.o.Archive.Verify(r.Context(), archive.VerifyOptions{SkipBlobs: skipBlobs})
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("intact: %d entries, %d blobs re-hashed", rep.Entries, rep.Blobs)
	if !rep.OK() {
		detail = fmt.Sprintf("NOT intact: %d problems; first: %s", len(rep.Problems), rep.Problems[0])
	}
	s.audit(r.Context(), p, r, "archive_verify", detail)
	return rep, nil
}

func verifyJSON(rep *archive.Report) map[string]any {
	var probs []string
	for _, p := range rep.Problems {
		probs = append(probs, p.String())
	}
	return map[string]any{"ok": rep.OK(), "entries": rep.Entries, "tombstones": rep.Tombstones, "blobs": rep.Blobs, "bytes": rep.Bytes,
		"blobs_elsewhere": rep.Elsewhere, "records": rep.Records, "head": map[string]any{"seq": rep.Head.Seq, "hash": rep.Head.Hash}, "problems": nonNil(probs)}
}

func partnerJSON(p *store.Partner) map[string]any {
	var ids []string
	for _, x := range p.X12IDs {
		ids = append(ids, x.String())
	}
	return map[string]any{"id": p.ID, "name": p.Name, "x12_ids": nonNil(ids), "ssh_keys": len(p.SSHKeys), "source": p.Source,
		"created_at": p.CreatedAt, "updated_at": p.UpdatedAt}
}

func keysJSON(ks []store.Key) []map[string]string {
	out := []map[string]string{}
	for _, k := range ks {
		out = append(out, map[string]string{"kind": k.Kind, "value": k.Value})
	}
	return out
}

func eventsJSON(evs []*store.Event) []map[string]any {
	out := []map[string]any{}
	for _, e := range evs {
		out = append(out, map[string]any{"id": e.ID, "at": e.At, "kind": e.Kind, "detail": e.Detail})
	}
	return out
}

// readComment reads an optional {"comment": "..."} body.
func readComment(r *http.Request) (string, error) {
	if r.Body == nil || r.ContentLength == 0 {
		return "", nil
	}
	var b struct {
		Comment string `json:"comment"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		return "", badRequest("body: "+err.Error(), `send JSON like {"comment": "partner confirmed the resend"}`)
	}
	return strings.TrimSpace(b.Comment), nil
}

// ParseTime reads a time bound the API and the CLI take: RFC 3339
// (2026-01-31T00:00:00Z) or a date alone (2026-01-31, its midnight UTC).
func ParseTime(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	t, err := time.Parse(time.DateOnly, v)
	return t, err == nil
}
