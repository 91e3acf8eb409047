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
	"github.com/wharfedi/wharf/internal/ratelimit"
	"github.com/wharfedi/wharf/internal/store"
	wsync "github.com/wharfedi/wharf/sync"
)

// apiHandler handles an authenticated API request.
type apiHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// handle mounts an API route: the pattern is documented (OpenAPI) and
// recorded; the handler runs once the bearer token's role reaches rt.Role
// and the query parameters are the route's, with valid values.
func (s *Server) handle(rt Route, h apiHandler) {
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
		if d := rt.Deprecated; d != nil {
			d.setHeaders(w.Header())
			if !s.now().Before(d.Sunset) {
				writeError(w, http.StatusGone, fmt.Sprintf("%s %s was retired on %s", rt.Method, rt.Path, d.Sunset.UTC().Format("2006-01-02")),
					"use "+d.Successor+" (docs/api.md, Versions and deprecation)")
				return
			}
		}
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
			if p.Partner != "" {
				if !s.partnerMay(w, r, rt, p) {
					return
				}
			} else if !p.can(rt.Role) {
				s.audit(r.Context(), p, r, "api_denied", rt.Method+" "+r.URL.Path)
				writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s", p.Role, rt.Method, rt.Path),
					fmt.Sprintf("this needs role %s or above", rt.Role))
				return
			}
			if rf := s.o.Limits.Check(r.Context(), ratelimit.DoorAPI, p.Actor, p.Partner); rf != nil {
				w.Header().Set("Retry-After", strconv.Itoa(rf.RetrySeconds()))
				writeError(w, http.StatusTooManyRequests, rf.Error(), "slow down: send at most the limit's rate (limits.api in the configuration)")
				return
			}
		}
		err := rt.checkQuery(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			code, msg, hint := statusOf(err)
			if code >= 500 {
				s.log.Error("api", "route", rt.Method+" "+rt.Path, "err", err)
			}
			writeError(w, code, msg, hint)
		}
	})
}

// ScopeAnyPartner is Route.Scope of a route any partner token may call.
const ScopeAnyPartner = "any"

// partnerMay checks a partner token against the route: its scope, and a
// partner query parameter naming another partner (refused, audited). It
// answers 403 itself and reports false when the token may not.
func (s *Server) partnerMay(w http.ResponseWriter, r *http.Request, rt Route, p *principal) bool {
	what := rt.Method + " " + r.URL.Path
	switch {
	case rt.Scope == "":
		s.audit(r.Context(), p, r, "api_denied", what+": no scope grants partner tokens this route")
		writeError(w, http.StatusForbidden, fmt.Sprintf("no scope grants a partner token %s %s", rt.Method, rt.Path),
			"partner tokens reach only the routes of their scopes (see the OpenAPI document's x-wharf-scope); ask for an operator token")
		return false
	case rt.Scope != ScopeAnyPartner && !p.hasScope(rt.Scope):
		s.audit(r.Context(), p, r, "api_denied", what+": missing scope "+rt.Scope)
		writeError(w, http.StatusForbidden, fmt.Sprintf("missing scope %s: this token has %s", rt.Scope, strings.Join(p.Scopes, ", ")),
			fmt.Sprintf("ask for a partner token with --scope %s", rt.Scope))
		return false
	}
	if other := r.URL.Query().Get("partner"); other != "" && other != p.Partner {
		s.audit(r.Context(), p, r, "api_partner_denied", what+": token of partner "+p.Partner+" asked for partner "+other)
		writeError(w, http.StatusForbidden, fmt.Sprintf("this token is bound to partner %s; it may not read another partner's data", p.Partner),
			"leave out partner= or name your own partner")
		return false
	}
	return true
}

