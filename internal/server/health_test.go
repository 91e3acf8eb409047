package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func getBody(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// The probes need no login: a failing check shows only its component; the
// error, which names the database user, name and address, goes to the log.
func TestReadyzHidesCheckErrorsFromCallers(t *testing.T) {
	pgErr := errors.New("failed to connect to `user=wharf database=orders`: 10.1.2.3:5432 (db.internal): dial error: connection refused")
	archErr := errors.New("archive: /srv/wharf/archive/.tmp/0 is not writable: read-only file system")
	var logs bytes.Buffer
	h := NewHTTP(prometheus.NewRegistry(), map[string]Checker{
		"database": func(context.Context) error { return pgErr },
		"archive":  func(context.Context) error { return archErr },
	})
	h.Log = slog.New(slog.NewTextHandler(&logs, nil))
	h.Ready.Store(true)
	code, body := getBody(h, "/readyz")
	if code != http.StatusServiceUnavailable || body != "archive: unavailable\ndatabase: unavailable\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	for _, secret := range []string{"wharf", "orders", "10.1.2.3", "5432", "db.internal", "/srv", "read-only"} {
		if strings.Contains(body, secret) {
			t.Fatalf("/readyz shows %q to anonymous callers: %q", secret, body)
		}
	}
	log := logs.String()
	for _, want := range []string{"component=database", "10.1.2.3:5432", "component=archive", "read-only file system"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
	// A check that keeps failing the same way is not logged on every probe.
	n := strings.Count(logs.String(), "\n")
	getBody(h, "/readyz")
	if m := strings.Count(logs.String(), "\n"); m != n {
		t.Fatalf("a repeated failure was logged again:\n%s", logs.String())
	}
}

// /healthz is liveness: it answers 200 once started, whatever the
// dependencies say (restarting Wharf does not bring a database back);
// /readyz is readiness and fails with them.
func TestHealthzIsLivenessReadyzIsReadiness(t *testing.T) {
	var dbErr error
	h := NewHTTP(prometheus.NewRegistry(), map[string]Checker{"database": func(context.Context) error { return dbErr }})
	h.Log = slog.New(slog.DiscardHandler)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := getBody(h, p); code != http.StatusServiceUnavailable || body != "starting\n" {
			t.Fatalf("%s before start: %d %q", p, code, body)
		}
	}
	h.Ready.Store(true)
	dbErr = errors.New("connection refused")
	if code, body := getBody(h, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz with the database down: %d %q", code, body)
	}
	if code, _ := getBody(h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d", code)
	}
	dbErr = nil
	if code, body := getBody(h, "/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz recovered: %d %q", code, body)
	}
}

// A check that does not answer (a hung NFS mount) fails readiness within
// the probe's time limit instead of hanging the probe.
func TestReadyzBoundsAHungCheck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := NewHTTP(prometheus.NewRegistry(), map[string]Checker{"archive": func(context.Context) error { <-release; return nil }})
	h.Log = slog.New(slog.DiscardHandler)
	h.Ready.Store(true)
	start := time.Now()
	if code, body := getBody(h, "/readyz"); code != http.StatusServiceUnavailable || body != "archive: unavailable\n" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	if d := time.Since(start); d > checkTimeout+time.Second {
		t.Fatalf("/readyz took %s", d)
	}
}
