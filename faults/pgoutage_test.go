package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// Scenario 2, a PostgreSQL outage: the database is stopped mid-load (a
// private instance the test starts, never the machine's own), for 10 s
// (and 60 s in the long variant) with `pg_ctl stop -m fast`, and once with
// `-m immediate` (a crash: no goodbye to the clients, recovery at start).
// Wharf must keep its listeners up and the process running, refuse new
// uploads with a retryable error while it cannot commit (never a false
// OK: the senders count only acknowledgments, so one would show in the
// audit as an acknowledged document that is not archived), answer /readyz
// with 503 while the database is down and 200 again once it is back, and
// resume the work by itself.
func TestPostgresOutage(t *testing.T) {
	type fault struct {
		mode string        // pg_ctl stop -m
		down time.Duration // how long the database stays stopped
	}
	faults := scale([]fault{{"immediate", time.Second}, {"fast", 10 * time.Second}},
		[]fault{{"immediate", time.Second}, {"fast", 10 * time.Second}, {"fast", 60 * time.Second}})
	total, rate := scale(450, 3000), scale(75, 25)

	pg := startPrivatePostgres(t)
	s := newSite(t, siteOptions{DatabaseURL: pg.url()})
	s.start()
	ready := watchReady(s)
	l := startLoad(s, total, rate)
	var (
		figures []string
		ended   time.Time // the last fault's removal
	)
	for i, f := range faults {
		// Each fault at its own share of the load, while documents flow.
		target := total * (i + 1) / (len(faults) + 2)
		deadline := time.Now().Add(2 * time.Minute)
		for l.ackedCount() < target {
			if time.Now().After(deadline) {
				t.Fatalf("fault %d: only %d of %d documents acknowledged after 2 minutes", i+1, l.ackedCount(), target)
			}
			time.Sleep(10 * time.Millisecond)
		}
		before := l.errors()
		stopped := time.Now()
		pg.stop(f.mode)
		to503, went := ready.await(503, stopped, f.down)
		time.Sleep(time.Until(stopped.Add(f.down))) // the outage itself
		refused := l.errors()
		l.mu.Lock()
		lastHTTP := l.lastErr[doorHTTP]
		l.mu.Unlock()
		if !s.running() {
			t.Fatalf("%s outage of %s: wharf serve exited while the database was down:\n%s", f.mode, f.down, tail(s.logs.String(), 8<<10))
		}
		pg.start()
		restarted := time.Now()
		ended = restarted
		to200, back := ready.await(200, restarted, time.Minute)

		if !went {
			t.Errorf("%s outage of %s: /readyz never answered 503 while the database was down", f.mode, f.down)
		}
		if !back {
			t.Errorf("%s outage of %s: /readyz not 200 again within a minute of the database's return", f.mode, f.down)
		}
		during := map[door]int{}
		for d, n := range refused {
			during[d] = n - before[d]
		}
		if f.down >= 10*time.Second {
			// The load kept sending through a long outage: the SFTP and
			// HTTP partners must have been refused (and retried), and an
			// HTTP refusal must be the retryable 503.
			for _, d := range []door{doorSFTP, doorHTTP} {
				if during[d] == 0 {
					t.Errorf("%s outage of %s: no %s upload refused while the database was down (a false OK?)", f.mode, f.down, d)
				}
			}
			if during[doorHTTP] > 0 && !strings.Contains(lastHTTP, "503") {
				t.Errorf("%s outage of %s: an HTTP upload was refused with %q, want 503 (retryable)", f.mode, f.down, lastHTTP)
			}
		}
		figures = append(figures, fmt.Sprintf("%s %s: readyz 503 after %s, 200 again %s after the restart, refusals %v",
			f.mode, f.down, to503.Round(10*time.Millisecond), to200.Round(10*time.Millisecond), during))
	}
	finishOutages(t, s, l, ended, "outage", figures)
}

// privatePostgres is a PostgreSQL instance of the test's own (initdb in a
// temporary folder, its own port and socket), so that the test can stop it
// without touching the machine's server. It is stopped and removed when
// the test ends.
type privatePostgres struct {
	t    *testing.T
	bin  string // the folder of initdb and pg_ctl
	dir  string // owned by postgres: data/, the socket, the log
	port int
}

const privatePGHint = "install PostgreSQL's server binaries (Debian: apt-get install postgresql; or set WHARF_TEST_PG_BIN to the folder of initdb and pg_ctl) and run the test as root, with a postgres user"

// pgBinDir finds initdb and pg_ctl: WHARF_TEST_PG_BIN, or Debian's newest
// /usr/lib/postgresql/N/bin.
func pgBinDir() (string, error) {
	if d := os.Getenv("WHARF_TEST_PG_BIN"); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb")
	}
	sort.Slice(found, func(i, j int) bool { // by major version, numerically
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi < vj
	})
	return filepath.Dir(found[len(found)-1]), nil
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		testenv.Missing(t, "PostgreSQL's server binaries", privatePGHint, err)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		testenv.Missing(t, "the postgres user", privatePGHint, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir: its parents are root's 0700 folders, which postgres
	// cannot traverse.
	dir, err := os.MkdirTemp("", "wharf-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		testenv.Missing(t, "a folder owned by postgres (chown)", privatePGHint, err)
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	pg := &privatePostgres{t: t, bin: bin, dir: dir}
	pg.port, _ = strconv.Atoi(port)
	if out, err := pg.run("initdb", "-D", pg.data(), "-U", "postgres", "--auth=trust", "--no-sync"); err != nil {
		testenv.Missing(t, "a private PostgreSQL instance (initdb as postgres via runuser)", privatePGHint, fmt.Errorf("%v\n%s", err, out))
	}
	t.Cleanup(func() { pg.run("pg_ctl", "-D", pg.data(), "-m", "immediate", "stop") })
	pg.start()
	return pg
}

func (pg *privatePostgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// run runs one of PostgreSQL's programs as the postgres user.
func (pg *privatePostgres) run(prog string, args ...string) (string, error) {
	args = append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, prog)}, args...)
	out, err := exec.Command("runuser", args...).CombinedOutput()
	return string(out), err
}

// start starts the instance and waits until it accepts connections (after
// crash recovery, following an immediate stop).
func (pg *privatePostgres) start() {
	pg.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.dir)
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-w", "-t", "60", "-l", filepath.Join(pg.dir, "log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		pg.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, tail(string(log), 4<<10))
	}
}

// stop stops the instance with pg_ctl's mode: fast (clients are told and
// disconnected, a clean shutdown) or immediate (a crash).
func (pg *privatePostgres) stop(mode string) {
	pg.t.Helper()
	if out, err := pg.run("pg_ctl", "-D", pg.data(), "-w", "-m", mode, "stop"); err != nil {
		pg.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}
