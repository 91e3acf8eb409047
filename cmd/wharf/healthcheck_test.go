package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/testenv"
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

// http.tls_cert_file and http.tls_key_file: the HTTP listener serves
// HTTPS itself (the ready line says https://), and the health check asks
// it over TLS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	_, _, pool := testenv.TLSCert(t, dir, "wharf.example") // tls_cert.pem and tls_key.pem
	cfg := filepath.Join(dir, "wharf.yaml")
	if err := os.WriteFile(cfg, []byte("http:\n  tls_cert_file: tls_cert.pem\n  tls_key_file: tls_key.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dir, nil, "--config", cfg)
	defer srv.stop(t)
	if !strings.HasPrefix(srv.http, "https://") {
		t.Fatalf("ready line names %s, want https://", srv.http)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get(srv.http + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("GET /healthz over TLS: %d", res.StatusCode)
	}
	// Plain HTTP to a TLS listener gets no page.
	if res, err := http.Get("http://" + strings.TrimPrefix(srv.http, "https://") + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP answered 200 on the TLS listener")
		}
	}
	addr := strings.TrimPrefix(srv.http, "https://")
	if out, code := runCLI(t, dir, []string{"WHARF_HTTP_ADDR=" + addr}, "healthcheck", "--config", cfg); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("healthcheck over TLS: %d %s", code, out)
	}
}
