// Command as2 measures AS2 receiving through `wharf serve` with everything
// wired: Wharf's AS2 client sends N signed (SHA-256) and encrypted
// (AES-256-CBC) messages of 10 KB, asking for signed sync MDNs, to a
// `wharf serve` on loopback, which decrypts, verifies, archives the raw
// request, the payload and the MDN (each fsync'd, with its database
// commit and processing job) before it answers. The client verifies every
// MDN (signature and MIC). It reports messages/s and the latency of one
// send (build, POST, MDN verification), p50/p90/p99/max.
//
//	go run ./bench/as2                          # 2,000 messages, 4 senders, SQLite
//	go run ./bench/as2 -n 500 -c 1
//	go run ./bench/as2 -database-url postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	go run ./bench/as2 -n 1 -c 1 -size 629145600   # one 600 MiB message: memory stays bounded
//
// The payload is generated as it is sent (never held in memory), so large
// sizes measure the server. At the end it reports the server process's
// peak resident set (VmHWM).
package main

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports/as2"
)

func main() {
	n := flag.Int("n", 2000, "messages")
	conc := flag.Int("c", 4, "concurrent senders")
	size := flag.Int("size", 10<<10, "payload bytes")
	bin := flag.String("wharf", "", "wharf binary (default: go build ./cmd/wharf into the work folder)")
	dbURL := flag.String("database-url", "", "PostgreSQL URL (default: embedded SQLite)")
	keep := flag.Bool("keep", false, "keep the work folder")
	profile := flag.String("cpuprofile", "", "write the server's CPU profile of the first 10 s of sending to this file (WHARF_DEBUG_PPROF=1)")
	flag.Parse()

	work, err := os.MkdirTemp("", "wharf-bench-as2-")
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
	// The sending partner: an RSA-3072 identity like the one Wharf makes.
	certPEM, keyPEM, err := as2.GenerateIdentity("BENCH", 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	must(os.WriteFile(filepath.Join(work, "bench.crt"), certPEM, 0o644))
	must(os.WriteFile(filepath.Join(work, "bench.key"), keyPEM, 0o600))
	sender, err := as2.LoadIdentity("BENCH", filepath.Join(work, "bench.crt"), filepath.Join(work, "bench.key"))
	if err != nil {
		log.Fatal(err)
	}
	env := append(os.Environ(), "WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0", "WHARF_DATA="+filepath.Join(work, "data"), "WHARF_AS2_ID=WHARF")
	if *dbURL != "" {
		env = append(env, "WHARF_DATABASE_URL="+*dbURL)
	}
	if *profile != "" {
		env = append(env, "WHARF_DEBUG_PPROF=1")
	}
	cfg := "partners:\n  - id: bench\n    as2: {id: BENCH, cert_files: [bench.crt], require_signed: true, require_encrypted: true}\n"
	must(os.WriteFile(filepath.Join(work, "wharf.yaml"), []byte(cfg), 0o600))
	certOut, err := command(work, env, *bin, "as2", "cert", "--config", "wharf.yaml").Output()
	if err != nil {
		log.Fatalf("wharf as2 cert: %v", err)
	}
	wharfCerts, err := as2.ParseCertificates(certOut)
	if err != nil {
		log.Fatal(err)
	}

	srv := command(work, env, *bin, "serve", "--config", "wharf.yaml")
	pr, pw := io.Pipe()
	srv.Stderr, srv.Stdout = pw, io.Discard
	must(srv.Start())
	defer srv.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="wharf ready".* http=(http://\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
			if strings.Contains(sc.Text(), "level=ERROR") {
				fmt.Fprintln(os.Stderr, sc.Text())
			}
		}
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(60 * time.Second):
		log.Fatal("wharf serve not ready after 60 s")
	}

	p := &as2.Partner{ID: "wharf", AS2ID: "WHARF", Certs: wharfCerts, URL: url + "/as2",
		Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true}
	client := &as2.Client{Identity: sender, Books: &books{}}
	// The same pseudo-random payload for every message, generated as it is
	// read (AES-CTR over zeros from a random key).
	key := make([]byte, 16)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	open := func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, 16)), R: zeros{}}, int64(*size))), nil
	}
	lat := make([]time.Duration, *n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	if *profile != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get(url + "/debug/pprof/profile?seconds=10")
			if err != nil {
				log.Printf("profile: %v", err)
				return
			}
			defer res.Body.Close()
			f, err := os.Create(*profile)
			if err == nil {
				io.Copy(f, res.Body)
				f.Close()
			}
		}()
	}
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				t0 := time.Now()
				sent, err := client.Send(context.Background(), p, as2.Outgoing{MessageID: fmt.Sprintf("m%d-%d", start.UnixNano(), i), Name: "bench.edi", Size: int64(*size), Open: open})
				lat[i] = time.Since(t0)
				if err != nil || sent.Status != lifecycle.StatusDelivered {
					if failed.Add(1) <= 3 {
						log.Printf("send %d: %v %+v", i, err, sent)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	hwm := "unknown"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid)); err == nil {
		if m := regexp.MustCompile(`VmHWM:\s*(\d+ kB)`).FindSubmatch(b); m != nil {
			hwm = string(m[1])
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	db := "SQLite"
	if *dbURL != "" {
		db = "PostgreSQL"
	}
	fmt.Printf("AS2 into wharf serve (%s): %d messages of %d bytes, %d senders, %d failed\n", db, *n, *size, *conc, failed.Load())
	fmt.Printf("  %.1f messages/s; latency p50 %v p90 %v p99 %v max %v\n", float64(*n)/elapsed.Seconds(),
		pct(0.50).Round(100*time.Microsecond), pct(0.90).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
	fmt.Printf("  %.1f MiB/s of payload; wharf serve peak RSS (VmHWM) %s\n", float64(*n)*float64(*size)/(1<<20)/elapsed.Seconds(), hwm)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func command(dir string, env []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Dir, c.Env = dir, env
	return c
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// books keeps the client's bookkeeping in memory (the sender here is not
// a Wharf with a store; only the receiver is measured with everything wired).
type books struct {
	mu   sync.Mutex
	recs map[string]*as2.Record
}

var _ as2.Books = (*books)(nil)

func (b *books) Evidence(context.Context, string, bool, string, string, []byte) (string, error) {
	return "", nil
}
func (b *books) OpenEvidence(context.Context, string) ([]byte, error) { return nil, nil }
func (b *books) Lookup(_ context.Context, k *as2.RecordKey) (*as2.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recs[k.PartnerID+k.AS2MessageID+k.Direction], nil
}
func (b *books) Record(_ context.Context, r *as2.Record) error { return b.put(r) }
func (b *books) Event(context.Context, string, lifecycle.EventKind, string) error {
	return nil
}
func (b *books) MDNEvidence(context.Context, *as2.MDNEvidenceParams) (string, error) {
	return "mdn", nil
}
func (b *books) Await(_ context.Context, r *as2.Record, _ string) error { return b.put(r) }
func (b *books) Awaited(context.Context, string, string) (*as2.Record, error) {
	return nil, nil
}
func (b *books) Settle(_ context.Context, r *as2.Record, _ bool, _ lifecycle.Status, _ string) error {
	return b.put(r)
}

func (b *books) put(r *as2.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.recs == nil {
		b.recs = map[string]*as2.Record{}
	}
	c := *r
	b.recs[r.PartnerID+r.AS2MessageID+r.Direction] = &c
	return nil
}
