package main

import (
	"strings"
	"testing"
)

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
