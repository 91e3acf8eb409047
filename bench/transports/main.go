// Command transports measures the folder flow end to end: N small X12 204
// files dropped into a partner's watched inbound folder (dot name, then a
// rename, as a well-behaved writer does) go through archive → processing
// (X12 validation, the 997, mapping to canonical documents handed to the
// sync engine) → delivery of the 997 into the partner's outbound folder. It reports files/s and the latency from a file's
// arrival (its rename into the inbound folder) to its 997's arrival in the
// outbound folder (rename seen by fsnotify), p50/p90/p99/max.
//
//	go run ./bench/transports                       # 10,000 files, burst, SQLite
//	go run ./bench/transports -n 2000 -rate 100     # paced arrivals
//	go run ./bench/transports -database-url postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	go run ./bench/transports -n 3000 -strace         # fsyncs of wharf serve per file
//	go run ./bench/transports -n 1000 -strace-net -database-url URL  # round trips per file
//
// Before starting the server it writes the same N files with one fsync each
// (one thread) and reports that rate as the reference of the run.
//
// A burst measures throughput (its latencies include queueing behind the
// whole burst); a paced run below the throughput measures latency.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

func main() {
	n := flag.Int("n", 10000, "files")
	rate := flag.Float64("rate", 0, "arrivals per second (0: as fast as possible)")
	bin := flag.String("wharf", "", "wharf binary (default: go build ./cmd/wharf into the work folder)")
	dbURL := flag.String("database-url", "", "PostgreSQL URL (default: embedded SQLite); a fresh schema is used")
	keep := flag.Bool("keep", false, "keep the work folder")
	baseline := flag.Bool("baseline", true, "first write the same files with one fsync each (one thread), the reference rate")
	strace := flag.Bool("strace", false, "run wharf serve under strace -f -c and report its fsyncs per file")
	straceNet := flag.Bool("strace-net", false, "run wharf serve under strace -f -yy and report its writes to the database's socket per file: its round trips (needs -database-url)")
	workers := flag.Int("workers", 0, "jobs.workers of the server (0: its default)")
	profile := flag.String("profile", "", "write a 5-second CPU profile (file.pprof) and execution trace (file.trace) of wharf serve taken 1 s into the burst")
	instances := flag.Int("instances", 1, "wharf serve instances sharing the database, the archive and the watched folder (more than 1 needs -database-url and -archive-url)")
	eachFsync := flag.Bool("fsync-each", false, "set archive.fsync_each: fsync each blob and folder instead of sharing flushes of the file system (syncfs)")
	archiveURL := flag.String("archive-url", "", "WHARF_ARCHIVE_URL of the servers, e.g. s3://bucket/prefix?endpoint=127.0.0.1:7070 with WHARF_S3_ACCESS_KEY/WHARF_S3_SECRET_KEY set (default: a folder in the data folder)")
	flag.Parse()
	if *instances > 1 && (*dbURL == "" || *archiveURL == "") {
		log.Fatal("-instances > 1 needs -database-url (PostgreSQL) and -archive-url (S3): instances share both (docs/cluster.md)")
	}
	if *straceNet && (*dbURL == "" || *strace) {
		log.Fatal("-strace-net counts the writes to a PostgreSQL server (-database-url), and not with -strace")
	}
	if *instances > 1 && (*strace || *straceNet || *profile != "") {
		log.Fatal("-strace and -profile measure one instance")
	}

	work, err := os.MkdirTemp("", "wharf-bench-transports-")
	if err != nil {
		log.Fatal(err)
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	if *bin == "" {
		*bin = filepath.Join(work, "wharf")
		cmd := exec.Command("go", "build", "-o", *bin, "./cmd/wharf")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatal(err)
		}
	}
	in, out := filepath.Join(work, "in"), filepath.Join(work, "out")
	os.MkdirAll(in, 0o755)
	os.MkdirAll(out, 0o755)
	cfg := fmt.Sprintf("partners:\n  - id: erp\n    folder: {inbound: %s, outbound: %s, stable: false, after: delete}\n", in, out)
	if *eachFsync {
		cfg += "archive: {fsync_each: true}\n"
	}
	if *workers > 0 {
		cfg += fmt.Sprintf("jobs: {workers: %d}\n", *workers)
	}
	os.WriteFile(filepath.Join(work, "wharf.yaml"), []byte(cfg), 0o600)

	// Watch the outbound folder before anything can arrive there.
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Add(out); err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	delivered := map[string]time.Time{}
	all := make(chan struct{})
	go func() {
		for ev := range w.Events {
			if ev.Has(fsnotify.Create) && strings.HasPrefix(filepath.Base(ev.Name), "997_") {
				name := strings.TrimPrefix(filepath.Base(ev.Name), "997_")
				mu.Lock()
				if _, dup := delivered[name]; !dup {
					delivered[name] = time.Now()
					if len(delivered) == *n {
						close(all)
					}
				}
				mu.Unlock()
			}
		}
	}()

	httpAddr := freeAddr() // to read the SQLite writer's metrics
	if *profile != "" {
		httpAddr = "127.0.0.1:18089"
	}
	env := append(os.Environ(), "WHARF_HTTP_ADDR="+httpAddr, "WHARF_SFTP_ADDR=127.0.0.1:0")
	if *profile != "" {
		env = append(env, "WHARF_DEBUG_PPROF=1")
	}
	if *archiveURL != "" {
		env = append(env, "WHARF_ARCHIVE_URL="+*archiveURL)
	}
	db := "sqlite"
	if *dbURL != "" {
		schema := fmt.Sprintf("bench_tr_%d", time.Now().UnixNano())
		// psql refuses the pool's own parameters (pool_max_conns, ...),
		// which Wharf's URL may carry.
		psqlURL := *dbURL
		if u, err := url.Parse(*dbURL); err == nil {
			q := u.Query()
			for k := range q {
				if strings.HasPrefix(k, "pool_") {
					q.Del(k)
				}
			}
			u.RawQuery = q.Encode()
			psqlURL = u.String()
		}
		psql := exec.Command("psql", psqlURL, "-qc", "CREATE SCHEMA "+schema)
		if b, err := psql.CombinedOutput(); err != nil {
			log.Fatalf("create schema: %v %s", err, b)
		}
		defer exec.Command("psql", psqlURL, "-qc", "DROP SCHEMA "+schema+" CASCADE").Run()
		sep := "?"
		if strings.Contains(*dbURL, "?") {
			sep = "&"
		}
		env = append(env, "WHARF_DATABASE_URL="+*dbURL+sep+"search_path="+schema)
		db = "postgres"
	}
	// The reference: the same files written into a folder by one thread,
	// each fsync'd (and the folder once at the end), the physical floor of
	// "every file durable" on this disk.
	var fsyncRate float64
	if *baseline {
		fsyncRate = fsyncEach(filepath.Join(work, "baseline"), *n)
	}
	argv := []string{*bin, "serve", "--config", filepath.Join(work, "wharf.yaml")}
	straceOut := filepath.Join(work, "strace.txt")
	if *strace {
		argv = append([]string{"strace", "-f", "--seccomp-bpf", "-c", "-e", "trace=fsync,fdatasync,syncfs,sync", "-o", straceOut}, argv...)
	}
	if *straceNet {
		argv = append([]string{"strace", "-f", "--seccomp-bpf", "-yy", "-e", "trace=write,writev,sendto,sendmsg", "-o", straceOut}, argv...)
	}
	var srvs []*exec.Cmd
	for i := range *instances {
		srv := exec.Command(argv[0], argv[1:]...)
		srv.Env = append(slices.Clip(env), fmt.Sprintf("WHARF_DATA=%s", filepath.Join(work, fmt.Sprintf("data%d", i+1))))
		stderr, _ := srv.StderrPipe()
		if err := srv.Start(); err != nil {
			log.Fatal(err)
		}
		defer srv.Process.Kill()
		srvs = append(srvs, srv)
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			re := regexp.MustCompile(`wharf ready`)
			once := false
			for sc.Scan() {
				if !once && re.MatchString(sc.Text()) {
					once = true
					close(ready)
				}
				if strings.Contains(sc.Text(), "level=ERROR") {
					fmt.Fprintln(os.Stderr, sc.Text())
				}
			}
			io.Copy(io.Discard, stderr)
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			log.Fatal("wharf serve not ready after 60 s")
		}
	}
	srv := srvs[0]
	user0, sys0 := cpuOf(srvs)
	writer0, hasWriter := writerStats(httpAddr)

	arrived := make(map[string]time.Time, *n)
	var gap time.Duration
	if *rate > 0 {
		gap = time.Duration(float64(time.Second) / *rate)
	}
	start := time.Now()
	for i := range *n {
		name := fmt.Sprintf("load%06d.edi", i)
		tmp := filepath.Join(in, "."+name)
		if err := os.WriteFile(tmp, doc(i+1), 0o644); err != nil {
			log.Fatal(err)
		}
		if gap > 0 {
			if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
				time.Sleep(d)
			}
		}
		if err := os.Rename(tmp, filepath.Join(in, name)); err != nil {
			log.Fatal(err)
		}
		arrived[name] = time.Now()
	}
	dropped := time.Since(start)
	if *profile != "" {
		// All three at once, 1 s into the burst (one after the other, the
		// trace would begin after the burst's end).
		for _, p := range []struct{ url, file string }{
			{"http://" + httpAddr + "/debug/pprof/profile?seconds=5", *profile + ".pprof"},
			{"http://" + httpAddr + "/debug/pprof/trace?seconds=2", *profile + ".trace"},
			{"http://" + httpAddr + "/debug/pprof/goroutine?debug=1", *profile + ".goroutines"},
		} {
			go func() {
				time.Sleep(time.Second)
				r, err := http.Get(p.url)
				if err != nil {
					log.Printf("profile: %v", err)
					return
				}
				f, _ := os.Create(p.file)
				io.Copy(f, r.Body)
				r.Body.Close()
				f.Close()
			}()
		}
	}
	timeout := time.Duration(*n)*100*time.Millisecond + time.Minute
	select {
	case <-all:
	case <-time.After(timeout):
		mu.Lock()
		log.Fatalf("only %d of %d 997s delivered after %v", len(delivered), *n, timeout)
	}
	user1, sys1 := cpuOf(srvs)
	writer1, _ := writerStats(httpAddr)
	user, sys := user1-user0, sys1-sys0
	cpu := user + sys
	mu.Lock()
	var last time.Time
	lat := make([]time.Duration, 0, *n)
	for name, at := range arrived {
		d := delivered[name]
		lat = append(lat, d.Sub(at))
		if d.After(last) {
			last = d
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
	}
	total := last.Sub(start)
	mode := "burst"
	if *rate > 0 {
		mode = fmt.Sprintf("paced %.0f/s", *rate)
	}
	if *instances > 1 {
		db = fmt.Sprintf("%s, %d instances", db, *instances)
	}
	if *archiveURL != "" {
		db += ", archive " + strings.SplitN(*archiveURL, "?", 2)[0]
	}
	fmt.Printf("folder -> archive -> process (997) -> outbound folder: %d files, %s, %s\n", *n, mode, db)
	fmt.Printf("  dropped in %.1fs; all 997s delivered after %.1fs: %.0f files/s\n", dropped.Seconds(), total.Seconds(), float64(*n)/total.Seconds())
	fmt.Printf("  arrival -> delivered: p50 %v  p90 %v  p99 %v  max %v\n", pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1].Round(time.Millisecond))
	if !*strace && cpu > 0 {
		perFile := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(*n) }
		fmt.Printf("  CPU time of wharf serve from the first file to the last 997: %.2fs, %.2f ms per file (user %.2f, system %.2f)\n",
			cpu.Seconds(), perFile(cpu), perFile(user), perFile(sys))
	}
	if hasWriter && *instances == 1 {
		busy, commits, txs := writer1[0]-writer0[0], writer1[1]-writer0[1], writer1[2]-writer0[2]
		who := "SQLite's writer"
		if *dbURL != "" {
			who = "PostgreSQL's lanes (summed)"
		}
		fmt.Printf("  %s busy %.2fs of the %.2fs (%.0f %%), %.2f ms per file; %.0f commits of %.1f transactions each\n",
			who, busy, total.Seconds(), 100*busy/total.Seconds(), 1000*busy/float64(*n), commits, txs/max(commits, 1))
	}
	if fsyncRate > 0 {
		fmt.Printf("  reference, the same files written with one fsync each (one thread): %.0f files/s; Wharf / reference: %.2fx\n",
			fsyncRate, float64(*n)/total.Seconds()/fsyncRate)
	}
	stop := srv.Process.Pid
	if *strace || *straceNet { // stop wharf, strace's child; strace then writes its summary
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", stop, stop)); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				stop = pid
			}
		}
	}
	syscall.Kill(stop, syscall.SIGTERM)
	for _, other := range srvs[1:] {
		other.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	if fsyncRate > 0 {
		// The disk's rate moves by half from one minute to the next: the
		// reference again once wharf serve has stopped, and the ratio to
		// the two references' mean, bound the comparison.
		again := fsyncEach(filepath.Join(work, "baseline-after"), *n)
		rate := float64(*n) / total.Seconds()
		fmt.Printf("  reference again after the run: %.0f files/s; Wharf / the mean of the two references: %.2fx (%.2fx-%.2fx)\n",
			again, rate/((fsyncRate+again)/2), rate/max(fsyncRate, again), rate/min(fsyncRate, again))
	}
	if *straceNet {
		if writes, err := dbWrites(straceOut, *dbURL); err != nil {
			log.Printf("strace: %v", err)
		} else {
			fmt.Printf("  writes of wharf serve to the database's socket (start to stop, its round trips): %d, %.1f per file\n", writes, float64(writes)/float64(*n))
		}
	}
	if *strace {
		if calls, each, err := straceCalls(straceOut); err != nil {
			log.Printf("strace: %v", err)
		} else {
			fmt.Printf("  fsync, fdatasync, syncfs and sync calls of wharf serve (start to stop): %d, %.2f per file (%s)\n", calls, float64(calls)/float64(*n), each)
		}
	}
}

