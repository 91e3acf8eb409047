// Package server holds Wharf's network listeners: HTTP (health, metrics;
// later the AS2 endpoint, the API and the console) and the partner-facing
// SFTP listener.
package server

import (
	"context"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports whether a dependency (the database) answers.
type Checker func(ctx context.Context) error

// HTTP is the HTTP handler set. Ready flips once everything has started.
type HTTP struct {
	Ready    atomic.Bool
	mux      *http.ServeMux
	root     atomic.Pointer[http.Handler]
	checks   map[string]Checker
	gatherer prometheus.Gatherer
}

// NewHTTP returns the handler with /healthz, /readyz and /metrics.
func NewHTTP(g prometheus.Gatherer, checks map[string]Checker) *HTTP {
	h := &HTTP{mux: http.NewServeMux(), checks: checks, gatherer: g}
	h.mux.HandleFunc("GET /healthz", h.health)
	h.mux.HandleFunc("GET /readyz", h.health)
	h.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
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
		_, _ = w.Write([]byte("Wharf is running.\n\nGET /healthz  health (200 when ready)\nGET /metrics  Prometheus metrics\n"))
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

func (h *HTTP) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !h.Ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for name, check := range h.checks {
		if err := check(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(name + ": " + err.Error() + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// NewHTTPServer wraps the handler with the timeouts a public listener needs.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
