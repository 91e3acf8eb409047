package faults

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/testenv"
)

// long reports whether the long variants run (WHARF_FAULTS=long): the
// figures of docs/reliability.md rather than CI's short proof.
func long() bool { return os.Getenv("WHARF_FAULTS") == "long" }

// scale picks the short or the long figure.
func scale[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

// wharfBinary is the program users run, as a separate process the suite can kill.
func wharfBinary(t *testing.T) string { return testenv.WharfBinary(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveWharfBinary()
	os.Exit(code)
}

// site is one Wharf installation under test: a configuration with three
// partners, one per inbound door, and the process serving it.
//
//   - erp drops files into a watched folder (`after: delete`) and gets its
//     997s in an outbound folder;
//   - acme uploads over SFTP with a key;
//   - tms posts over HTTP with a partner token and an Idempotency-Key.
type site struct {
	t        *testing.T
	dir      string // working folder: wharf.yaml, keys; wharf-data below unless data is set
	data     string // the data folder (SQLite, archive, host key)
	env      []string
	in, out  string // erp's folders
	acme     ssh.Signer
	token    string // tms's HTTP token
	httpAddr string // fixed across restarts, as a partner's configuration would be
	sftpAddr string
	logs     *testenv.Buffer // every run's output, appended

	mu      sync.Mutex
	proc    *proc
	peakRSS int64 // kB, the largest VmRSS seen in any run
	runs    int
	ready   []time.Duration // start to ready, per run
}

// siteOptions shape a site: the database (empty: SQLite in the data
// folder), the archive URL, extra YAML under the top level, and a data
// folder elsewhere (a small file system, for the disk-full scenario).
type siteOptions struct {
	DatabaseURL string
	ArchiveURL  string
	Data        string
	ExtraYAML   string
	Env         []string
}

func newSite(t *testing.T, o siteOptions) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, data: o.Data, logs: &testenv.Buffer{}}
	if s.data == "" {
		s.data = filepath.Join(dir, "wharf-data")
	}
	s.in, s.out = filepath.Join(dir, "erp-in"), filepath.Join(dir, "erp-out")
	for _, d := range []string{s.in, s.out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.acme = sshKey(t, filepath.Join(dir, "acme_key"))
	s.token = randHex(16)
	sum := sha256.Sum256([]byte(s.token))
	s.httpAddr, s.sftpAddr = freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`partners:
  - id: erp
    folder: {inbound: %s, outbound: %s, stable: false, after: delete}
  - id: acme
    ssh_key_files: [acme_key.pub]
  - id: tms
    http: {token_sha256: %s}
%s`, s.in, s.out, hex.EncodeToString(sum[:]), o.ExtraYAML)
	if err := os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = append([]string{
		"WHARF_HTTP_ADDR=" + s.httpAddr, "WHARF_SFTP_ADDR=" + s.sftpAddr, "WHARF_DATA=" + s.data,
		"WHARF_CONFIG=" + filepath.Join(dir, "wharf.yaml"),
	}, o.Env...)
	if o.DatabaseURL != "" {
		s.env = append(s.env, "WHARF_DATABASE_URL="+o.DatabaseURL)
	}
	if o.ArchiveURL != "" {
		s.env = append(s.env, "WHARF_ARCHIVE_URL="+o.ArchiveURL)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		if p != nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("wharf serve's output (last 8 KiB):\n%s", tail(s.logs.String(), 8<<10))
		}
	})
	return s
}

// proc is one run of `wharf serve`.
type proc struct {
	cmd    *exec.Cmd
	exited chan error
	done   chan struct{} // closed when the process has exited
}

var readyLine = regexp.MustCompile(`msg="wharf ready"`)

// start runs `wharf serve` and waits for its ready line (60 s at most).
func (s *site) start() {
	s.t.Helper()
	if err := s.tryStart(60 * time.Second); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) tryStart(wait time.Duration) error {
	began := time.Now()
	cmd := exec.Command(wharfBinary(s.t), "serve")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	pr, pw := io.Pipe()
	cmd.Stdout = s.logs
	cmd.Stderr = io.MultiWriter(pw, s.logs)
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, exited: make(chan error, 1), done: make(chan struct{})}
	go func() { err := cmd.Wait(); pw.Close(); p.exited <- err; close(p.done) }()
	ready := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if readyLine.MatchString(sc.Text()) {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go s.sampleRSS(p)
	select {
	case <-ready:
	case err := <-p.exited:
		p.exited <- err
		return fmt.Errorf("wharf serve exited before it was ready (%v):\n%s", err, tail(s.logs.String(), 8<<10))
	case <-time.After(wait):
		cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("wharf serve not ready after %s:\n%s", wait, tail(s.logs.String(), 8<<10))
	}
	s.mu.Lock()
	s.proc = p
	s.runs++
	s.ready = append(s.ready, time.Since(began))
	s.mu.Unlock()
	return nil
}

// kill9 kills the running server without warning and waits for it to go.
func (s *site) kill9() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and requires a clean exit within 30 s.
func (s *site) stop() {
	s.t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			s.t.Errorf("wharf serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("wharf serve still running 30 s after SIGTERM")
		p.cmd.Process.Kill()
		<-p.done
	}
}

// running reports whether the server process is up (it may have exited by itself).
func (s *site) running() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// sampleRSS records the process's resident set every 100 ms until it exits.
func (s *site) sampleRSS(p *proc) {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tk.C:
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					s.mu.Lock()
					s.peakRSS = max(s.peakRSS, kb)
					s.mu.Unlock()
				}
			}
		}
	}
}

// cli runs a wharf command against the site's data and configuration.
func (s *site) cli(args ...string) (string, error) {
	cmd := exec.Command(wharfBinary(s.t), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func sshKey(t *testing.T, path string) ssh.Signer { return testenv.SSHKey(t, path) }

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// doc is a small 204 whose interchange and group control numbers are ctl:
// the suite's identity of one business document across doors and retries.
func doc(sender string, ctl int) []byte {
	return fmt.Appendf(nil, "ISA*00*          *00*          *ZZ*%-15s*ZZ*WHARF          *260101*1200*U*00401*%09d*0*P*>~\n"+
		"GS*SM*%s*WHARF*20260101*1200*%d*X*004010~\nST*204*0001~\nB2**SCAC**LOAD%d**PP~\nB2A*00~\n"+
		"S5*1*LD~\nS5*2*UL~\nL3*1000*G~\nSE*7*0001~\nGE*1*%d~\nIEA*1*%09d~\n", sender, ctl, sender, ctl, ctl, ctl, ctl)
}

// isa13 is the interchange control number of an X12 file.
func isa13(b []byte) string {
	i := bytes.Index(b, []byte("ISA"))
	if i < 0 || len(b) < i+4 {
		return ""
	}
	f := bytes.Split(b[i:], b[i+3:i+4])
	if len(f) < 14 {
		return ""
	}
	return string(f[13])
}

// counter is a concurrency-safe tally for reports.
type counter struct{ atomic.Int64 }