// dbWrites counts the writes in strace -yy output whose socket's remote
// end is the database's port: one per round trip (pgx sends a statement, or
// a batch of them, with one write).
func dbWrites(straceOut, dbURL string) (int, error) {
	port := "5432"
	if u, err := url.Parse(dbURL); err == nil && u.Port() != "" {
		port = u.Port()
	}
	f, err := os.Open(straceOut)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "<TCP"); i >= 0 {
			if j := strings.IndexByte(line[i:], ']'); j > 0 && strings.HasSuffix(line[i:i+j], ":"+port) && strings.Contains(line[i:i+j], "->") {
				n++
			}
		}
	}
	return n, sc.Err()
}

// cpuOf sums the CPU time (user, then system) the processes have used so
// far, from /proc (0 where it cannot be read). CPU time per file is a firm
// figure on a machine whose other load moves the files/s.
func cpuOf(cmds []*exec.Cmd) (user, system time.Duration) {
	var ut, st int64
	for _, c := range cmds {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
		if err != nil {
			return 0, 0
		}
		// Fields after the command name (which may hold spaces) in
		// parentheses: utime and stime are the 14th and 15th fields.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0, 0
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ut, st = ut+u, st+s
	}
	tick := time.Second / 100 // USER_HZ is 100 on Linux
	return time.Duration(ut) * tick, time.Duration(st) * tick
}

