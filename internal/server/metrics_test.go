package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// With a token, /metrics (which names partners and certificates) answers
// only a request bearing it; without one it is open, as before.
func TestMetricsToken(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_test_total", Help: "a test counter"}))
	for _, c := range []struct {
		token, auth string
		want        int
	}{
		{"", "", 200},
		{"0123456789abcdef0123", "", 401},
		{"0123456789abcdef0123", "Bearer wrong-token-wrong-token", 401},
		{"0123456789abcdef0123", "Bearer 0123456789abcdef0123", 200},
	} {
		h := NewHTTP(reg, nil)
		h.ProtectMetrics(c.token)
		req := httptest.NewRequest("GET", "/metrics", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("token %q, Authorization %q: %d, want %d", c.token, c.auth, rec.Code, c.want)
		}
		if c.want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
}
