package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// wharfBinary is cmd/wharf built once per test run: these tests drive the
// real process (signals, exit codes, a second process beside the server).
func wharfBinary(t *testing.T) string { return testenv.WharfBinary(t) }

type serveProc struct {
	cmd    *exec.Cmd
	http   string
	sftp   string
	logs   *testenv.Buffer
	exited chan error
}

var tokenRE = regexp.MustCompile(`wharf_[0-9a-f]{8}_[A-Za-z0-9_-]{43}`)

var readyLine = regexp.MustCompile(`msg="wharf ready".* http=(https?://\S+) sftp=(\S+)`)

// startServer runs `wharf serve` in dir with env and waits for its ready line.
func startServer(t *testing.T, dir string, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(wharfBinary(t), append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0"}, env...)...)
	pr, pw := io.Pipe()
	logs := &testenv.Buffer{}
	cmd.Stderr = io.MultiWriter(pw, logs)
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serveProc{cmd: cmd, logs: logs, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-found:
		s.http, s.sftp = a[0], a[1]
	case err := <-s.exited:
		t.Fatalf("wharf serve exited before ready (%v):\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("wharf serve not ready after 60s:\n%s", logs)
	}
	return s
}

// stop sends SIGTERM and requires exit 0 within the 30 s contract.
func (s *serveProc) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("wharf serve exited with %v after SIGTERM:\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("wharf serve still running 30s after SIGTERM:\n%s", s.logs)
	}
}

func runCLI(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(wharfBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestServeZeroConfigAndSecondProcess(t *testing.T) {
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := t.TempDir()
			var env []string
			if db == "Postgres" {
				env = append(env, "WHARF_DATABASE_URL="+testenv.Postgres(t))
			}
			srv := startServer(t, dir, env)
			// A new installation: an admin token, shown once, that works.
			tokens := tokenRE.FindAllString(srv.logs.String(), -1)
			if len(tokens) != 1 || !strings.Contains(srv.logs.String(), "token_id=") {
				t.Fatalf("first start printed %d tokens, want 1:\n%s", len(tokens), srv.logs)
			}
			req, _ := http.NewRequest("GET", srv.http+"/api/v1/stuck", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[0])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("the first admin token: GET /api/v1/stuck = %d", resp.StatusCode)
			}
			resp, err = http.Get(srv.http + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/healthz = %d", resp.StatusCode)
			}
			resp, err = http.Get(srv.http + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "wharf_build_info") || !strings.Contains(string(body), "go_goroutines") {
				t.Fatalf("/metrics lacks wharf and Go metrics:\n%.500s", body)
			}
			// The data folder holds the host key (and the SQLite database).
			key1, err := os.ReadFile(filepath.Join(dir, "wharf-data", "ssh_host_ed25519_key"))
			if err != nil {
				t.Fatal(err)
			}
			// The store's writer says what it did (SQLite's one writer,
			// PostgreSQL's lanes of shared transactions).
			if !strings.Contains(string(body), "\nwharf_store_writer_commits_total ") {
				t.Fatalf("%s: /metrics lacks the store writer's metrics", db)
			}
			if db == "SQLite" {
				if _, err := os.Stat(filepath.Join(dir, "wharf-data", "wharf.db")); err != nil {
					t.Fatal(err)
				}
			}
			// The SFTP listener presents that key.
			if got := sshHostKey(t, srv.sftp); !bytes.Contains(key1, []byte("OPENSSH PRIVATE KEY")) || got == "" {
				t.Fatalf("no host key presented")
			}

			// A second process works on the same data while serve runs.
			pub := filepath.Join(dir, "acme.pub")
			os.WriteFile(pub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9zzgc16E+9TDf6d0Y+6VZ4t3dgMWQpniUXbQs1DdqW test-a\n"), 0o600)
			if out, code := runCLI(t, dir, env, "partner", "add", "acme", "--name", "ACME Freight", "--x12-id", "ZZ:ACME", "--sftp-key", pub); code != 0 {
				t.Fatalf("partner add: %d %s", code, out)
			}
			out, code := runCLI(t, dir, env, "partner", "list", "--json")
			if code != 0 {
				t.Fatalf("partner list: %d %s", code, out)
			}
			var p struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				X12IDs []string `json:"x12_ids"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &p); err != nil || p.ID != "acme" || p.Name != "ACME Freight" || p.X12IDs[0] != "ZZ:ACME" {
				t.Fatalf("partner list --json: %v %q", err, out)
			}
			srv.stop(t)

			// Restart: same host key, data kept, no second token.
			srv = startServer(t, dir, env)
			if tokenRE.MatchString(srv.logs.String()) {
				t.Fatalf("a restart printed a token again:\n%s", srv.logs)
			}
			key2, _ := os.ReadFile(filepath.Join(dir, "wharf-data", "ssh_host_ed25519_key"))
			if !bytes.Equal(key1, key2) {
				t.Fatal("host key changed across restarts")
			}
			out, _ = runCLI(t, dir, env, "partner", "list")
			if !strings.Contains(out, "acme") || !strings.Contains(out, "ZZ:ACME") {
				t.Fatalf("partner lost across restart: %s", out)
			}
			srv.stop(t)
		})
	}
}

func sshHostKey(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		t.Fatalf("not an SSH server: %q", line)
	}
	return line
}

func TestServeBadInputExitsWithOneClearLine(t *testing.T) {
	// A port already in use.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o600)
	badCfg := filepath.Join(t.TempDir(), "wharf.yaml")
	os.WriteFile(badCfg, []byte("http:\n  addr: 127.0.0.1:0\nsftp:\n  adress: 127.0.0.1:0\n"), 0o600)
	badCron := filepath.Join(t.TempDir(), "wharf.yaml")
	os.WriteFile(badCron, []byte("schedules:\n  - name: nightly\n    cron: \"0 25 * * *\"\n    job: db.maintenance\n"), 0o600)

	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown config key", nil, []string{"--config", badCfg}, `wharf.yaml:4: sftp.adress: unknown key "adress"`},
		{"bad cron", nil, []string{"--config", badCron}, `wharf.yaml:3: schedules[0].cron: bad cron expression "0 25 * * *"`},
		{"port in use", []string{"WHARF_HTTP_ADDR=" + busy.Addr().String()}, nil, "cannot listen for HTTP on " + busy.Addr().String() + ": address already in use"},
		{"unwritable data folder", []string{"WHARF_DATA=" + filepath.Join(notDir, "data")}, nil, "data folder " + filepath.Join(notDir, "data") + ": not a directory"},
		{"unreachable postgres", []string{"WHARF_DATABASE_URL=postgres://wharf:pw@127.0.0.1:1/wharf?connect_timeout=5"}, nil, "cannot reach postgres postgres://wharf:xxxxx@127.0.0.1:1/wharf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append([]string{"WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0"}, tc.env...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, wharfBinary(t), append([]string{"serve"}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("want exit 1, got %v\n%s", err, out)
			}
			msg := strings.TrimSpace(string(out))
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "wharf: ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("want one line containing %q, got:\n%s", tc.want, out)
			}
			if strings.Contains(msg, ":pw@") {
				t.Fatalf("password leaked: %s", msg)
			}
			// Nothing written: no data folder appeared.
			if _, err := os.Stat(filepath.Join(dir, "wharf-data")); err == nil {
				t.Fatalf("a failed start left %s/wharf-data behind", dir)
			}
		})
	}
}

func TestSecondServerOnOneSQLiteFolderRefused(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, nil)
	defer srv.stop(t)
	cmd := exec.Command(wharfBinary(t), "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "is in use by another wharf serve (pid ") {
		t.Fatalf("second server: %v\n%s", err, out)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveWharfBinary()
	os.Exit(code)
}
