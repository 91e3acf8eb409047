// Package web serves what people and their scripts use to see and act on
// Wharf: the REST API under /api/v1 (bearer tokens, JSON, an OpenAPI 3
// document at /api/v1/openapi.json) and the operations console at /
// (server-rendered HTML with a little JavaScript, every asset embedded).
//
// Both sit on the same operations (ops.go): overview counts, stuck
// documents, traces, certificates, schedules, the exceptions queue,
// replays and archive verification. Roles: auditor reads everything,
// downloads originals and runs verify; operator also acts on exceptions
// and replays; admin may do everything. Every action is an audit event
// (store.AppendAudit) naming the token or user.
//
// Nothing imports this package but cmd/wharf, which mounts it on the HTTP
// listener with [Server.Mount].
package web

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/defender"
	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/ratelimit"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// HeldCert is a certificate Wharf holds and whose it is ("" for Wharf's own).
type HeldCert struct {
	Owner string
	Cert  *x509.Certificate
}

// Options configure a Server. Store and Archive are required.
type Options struct {
	Store   store.Store
	Archive *archive.Archive
	// Foreground, when set, counts the documents posted to the API while
	// their client waits for the answer: processing gives way meanwhile
	// (internal/foreground).
	Foreground *foreground.Gauge
	// Jobs is the running job runtime (replays enqueue through it; the jobs
	// page lists its jobs and schedules). Nil: those features say so.
	Jobs *jobs.Runtime
	// HeldCerts lists every certificate Wharf holds, its own (Owner "")
	// and its partners', from the configuration and the store: the
	// application's one partner directory, which the certificate metric
	// and the expiry check read too. Nil: the partners' certificates in the
	// store only.
	HeldCerts func(ctx context.Context) ([]HeldCert, error)
	// ExternalRoutes documents routes under /api/v1 that others mount on the
	// same listener (the HTTP inbound transport), so the OpenAPI document
	// lists every route the listener answers.
	ExternalRoutes []Route
	// TraceDocuments maps a message of a trace to its canonical documents
	// (process.Processor.Documents); nil leaves them out of traces.
	TraceDocuments func(ctx context.Context, m *store.Message) ([]canonical.Document, error)
	// ConfigPartner tells whether the configuration file declares the
	// partner (read-only in the console and the API); nil: those whose
	// source is config. ConfigFile names the file in what they say.
	ConfigPartner func(id string) bool
	ConfigFile    string
	// EndSFTPSessions ends the partner's live SFTP sessions (when it is
	// disabled) and returns how many it ended; nil: none are tracked.
	EndSFTPSessions func(partner string) int
	// SFTPSessions lists the live sessions of this process's SFTP server;
	// nil: it runs none (the sessions page and route say so).
	SFTPSessions func() []SFTPSession
	// StuckAfter is how long a document may wait at one step before the
	// console calls it stuck (default 15 minutes).
	StuckAfter time.Duration
	Log        *slog.Logger
	// Metrics, when set, receives the overview's gauges.
	Metrics prometheus.Registerer
	Now     func() time.Time
	// EventSinks, when set, gives each event subscription's state, for the
	// overview (events.Publisher.Status).
	EventSinks func(ctx context.Context) ([]EventSink, error)
	// Guard counts failed authentications (API tokens, console sign-ins)
	// per address and locks out an address past AuthAttempts within
	// AuthWindow; the application shares it with the HTTP inbound
	// transport. Nil: one of the web server's own.
	Guard *defender.Defender
	// Limits, when set, limits each API token's requests: over its limit a request is answered 429 with Retry-After
	// and runs nothing.
	Limits *ratelimit.Doors
}

// AuthAttempts failed authentications from one address within AuthWindow
// lock it out of the HTTP listener's authenticated doors until the oldest
// leaves the window.
const (
	AuthAttempts = 10
	AuthWindow   = 5 * time.Minute
)

// Server is the API and the console.
type Server struct {
	o       Options
	st      store.Store
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route // mounted API routes, in order
	tmpl    *templates
	metrics *overviewMetrics
	// flashKey signs the message a redirect carries to the next page, so
	// that a link cannot make the console show text of its author's
	// choosing (/ui/signin?flash=...).
	flashKey []byte
}

// Route is one API route as the OpenAPI document lists it.
type Route struct {
	Method, Path string
	Summary      string
	Role         string // least role allowed; "" for public, "partner" for the HTTP inbound transport's partner auth
	// Scope is the scope a partner token (store.RolePartner) needs for the
	// route, which then answers with that partner's data only;
	// ScopeAnyPartner for any partner token; "" refuses partner tokens.
	Scope    string
	Params   []Param
	Body     string // request body description; "" for none
	Produces string // content type of a success; default application/json
	Tag      string
	// Response is a value of the Go type a success encodes (its schema is
	// generated from the type), or a Schema; unused for
	// application/octet-stream.
	Response any
	// Request is a value of the Go type of the JSON body the route
	// requires (its schema is generated from the type), or a Schema; nil
	// for none.
	Request any
	// Never lists statuses the route's kind implies that it cannot
	// answer (a PUT that creates what is missing is never 404).
	Never []int
	// Status is the status of a success (default 200).
	Status int
	// Errors lists the error statuses the route answers besides those
	// every API route of its kind answers (401, 403, 404, 429, 400 for
	// query parameters); an external route lists all of its own.
	Errors []int
	// Deprecated marks a route that will go (docs/api.md, Versions and
	// deprecation): every answer carries Deprecation, Sunset and a Link to
	// its successor, and the OpenAPI document flags the operation.
	Deprecated *Deprecation
}

