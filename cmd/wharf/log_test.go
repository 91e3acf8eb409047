package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// JSON logs carry durations in milliseconds under a key that says so;
// text logs keep Go's readable form.
func TestLogDurations(t *testing.T) {
	var j, x bytes.Buffer
	newLogger(&j, "json", "info").Info("shutting down", "budget", 30*time.Second, "took", 1500*time.Microsecond)
	if s := j.String(); !strings.Contains(s, `"budget_ms":30000`) || !strings.Contains(s, `"took_ms":1.5`) {
		t.Errorf("json: %s", s)
	}
	newLogger(&x, "text", "info").Info("shutting down", "budget", 30*time.Second)
	if s := x.String(); !strings.Contains(s, "budget=30s") {
		t.Errorf("text: %s", s)
	}
}

// wharf healthcheck answers 0 while the server is ready and 1 once it is
// gone, for a container's health check.
func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, nil)
	addr := strings.TrimPrefix(srv.http, "http://")
	if out, code := runCLI(t, dir, []string{"WHARF_HTTP_ADDR=" + addr}, "healthcheck"); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("healthcheck of a running server: %d %s", code, out)
	}
	srv.stop(t)
	if out, code := runCLI(t, dir, []string{"WHARF_HTTP_ADDR=" + addr}, "healthcheck", "--timeout", "2s"); code != 1 || !strings.Contains(out, "no answer") {
		t.Fatalf("healthcheck of a stopped server: %d %s", code, out)
	}
}