// fsyncEach writes n of the benchmark's files into dir, one thread, each
// fsync'd before the next, then fsyncs the folder; it returns files/s.
func fsyncEach(dir string, n int) float64 {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("load%06d.edi", i)))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := f.Write(doc(i + 1)); err != nil {
			log.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	rate := float64(n) / time.Since(start).Seconds()
	os.RemoveAll(dir)
	return rate
}

// straceCalls reads the "total" line of strace -c's summary.
func straceCalls(path string) (int, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	var each []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[len(f)-1] == "total" {
			n, err := strconv.Atoi(f[3])
			return n, strings.Join(each, ", "), err
		}
		if len(f) >= 5 && (f[len(f)-1] == "fsync" || f[len(f)-1] == "fdatasync" || f[len(f)-1] == "syncfs" || f[len(f)-1] == "sync") {
			each = append(each, f[len(f)-1]+" "+f[3])
		}
	}
	return 0, "", fmt.Errorf("no total line in %s", path)
}

// doc is a small X12 204 with its own interchange and group control numbers.
func doc(ctl int) []byte {
	return fmt.Appendf(nil, "ISA*00*          *00*          *ZZ*ERP            *ZZ*WHARF          *260101*1200*U*00401*%09d*0*P*>~\n"+
		"GS*SM*ERP*WHARF*20260101*1200*%d*X*004010~\nST*204*0001~\nB2**SCAC**LOAD%d**PP~\nB2A*00~\n"+
		"S5*1*LD~\nS5*2*UL~\nL3*1000*G~\nSE*7*0001~\nGE*1*%d~\nIEA*1*%09d~\n", ctl, ctl, ctl, ctl, ctl)
}

// freeAddr is a loopback address with a port free at the moment.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writerStats reads the store writer's busy seconds, commits and
// transactions from wharf serve's /metrics (SQLite's writer, PostgreSQL's
// lanes).
func writerStats(addr string) (v [3]float64, ok bool) {
	r, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return v, false
	}
	defer r.Body.Close()
	names := []string{"wharf_store_writer_busy_seconds_total ", "wharf_store_writer_commits_total ", "wharf_store_writer_transactions_total "}
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		for i, n := range names {
			if rest, found := strings.CutPrefix(sc.Text(), n); found {
				if f, err := strconv.ParseFloat(rest, 64); err == nil {
					v[i], ok = f, true
				}
			}
		}
	}
	return v, ok
}