// Deprecation says since when a route is deprecated, when it stops being
// served, and what replaces it.
type Deprecation struct {
	Since, Sunset time.Time
	Successor     string // the path (or URL) of what replaces the route
}

// setHeaders writes the deprecation headers: Deprecation (RFC 9745, the
// time as @UNIX-SECONDS), Sunset (RFC 8594, an HTTP date) and the
// successor as a Link with rel="successor-version".
func (d *Deprecation) setHeaders(h http.Header) {
	h.Set("Deprecation", fmt.Sprintf("@%d", d.Since.Unix()))
	h.Set("Sunset", d.Sunset.UTC().Format(http.TimeFormat))
	if d.Successor != "" {
		h.Add("Link", "<"+d.Successor+`>; rel="successor-version"`)
	}
}

// Param is a query or path parameter of a route. A query parameter's
// value is checked before the handler runs: Type "integer" (Min..Max),
// "boolean" (true or false), or a string within Enum (each of its
// comma-separated values when List).
type Param struct {
	Name, In, Description string
	Type                  string // "" (string), "integer" or "boolean"
	Format                string // of a string: date-time, ...
	Enum                  []string
	List                  bool   // comma-separated or repeated values
	Noun                  string // what a value is ("job state"), for the 400's wording
	Min, Max              int    // of an integer
}

// New builds the server.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Archive == nil {
		return nil, errors.New("web: Store and Archive are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 15 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Guard == nil {
		o.Guard = defender.New(AuthAttempts, AuthWindow, o.Now)
	}
	s := &Server{o: o, st: o.Store, log: o.Log, mux: http.NewServeMux(), flashKey: make([]byte, 32)}
	if _, err := rand.Read(s.flashKey); err != nil {
		return nil, err
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s.tmpl = t
	s.mountAPI()
	s.mountAdminAPI()
	s.mountConsole()
	s.mountAdminConsole()
	s.mountPartnersConsole()
	s.mountSessions()
	s.mountPreview()
	s.mountObjects()
	s.mountDocuments()
	s.mountCharts()
	s.mountScheduleRun()
	if o.Metrics != nil {
		s.metrics = newOverviewMetrics(s)
		if err := o.Metrics.Register(s.metrics); err != nil {
			return nil, fmt.Errorf("web: metrics: %w", err)
		}
	}
	return s, nil
}

func (s *Server) now() time.Time { return s.o.Now().UTC() }

// Mount adds the API (/api/v1/) and the console's pages (/ui/, /assets/)
// to a listener's mux. The console's home page is "/": serve the Server
// there too (server.HTTP.SetRoot).
func (s *Server) Mount(h interface{ Handle(string, http.Handler) }) {
	h.Handle("/api/v1/", s)
	h.Handle("/ui/", s)
	h.Handle("/assets/", s)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Routes returns the mounted API routes and the external ones, sorted.
func (s *Server) Routes() []Route {
	out := append(append([]Route(nil), s.routes...), s.o.ExternalRoutes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg, hint string) {
	writeJSON(w, code, apiError{Error: msg, Hint: hint})
}

// httpError is an error with the status and hint the API answers.
type httpError struct {
	code int
	msg  string
	hint string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg, hint string) error { return &httpError{http.StatusBadRequest, msg, hint} }

// statusOf maps an operation's error to an HTTP status, message and hint.
func statusOf(err error) (int, string, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg, he.hint
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error(), "check the ID (list or search first)"
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, err.Error(), ""
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, err.Error(), ""
	case errors.Is(err, context.Canceled):
		return 499, "request cancelled", ""
	}
	return http.StatusInternalServerError, err.Error(), "see the server log; retry once the cause is fixed"
}

// audit records an action; a failure to record is logged, never hidden.
func (s *Server) audit(ctx context.Context, p *principal, r *http.Request, kind, detail string) {
	actor := ""
	if p != nil {
		actor = p.Actor
	}
	if err := s.st.AppendAudit(ctx, &store.AuditEvent{Actor: actor, Kind: kind, Remote: r.RemoteAddr, Detail: detail}); err != nil {
		s.log.Error("audit event not recorded", "kind", kind, "actor", actor, "err", err)
	}
}

// authFailed records a wrong secret from r's address (audited as kind);
// the failure that locks the address out is logged and audited too.
func (s *Server) authFailed(ctx context.Context, p *principal, r *http.Request, kind, detail string) {
	s.audit(ctx, p, r, kind, detail)
	if s.o.Guard.Fail(r.RemoteAddr) {
		s.log.Warn("address locked out after repeated failed authentications", "remote", r.RemoteAddr, "attempts", AuthAttempts, "window", AuthWindow)
		s.audit(ctx, nil, r, "auth_locked_out", fmt.Sprintf("%d failed authentications within %s", AuthAttempts, AuthWindow))
	}
}

// lockedOut answers an address locked out by repeated failures with 429
// and Retry-After, and reports whether it did.
func (s *Server) lockedOut(w http.ResponseWriter, r *http.Request) bool {
	locked, wait := s.o.Guard.Locked(r.RemoteAddr)
	if !locked {
		return false
	}
	secs := defender.Seconds(wait)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed authentications from this address: try again in %d s", secs),
		fmt.Sprintf("%d failures within %s lock an address out; check the token you send", AuthAttempts, AuthWindow))
	return true
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
