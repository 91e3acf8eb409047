// Package server holds Wharf's network listeners: HTTP (health, metrics;
// later the AS2 endpoint, the API and the console) and the partner-facing
// SFTP listener.
package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports whether a dependency Wharf needs to accept work answers
// (the database, the archive). /readyz runs it; its error goes to the log,
// never to the caller.
type Checker func(ctx context.Context) error

// HTTP is the HTTP handler set. Ready flips once everything has started.
type HTTP struct {
	Ready atomic.Bool
	// Log receives the details of failed readiness checks (default
	// slog.Default()). Set it before serving.
	Log      *slog.Logger
	mux      *http.ServeMux
	root     atomic.Pointer[http.Handler]
	checks   map[string]Checker
	names    []string // checks' names, sorted
	gatherer prometheus.Gatherer
	// metricsToken, when set, is required as a bearer token on /metrics.
	metricsToken string

	failMu sync.Mutex
	failed map[string]checkFailure // failing checks, for logging changes only
}

// checkFailure is what was last logged about a failing check.
type checkFailure struct {
	err string
	at  time.Time
}

// checkTimeout bounds a readiness probe; checkRelog is how often a check
// that keeps failing with the same error is logged again.
const (
	checkTimeout = 2 * time.Second
	checkRelog   = time.Minute
)

// ProtectMetrics makes /metrics answer only requests that carry the
// token as a bearer token (Prometheus: authorization.credentials). Call it
// before serving.
func (h *HTTP) ProtectMetrics(token string) { h.metricsToken = token }

// NewHTTP returns the handler with /healthz (liveness), /readyz (readiness:
// the checks) and /metrics.
func NewHTTP(g prometheus.Gatherer, checks map[string]Checker) *HTTP {
	h := &HTTP{mux: http.NewServeMux(), checks: checks, gatherer: g, failed: map[string]checkFailure{}}
	for name := range checks {
		h.names = append(h.names, name)
	}
	sort.Strings(h.names)
	h.mux.HandleFunc("GET /healthz", h.live)
	h.mux.HandleFunc("GET /readyz", h.ready)
	metrics := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	h.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if h.metricsToken != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.metricsToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="wharf-metrics"`)
				http.Error(w, "metrics need 'Authorization: Bearer TOKEN' (the token of WHARF_METRICS_TOKEN or metrics.token_file)", http.StatusUnauthorized)
				return
			}
		}
		metrics.ServeHTTP(w, r)
	})
	h.mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if root := h.root.Load(); root != nil {
			(*root).ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Wharf is running.\n\nGET /healthz  liveness (200 once started)\nGET /readyz   readiness (200 while Wharf can accept work)\nGET /metrics  Prometheus metrics\n"))
	})
	return h
}

// SetRoot serves "/" with handler (the operations console) instead of the
// plain-text notice.
func (h *HTTP) SetRoot(handler http.Handler) { h.root.Store(&handler) }

// EnableProfiling serves Go's profiles under /debug/pprof/ (for measuring;
// enabled by WHARF_DEBUG_PPROF=1, never by default).
func (h *HTTP) EnableProfiling() {
	h.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	h.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	h.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
}

// Handle adds a route (later issues add /as2, /api/v1, the console).
func (h *HTTP) Handle(pattern string, handler http.Handler) { h.mux.Handle(pattern, handler) }

func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// starting answers 503 "starting" until the server is ready (and says
// whether it did); both probes' answers are plain text, never cached.
func (h *HTTP) starting(w http.ResponseWriter) bool {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.Ready.Load() {
		return false
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte("starting\n"))
	return true
}

// live answers /healthz: the process has started and serves requests. It
// runs no checks: a database or archive outage is not cured by restarting
// Wharf, so a liveness probe must not fail for one (that is /readyz).
func (h *HTTP) live(w http.ResponseWriter, r *http.Request) {
	if h.starting(w) {
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// ready answers /readyz: 200 while Wharf can accept work (every check
// passes), 503 otherwise. The endpoint needs no login, so the body names
// only the failing components ("database: unavailable"); the errors, which
// may name hosts, users and folders, go to the log.
func (h *HTTP) ready(w http.ResponseWriter, r *http.Request) {
	if h.starting(w) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	errs := make([]chan error, len(h.names))
	for i, name := range h.names {
		errs[i] = make(chan error, 1) // buffered: a check that outlives ctx does not leak its goroutine
		go func() { errs[i] <- h.checks[name](ctx) }()
	}
	var body []byte
	for i, name := range h.names {
		var err error
		select {
		case err = <-errs[i]:
		case <-ctx.Done():
			err = fmt.Errorf("no answer within %s: %w", checkTimeout, ctx.Err())
		}
		h.logCheck(name, err)
		if err != nil {
			body = append(body, name+": unavailable\n"...)
		}
	}
	if body != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// logCheck logs a check that starts failing, fails differently, keeps
// failing (once a minute), or recovers; not every probe.
func (h *HTTP) logCheck(name string, err error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	h.failMu.Lock()
	defer h.failMu.Unlock()
	prev, failing := h.failed[name]
	if err == nil {
		if failing {
			delete(h.failed, name)
			log.Info("readiness check passes again", "component", name)
		}
		return
	}
	now := time.Now()
	if failing && prev.err == err.Error() && now.Sub(prev.at) < checkRelog {
		return
	}
	h.failed[name] = checkFailure{err: err.Error(), at: now}
	log.Warn("readiness check failed: Wharf answers /readyz with 503", "component", name, "err", err)
}

// NewHTTPServer wraps the handler with the timeouts a public listener needs:
// the request line and headers within 10 s (slowloris), an idle keep-alive
// connection closed after 2 min. ReadTimeout and WriteTimeout stay unset on
// purpose: a whole-request deadline would cut off large AS2 uploads on slow
// links. Handlers that read bodies pace them instead: POST /as2 moves a read
// deadline with the body (http.ResponseController; as2.Server's BodyIdle and
// MinBodyRate) and answers 408 to a body that stalls or dribbles.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
