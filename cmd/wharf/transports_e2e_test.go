package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharfedi/wharf/internal/testenv"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// TestTransportsEndToEnd runs `wharf serve` with a partner on a watched
// folder, a bucket and HTTP (inbound token, outbound webhook): an X12 load
// arriving on each is archived and its 997 delivered back over the same
// transport; a webhook that refuses (4xx) dead-letters the 997, and
// `wharf replay` re-sends it once the receiver accepts. SQLite and
// PostgreSQL.
func TestTransportsEndToEnd(t *testing.T) {
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			var env []string
			if db == "Postgres" {
				env = append(env, "WHARF_DATABASE_URL="+testenv.Postgres(t))
			}
			testTransportsEndToEnd(t, env)
		})
	}
}

func testTransportsEndToEnd(t *testing.T, env []string) {
	s3 := testenv.S3(t)
	dir := t.TempDir()
	load, err := os.ReadFile(corpusFile("004010/204.edi"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("hook-secret")
	var accept atomic.Bool
	var mu sync.Mutex
	var hooks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := whttp.Verify(secret, r.Header.Get(whttp.HeaderTimestamp), r.Header.Get(whttp.HeaderSignature), b, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !accept.Load() {
			http.Error(w, "unknown carrier", http.StatusUnprocessableEntity)
			return
		}
		mu.Lock()
		hooks = append(hooks, r.Header.Get(whttp.HeaderFilename)+" "+string(b))
		mu.Unlock()
	}))
	defer hook.Close()

	in, out := filepath.Join(dir, "erp-out"), filepath.Join(dir, "erp-in")
	cfg := fmt.Sprintf(`partners:
  - id: erp
    folder: {inbound: %s, outbound: %s, stable: false}
    s3_remote:
      endpoint: %s
      plain_http: true
      bucket: %s
      access_key_env: T_S3_KEY
      secret_key_env: T_S3_SECRET
      pull: {prefix: drop, schedule: "@every 1s"}
      push: {prefix: acks}
    http:
      token_env: T_ERP_TOKEN
      webhook: {url: %q, secret_env: T_HOOK_SECRET, timeout: 5s}
`, in, out, s3.Endpoint, s3.Bucket, hook.URL)
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600)
	env = append(env, "T_S3_KEY="+s3.AccessKey, "T_S3_SECRET="+s3.SecretKey, "T_ERP_TOKEN=tok", "T_HOOK_SECRET="+string(secret))
	if out, code := runCLI(t, dir, env, "config", "check", "--config", "wharf.yaml"); code != 0 {
		t.Fatalf("config check: %s", out)
	}
	srv := startServer(t, dir, env, "--config", "wharf.yaml")
	defer srv.stop(t)

	// Folder: written under a dot name, then renamed (the writer's convention).
	os.WriteFile(filepath.Join(in, ".load.edi"), load, 0o644)
	os.Rename(filepath.Join(in, ".load.edi"), filepath.Join(in, "load.edi"))
	waitFor(t, "the 997 in the outbound folder", func() bool {
		b, err := os.ReadFile(filepath.Join(out, "997_load.edi"))
		return err == nil && bytes.Contains(b, []byte("AK5*A~"))
	})
	if _, err := os.Stat(filepath.Join(in, "processed", "load.edi")); err != nil {
		t.Fatalf("the inbound file was not moved to processed/: %v\n%s", err, srv.logs)
	}

	// Each transport gets its own interchange: the same ISA13 again from the
	// partner is a duplicate, acknowledged by a TA1 (TA1_NAME), not a 997.
	s3Load := bytes.ReplaceAll(load, []byte("000000204"), []byte("000000205"))
	webLoad := bytes.ReplaceAll(load, []byte("000000204"), []byte("000000206"))

	// S3: dropped under drop/, 997 put under acks/.
	if _, err := s3.Client.PutObject(t.Context(), s3.Bucket, "drop/s3load.edi", bytes.NewReader(s3Load), int64(len(s3Load)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 997 under acks/ in the bucket", func() bool {
		_, err := s3.Client.StatObject(t.Context(), s3.Bucket, "acks/997_s3load.edi", minio.StatObjectOptions{})
		return err == nil
	})
	if _, err := s3.Client.StatObject(t.Context(), s3.Bucket, "drop/s3load.edi", minio.StatObjectOptions{}); err == nil {
		t.Fatal("the pulled object was not deleted after archiving")
	}

	// HTTP: a wrong token is refused; the right one is archived (201); the
	// 997 goes to the webhook, which refuses it: dead letter at once.
	post := func(token string) int {
		req, _ := http.NewRequest("POST", srv.http+"/api/v1/inbound/erp?filename=web.edi", bytes.NewReader(webLoad))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("nope"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code := post("tok"); code != 201 {
		t.Fatalf("post: %d\n%s", code, srv.logs)
	}
	var ack archived
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.logs)
		}
	}()
	waitFor(t, "the webhook 997 dead-lettered", func() bool {
		for _, a := range searchIn(t, dir, env, "--partner", "erp", "--direction", "out") {
			if a.Transport == "http" && a.Status == "dead_letter" {
				ack = a
				return true
			}
		}
		return false
	})
	evs, _ := runCLI(t, dir, env, "archive", "events", "--config", "wharf.yaml", ack.ID)
	if !strings.Contains(evs, "dead_letter") || !strings.Contains(evs, "422") {
		t.Fatalf("dead letter history:\n%s", evs)
	}
	accept.Store(true)
	outText, code := runCLI(t, dir, env, "replay", "--config", "wharf.yaml", ack.ID)
	if code != 0 || !strings.Contains(outText, "delivery of dead letter "+ack.ID+" re-run") {
		t.Fatalf("replay: %d %s", code, outText)
	}
	waitFor(t, "the replayed 997 at the webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) == 1 && strings.HasPrefix(hooks[0], "997_web.edi ISA*")
	})
	var replayed int
	for _, a := range searchIn(t, dir, env, "--partner", "erp", "--direction", "out") {
		if a.Transport == "http" && a.Status == "delivered" && a.SHA256 == ack.SHA256 {
			replayed++
		}
	}
	if replayed != 1 {
		t.Fatalf("want one delivered replay with the original's bytes, got %d", replayed)
	}
	evs, _ = runCLI(t, dir, env, "archive", "events", "--config", "wharf.yaml", ack.ID)
	if !strings.Contains(evs, "replayed") {
		t.Fatalf("the original's history does not link the replay:\n%s", evs)
	}
}

// searchIn is searchArchive with an environment (the PostgreSQL URL).
func searchIn(t *testing.T, dir string, env []string, args ...string) []archived {
	t.Helper()
	out, code := runCLI(t, dir, env, append([]string{"archive", "search", "--config", "wharf.yaml", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("archive search: %s", out)
	}
	var res []archived
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var a archived
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		res = append(res, a)
	}
	return res
}
