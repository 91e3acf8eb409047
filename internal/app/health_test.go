package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// /readyz fails while the archive cannot take a file (full or read-only
// disk), naming only the component; /healthz, liveness, stays 200.
func TestReadyzFollowsTheArchive(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgFile := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgFile, []byte("data: "+data+"\nhttp: {addr: \"127.0.0.1:0\"}\nsftp: {addr: \"127.0.0.1:0\"}\n"), 0o600)
	c := mustConfig(t, cfgFile)
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(ctx, c, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitFor := func(path string, code int, body string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			gc, gb := get(path)
			if gc == code && gb == body {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d %q, want %d %q", path, gc, gb, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("/readyz", 200, "ok\n")
	// Every temporary folder of the archive becomes unusable (as root, a
	// chmod would not stop the writes).
	tmp := filepath.Join(data, "archive", ".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("/readyz", http.StatusServiceUnavailable, "archive: unavailable\n")
	waitFor("/healthz", 200, "ok\n")
	if l := logs.String(); !strings.Contains(l, "component=archive") || !strings.Contains(l, "not writable") {
		t.Fatalf("the log does not say why:\n%s", l)
	}
	os.Remove(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, "0"), 0o750); err != nil {
		t.Fatal(err)
	}
	waitFor("/readyz", 200, "ok\n")
}