// ownMessage lets a partner token reach only its partner's messages: a
// message of another partner answers exactly as one that does not exist,
// so IDs cannot be probed. Other principals pass.
func (s *Server) ownMessage(r *http.Request, p *principal, id string) error {
	if p == nil || p.Partner == "" {
		return nil
	}
	m, err := s.st.GetMessage(r.Context(), id)
	if err == nil && m.PartnerID == p.Partner {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return &httpError{http.StatusNotFound, fmt.Sprintf("no message %s", id), "check the ID (search your messages first)"}
}

// Parameters several routes share.
var (
	pLimit    = Param{Name: "limit", In: "query", Description: "at most this many (default 100)", Type: "integer", Min: 1, Max: 1000}
	pID       = Param{Name: "id", In: "path", Description: "message ID"}
	pPartner  = Param{Name: "partner", In: "query", Description: "partner ID"}
	pBeforeID = Param{Name: "before_id", In: "query", Description: "paging: the id of the last one seen (with before)"}
	pComment  = "JSON object {\"comment\": \"why\"}"
)

// Response bodies, as the OpenAPI document describes them.
type (
	meOut struct {
		Actor string `json:"actor" doc:"token:ID (name) or user:NAME"`
		Role  string `json:"role" enum:"auditor,operator,admin,partner"`
		// A partner token's binding.
		Partner string   `json:"partner,omitempty" doc:"a partner token: the partner it is bound to"`
		Scopes  []string `json:"scopes,omitempty" doc:"a partner token: its scopes"`
	}
	overviewOut struct {
		Windows []Window `json:"windows"`
	}
	dailyOut struct {
		Days []Day `json:"days"`
	}
	stuckOut struct {
		Stuck []StuckDoc `json:"stuck"`
	}
	partnersOut struct {
		Partners []partnerOut `json:"partners"`
	}
	messagesOut struct {
		Messages []*messageOut `json:"messages"`
		Next     *pageOut      `json:"next,omitempty" doc:"present when the page is full: the before and before_id of the next page"`
	}
	pageOut struct {
		Before   time.Time `json:"before"`
		BeforeID string    `json:"before_id"`
	}
	messageDetailOut struct {
		Message *messageOut    `json:"message"`
		Keys    []store.Key    `json:"keys"`
		Events  []*store.Event `json:"events"`
	}
	eventsOut struct {
		Events []*store.Event `json:"events"`
	}
	replayOut struct {
		Original   string          `json:"original" doc:"the replayed message's id"`
		Direction  store.Direction `json:"direction"`
		NewMessage string          `json:"new_message,omitempty" doc:"outbound: the id of the new message that re-sends it"`
		Job        int64           `json:"job,omitempty" doc:"inbound: the processing job that re-runs it"`
	}
	jobsOut struct {
		Jobs []JobInfo `json:"jobs"`
	}
	schedulesOut struct {
		Schedules []ScheduleInfo `json:"schedules"`
	}
	certificatesOut struct {
		Certificates []Cert `json:"certificates"`
	}
	auditOut struct {
		Audit []*store.AuditEvent `json:"audit"`
	}
	exceptionsOut struct {
		Exceptions []*store.Exception `json:"exceptions"`
	}
	exceptionDetailOut struct {
		*store.Exception
		Events []*store.ExceptionEvent `json:"events"`
	}
)

// openAPISchema describes the document itself.
var openAPISchema = Schema{"type": "object", "required": []string{"openapi", "info", "paths"},
	"description": "this OpenAPI 3 document", "properties": map[string]any{"openapi": map[string]string{"type": "string"},
		"info": map[string]string{"type": "object"}, "paths": map[string]string{"type": "object"}}}

func (s *Server) mountAPI() {
	auditor, operator := store.RoleAuditor, store.RoleOperator
	s.handle(Route{Method: "GET", Path: "/api/v1/openapi.json", Summary: "This OpenAPI 3 document", Tag: "meta", Response: openAPISchema},
		func(w http.ResponseWriter, r *http.Request, _ *principal) error {
			writeJSON(w, 200, s.OpenAPI())
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/me", Summary: "Who the token is and its role (a partner token: its partner and scopes)", Role: auditor, Scope: ScopeAnyPartner, Tag: "meta", Response: meOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			writeJSON(w, 200, meOut{Actor: p.Actor, Role: p.Role, Partner: p.Partner, Scopes: p.Scopes})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/overview", Summary: "Throughput and error rate per partner and transport, last 24 h and 7 days", Role: auditor, Tag: "operations", Response: overviewOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ws, err := s.Overview(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, overviewOut{Windows: ws})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/overview/daily", Summary: "Messages and errors per day (UTC), last 7 days, oldest first", Role: auditor, Tag: "operations", Response: dailyOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ds, err := s.Daily(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, dailyOut{Days: ds})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/stuck", Summary: "Documents that stopped: received not mapped, mapped not delivered, delivered not acknowledged", Role: auditor, Tag: "operations", Response: stuckOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			st, err := s.Stuck(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, stuckOut{Stuck: nonNil(st)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages", Summary: "Search archived messages, newest first (the filters of 'wharf archive search')", Role: auditor, Scope: store.ScopeMessagesRead, Tag: "messages", Response: messagesOut{},
		Params: []Param{pPartner, {Name: "direction", In: "query", Description: "in (received) or out (sent)", Enum: []string{"in", "out"}, Noun: "direction"},
			{Name: "since", In: "query", Description: "received at or after: RFC 3339 time (2026-01-31T00:00:00Z) or a date (2026-01-31, its midnight UTC)"},
			{Name: "until", In: "query", Description: "received before: RFC 3339 time or a date"},
			{Name: "key", In: "query", Description: "business key (PO, BOL, PRO, shipment, invoice) or control number"},
			{Name: "status", In: "query", Description: "status", Enum: statusNames(), List: true, Noun: "message status"},
			{Name: "transport", In: "query", Description: "transport name (sftp, as2, http, folder, s3, cli, ...)"},
			{Name: "filename", In: "query", Description: "the file's name, exactly, without its folder (997_X.edi finds outbound/997_X.edi)"},
			{Name: "traffic", In: "query", Description: "test: only test traffic (ISA15 T, partners or routes marked test); production: none of it", Enum: []string{store.TrafficTest, store.TrafficProduction}, Noun: "traffic"},
			{Name: "before", In: "query", Description: "paging: the received_at of the last message seen (with before_id its id)", Format: "date-time"},
			pBeforeID, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			f, err := messageFilter(r)
			if err != nil {
				return err
			}
			if p.Partner != "" {
				f.PartnerID = p.Partner
			}
			es, err := s.o.Archive.Search(r.Context(), f)
			if err != nil {
				return err
			}
			out := messagesOut{Messages: []*messageOut{}}
			for _, e := range es {
				out.Messages = append(out.Messages, entryJSON(e))
			}
			if err := s.markTest(r.Context(), f, out.Messages); err != nil {
				return err
			}
			if n := len(es); n > 0 && n == f.Limit {
				out.Next = &pageOut{Before: es[n-1].ReceivedAt, BeforeID: es[n-1].ID}
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}", Summary: "A message with its business keys and history", Role: auditor, Scope: store.ScopeMessagesRead, Tag: "messages", Params: []Param{pID}, Response: messageDetailOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			if err := s.ownMessage(r, p, r.PathValue("id")); err != nil {
				return err
			}
			d, err := s.Detail(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, messageDetailOut{Message: testEntry(d), Keys: nonNil(d.Keys), Events: nonNil(d.Events)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}/events", Summary: "A message's history, oldest first", Role: auditor, Scope: store.ScopeMessagesRead, Tag: "messages", Params: []Param{pID}, Response: eventsOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			if err := s.ownMessage(r, p, r.PathValue("id")); err != nil {
				return err
			}
			evs, err := s.o.Archive.Events(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, eventsOut{Events: nonNil(evs)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}/content", Summary: "The original bytes, byte for byte; X-Content-SHA256 carries their sha256", Role: auditor, Scope: store.ScopeMessagesRead, Tag: "messages",
		Params: []Param{pID}, Produces: "application/octet-stream"},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			if err := s.ownMessage(r, p, r.PathValue("id")); err != nil {
				return err
			}
			return s.download(w, r, p)
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/messages/{id}/replay", Summary: "Run a message again from its archived bytes: re-run processing of an inbound one or a dead letter's delivery; re-send any other outbound one as a new message", Role: operator, Tag: "messages",
		Params: []Param{pID}, Response: replayOut{}, Errors: []int{http.StatusServiceUnavailable}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			res, err := s.Replay(r.Context(), r.PathValue("id"), delivery.ReplayOptions{Actor: p.Actor})
			if err != nil {
				return err
			}
			s.audit(r.Context(), p, r, "replay", res.String())
			writeJSON(w, 200, replayOut{Original: res.Original.ID, Direction: res.Original.Direction, NewMessage: res.NewID, Job: res.Job})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/traces/{key}", Summary: "Everything Wharf knows about a business key, as one timeline", Role: auditor, Tag: "operations", Response: wsync.TraceResult{},
		Params: []Param{{Name: "key", In: "path", Description: "PO, BOL, PRO, shipment ID, invoice number or control number"}}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			tr, err := s.Trace(r.Context(), r.PathValue("key"))
			if err != nil {
				return err
			}
			if tr.Empty() {
				return &httpError{http.StatusNotFound, fmt.Sprintf("nothing is known about %q", tr.Key),
					"no message, order, shipment or invoice carries it (as 'wharf trace' says); check the key"}
			}
			writeJSON(w, 200, tr)
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/jobs", Summary: "Recent jobs, newest first", Role: auditor, Tag: "jobs", Response: jobsOut{}, Errors: []int{http.StatusServiceUnavailable},
		Params: []Param{{Name: "state", In: "query", Description: "job state", Enum: jobStateNames(), List: true, Noun: "job state"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			limit, err := limitOf(r)
			if err != nil {
				return err
			}
			js, err := s.Jobs(r.Context(), trimAll(r.URL.Query()["state"]), limit)
			if err != nil {
				return err
			}
			writeJSON(w, 200, jobsOut{Jobs: nonNil(js)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/schedules", Summary: "Schedules with their last and next run", Role: auditor, Tag: "jobs", Response: schedulesOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ss, err := s.Schedules(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, schedulesOut{Schedules: nonNil(ss)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/certificates", Summary: "AS2 certificates (Wharf's own and partners') with expiry, soonest first", Role: auditor, Tag: "partners", Response: certificatesOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			cs, err := s.Certificates(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, certificatesOut{Certificates: nonNil(cs)})
			return nil
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/archive/verify", Summary: "Check every stored blob against its sha256 and the hash chain", Role: auditor, Tag: "archive", Response: verifyOut{},
		Params: []Param{{Name: "skip_blobs", In: "query", Description: "true: check the hash chain only, without re-hashing blobs", Type: "boolean"}}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			rep, err := s.Verify(r, p, r.URL.Query().Get("skip_blobs") == "true")
			if err != nil {
				return err
			}
			writeJSON(w, 200, verifyJSON(rep))
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/audit", Summary: "Audit events, newest first", Role: store.RoleAdmin, Tag: "meta", Response: auditOut{},
		Params: []Param{{Name: "actor", In: "query", Description: "only this actor (as events name it: token:ID (name), user:NAME, cli:USER)"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			limit, err := limitOf(r)
			if err != nil {
				return err
			}
			evs, err := s.st.AuditEvents(r.Context(), r.URL.Query().Get("actor"), limit)
			if err != nil {
				return err
			}
			writeJSON(w, 200, auditOut{Audit: nonNil(evs)})
			return nil
		})
	s.mountPartnersAPI()
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

// messageFilter reads the search filters of `wharf archive search`
// (their names and enums were checked against the route's parameters).
func messageFilter(r *http.Request) (store.MessageFilter, error) {
	q := r.URL.Query()
	f := store.MessageFilter{PartnerID: q.Get("partner"), Key: strings.TrimSpace(q.Get("key")), Transport: strings.TrimSpace(q.Get("transport")),
		Name: strings.TrimSpace(q.Get("filename"))}
	switch t := q.Get("traffic"); t {
	case "", store.TrafficTest, store.TrafficProduction:
		f.Traffic = t
	default:
		return f, badRequest(fmt.Sprintf("traffic %q is not a kind of traffic", t), "use one of: test, production")
	}
	switch d := q.Get("direction"); d {
	case "", "in", "out":
		f.Direction = store.Direction(d)
	default:
		return f, badRequest(fmt.Sprintf("direction %q is not a direction", d), "use one of: in, out")
	}
	if i := strings.LastIndexAny(f.Name, `/\`); i >= 0 {
		f.Name = f.Name[i+1:] // the index holds base names
	}
	for _, v := range trimAll(q["status"]) {
		st, err := lifecycle.ParseStatus(v)
		if err != nil {
			return f, badRequest(fmt.Sprintf("status %q is not a message status", v), "use one of: "+strings.Join(statusNames(), ", "))
		}
		f.Statuses = append(f.Statuses, st)
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
			return f, badRequest(fmt.Sprintf("%s %q is not an RFC 3339 time or a date", t.name, v), "write it like 2026-01-31T00:00:00Z or 2026-01-31")
		}
		*t.dst = tm
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return f, badRequest(fmt.Sprintf("until %s is before since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339)), "swap them, or drop one")
	}
	before, err := pageBefore(q.Get("before"), q.Get("before_id"), "received_at of the last message")
	if err != nil {
		return f, err
	}
	f.Before, f.BeforeID = before, q.Get("before_id")
	n, err := limitOf(r)
	if err != nil {
		return f, err
	}
	f.Limit = n
	return f, nil
}

// pageBefore reads a page's before bound: an RFC 3339 time, given with
// before_id or not at all (before_id alone would quietly be ignored).
func pageBefore(before, beforeID, what string) (time.Time, error) {
	hint := "pass the " + what + " of the previous page as before and its id as before_id"
	if before == "" {
		if beforeID != "" {
			return time.Time{}, badRequest("before_id without before", hint)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, before)
	if err != nil {
		return time.Time{}, badRequest(fmt.Sprintf("before %q is not an RFC 3339 time", before), hint)
	}
	return t, nil
}

// statusNames are the message statuses, for enums and hints.
func statusNames() []string {
	var out []string
	for _, s := range lifecycle.Statuses() {
		out = append(out, string(s))
	}
	return out
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

// verifyOut is the verdict of an archive verify.
type verifyOut struct {
	OK             bool     `json:"ok" doc:"true when nothing was found wrong"`
	Entries        int64    `json:"entries" doc:"entry records in the hash chain"`
	Tombstones     int64    `json:"tombstones"`
	Blobs          int64    `json:"blobs" doc:"blobs re-hashed"`
	Bytes          int64    `json:"bytes" doc:"bytes re-hashed"`
	BlobsElsewhere int64    `json:"blobs_elsewhere" doc:"blobs waiting in another instance's spool (re-hashed by a later verify)"`
	Records        int64    `json:"records" doc:"chain records walked"`
	Head           chainOut `json:"head"`
	Problems       []string `json:"problems" doc:"in chain order; the first is the first broken entry"`
}

type chainOut struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func verifyJSON(rep *archive.Report) verifyOut {
	probs := []string{}
	for _, p := range rep.Problems {
		probs = append(probs, p.String())
	}
	return verifyOut{OK: rep.OK(), Entries: rep.Entries, Tombstones: rep.Tombstones, Blobs: rep.Blobs, Bytes: rep.Bytes,
		BlobsElsewhere: rep.Elsewhere, Records: rep.Records, Head: chainOut{Seq: rep.Head.Seq, Hash: rep.Head.Hash}, Problems: probs}
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
