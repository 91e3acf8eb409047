// Command as2 measures AS2 receiving through `wharf serve` with everything
// wired: Wharf's AS2 client sends N signed (SHA-256) and encrypted
// (AES-256-CBC) messages of 10 KB, asking for signed sync MDNs, to a
// `wharf serve` on loopback, which decrypts, verifies, archives the raw
// request, the payload and the MDN (each fsync'd, with its database
// commit and processing job) before it answers. The client verifies every
// MDN (signature and MIC). It reports messages/s and the latency of one
// send (build, POST, MDN verification), p50/p90/p99/max. Both parties have
// RSA-2048 keys (issue 17's condition; -bits changes it): the sender's and
// Wharf's own, which the bench hands to wharf serve (as2.cert_file,
// as2.key_file) instead of letting it generate its RSA-3072 one (the
// figures in docs/benchmarks.md before the libas2 reference are RSA-3072
// with binary bodies: -bits 3072 -libas2=false).
//
//	go run ./bench/as2                          # 2,000 messages, 4 senders, SQLite, libas2 reference
//	go run ./bench/as2 -n 500 -c 1
//	go run ./bench/as2 -database-url postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	go run ./bench/as2 -libas2=false -n 1 -c 1 -size 629145600   # one 600 MiB message: memory stays bounded
//
// The reference (-libas2, on by default when the peer is installed): before
// starting wharf serve, the same N sends from the same C senders, with the
// same keys, payload and MDN options, go to npm libas2 0.8.2's receiver
// (transports/as2/testdata/libas2peer/peer.js, one Node process: libas2's
// parse, decrypt, verify and signed MDN), and the client verifies each of
// its MDNs (signature and MIC) as it does Wharf's; a send also fails when
// the peer reports it did not decrypt and verify, or opened another
// payload. libas2 reads bodies as text, so with the reference both runs
// send base64 bodies (the output says which). The peer is found as the
// tests find it (internal/testenv): node on PATH and libas2 under
// $WHARF_TEST_LIBAS2, default ~/.cache/wharf-peers/libas2, which
// `. .ci/as2-peers.sh` installs. The output then has one more block,
// printed before the Wharf run, and a last line with the ratio:
//
//	AS2 into npm libas2 0.8.2's receiver (reference, node v20.20.2, one process): 1000 messages of 10240 bytes, 4 senders, RSA-2048, base64 bodies, 0 failed
//	  X messages/s; latency p50 ... p90 ... p99 ... max ...
//	  X MiB/s of payload; 1000 MDNs verified with a tolerated deviation
//	  load average (1 min) before L, after L
//	AS2 into wharf serve (SQLite): 1000 messages of 10240 bytes, 4 senders, RSA-2048, base64 bodies, 0 failed
//	  X messages/s; latency p50 ... p90 ... p99 ... max ...
//	  X MiB/s of payload
//	  load average (1 min) before L, after L
//	  wharf serve peak RSS (VmHWM) N kB
//	  Wharf / libas2: X.XXx (messages/s, same senders, keys, payload and MDN options)
//
// libas2's signature leaves out its part's final CRLF, a deviation Wharf's
// client tolerates and counts ("MDNs verified with a tolerated deviation").
// Without the peer installed the run measures Wharf alone (binary bodies)
// and says how to install it; -libas2=true then stops with that message.
//
// The payload is generated as it is sent (never held in memory), so large
// sizes measure the server (libas2 holds a message in memory, and cannot
// open one of a few MiB: use -libas2=false for those). At the end it
// reports the server process's peak resident set (VmHWM).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

func main() {
	n := flag.Int("n", 2000, "messages")
	conc := flag.Int("c", 4, "concurrent senders")
	size := flag.Int("size", 10<<10, "payload bytes")
	bits := flag.Int("bits", 2048, "RSA key size of the sender and of the receiver (Wharf, and libas2 with the same key)")
	bin := flag.String("wharf", "", "wharf binary (default: go build ./cmd/wharf into the work folder)")
	dbURL := flag.String("database-url", "", "PostgreSQL URL (default: embedded SQLite)")
	keep := flag.Bool("keep", false, "keep the work folder")
	profile := flag.String("cpuprofile", "", "write the server's CPU profile of the first 10 s of sending to this file (WHARF_DEBUG_PPROF=1)")
	node, libas2Dir, libas2Err := testenv.Libas2Peer()
	withLibas2 := flag.Bool("libas2", libas2Err == nil, "first send the same messages to npm libas2's receiver, the reference (base64 bodies in both runs); default: on when the peer is installed")
	flag.Parse()
	libas2Set := false
	flag.Visit(func(f *flag.Flag) { libas2Set = libas2Set || f.Name == "libas2" })
	const libas2Where = "(it installs libas2 into ~/.cache/wharf-peers/libas2; WHARF_TEST_LIBAS2 names another folder whose node_modules holds it)"
	switch {
	case *withLibas2 && libas2Err != nil:
		log.Fatalf("the libas2 reference: %v\n%s; or run with -libas2=false to measure Wharf alone", libas2Err, libas2Where)
	case !*withLibas2 && !libas2Set:
		fmt.Fprintf(os.Stderr, "no libas2 reference in this run: %v\n%s\n", libas2Err, libas2Where)
	}

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
	// The sending partner and the receiver (wharf serve, and libas2 with
	// the same key), in the work folder: bench.{crt,key}, wharf.{crt,key}.
	sender := identity(work, "bench", "BENCH", *bits)
	receiver := identity(work, "wharf", "WHARF", *bits)

	// The same pseudo-random payload for every message, generated as it is
	// read (AES-CTR over zeros from a random key).
	key := make([]byte, 16)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	open := func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, 16)), R: zeros{}}, int64(*size))), nil
	}
	client := &as2.Client{Identity: sender, Books: &books{}}
	bodies := "binary bodies"
	if *withLibas2 {
		bodies = "base64 bodies"
	}
	keys := fmt.Sprintf("RSA-%d", *bits)

	var ref *run
	if *withLibas2 {
		h := sha256.New()
		r, _ := open()
		io.Copy(h, r)
		sum := hex.EncodeToString(h.Sum(nil))
		url, stop := startLibas2(node, libas2Dir, filepath.Join(work, "libas2"), receiver, sender.Cert)
		p := &as2.Partner{ID: "libas2", AS2ID: "LIBAS2", Certs: []*x509.Certificate{receiver.Cert}, URL: url + "/as2",
			Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true, Base64: true}
		// What the peer says it did: Wharf's client has verified its MDN's
		// signature and MIC; this checks libas2 did the receiver's work.
		check := func(s as2.Sent) error {
			if s.MDN == nil {
				return errors.New("no MDN")
			}
			if f := s.MDN.Header.Get("X-Peer-Found"); f != "decrypted, signature verified" {
				return fmt.Errorf("libas2 found %q (disposition %s)", f, s.MDN.Header.Get("X-Peer-Disposition"))
			}
			if got := s.MDN.Header.Get("X-Peer-Payload-Sha256"); got != sum {
				return fmt.Errorf("libas2 opened another payload (sha256 %s, sent %s)", got, sum)
			}
			return nil
		}
		ref = sendAll(client, p, *n, *conc, int64(*size), open, check)
		stop(ref.failed > 0)
		v, _ := exec.Command(node, "--version").Output()
		fmt.Printf("AS2 into npm libas2 0.8.2's receiver (reference, node %s, one process): %d messages of %d bytes, %d senders, %s, %s, %d failed\n",
			strings.TrimSpace(string(v)), *n, *size, *conc, keys, bodies, ref.failed)
		ref.print(*n, *size)
	}

	env := append(os.Environ(), "WHARF_HTTP_ADDR=127.0.0.1:0", "WHARF_SFTP_ADDR=127.0.0.1:0", "WHARF_DATA="+filepath.Join(work, "data"), "WHARF_AS2_ID=WHARF")
	if *dbURL != "" {
		env = append(env, "WHARF_DATABASE_URL="+*dbURL)
	}
	if *profile != "" {
		env = append(env, "WHARF_DEBUG_PPROF=1")
	}
	cfg := "as2: {cert_file: wharf.crt, key_file: wharf.key}\n" +
		"partners:\n  - id: bench\n    as2: {id: BENCH, cert_files: [bench.crt], require_signed: true, require_encrypted: true}\n"
	must(os.WriteFile(filepath.Join(work, "wharf.yaml"), []byte(cfg), 0o600))
	certOut, err := command(work, env, *bin, "as2", "cert", "--config", "wharf.yaml").Output()
	if err != nil {
		log.Fatalf("wharf as2 cert: %v", err)
	}
	wharfCerts, err := as2.ParseCertificates(certOut)
	if err != nil {
		log.Fatal(err)
	}
	if !wharfCerts[0].Equal(receiver.Cert) {
		log.Fatal("wharf as2 cert prints another certificate than wharf.crt, the one as2.cert_file names")
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
		Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true, Base64: *withLibas2}
	var prof sync.WaitGroup
	if *profile != "" {
		prof.Go(func() {
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
		})
	}
	res := sendAll(client, p, *n, *conc, int64(*size), open, nil)
	prof.Wait()
	hwm := "unknown"
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", srv.Process.Pid)); err == nil {
		if m := regexp.MustCompile(`VmHWM:\s*(\d+ kB)`).FindSubmatch(b); m != nil {
			hwm = string(m[1])
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	db := "SQLite"
	if *dbURL != "" {
		db = "PostgreSQL"
	}
	fmt.Printf("AS2 into wharf serve (%s): %d messages of %d bytes, %d senders, %s, %s, %d failed\n", db, *n, *size, *conc, keys, bodies, res.failed)
	res.print(*n, *size)
	fmt.Printf("  wharf serve peak RSS (VmHWM) %s\n", hwm)
	if ref != nil {
		fmt.Printf("  Wharf / libas2: %.2fx (messages/s, same senders, keys, payload and MDN options)\n", res.rate(*n)/ref.rate(*n))
	}
}

// run is what one series of sends measured.
type run struct {
	lat     []time.Duration // sorted
	elapsed time.Duration
	failed  int64
	relaxed int64     // MDNs whose signature verified only with a tolerated deviation
	load    [2]string // the 1-minute load average before and after: others' work on the machine skews a ratio (the bench's own sender and receiver count too, about 2)
}

func (r *run) rate(n int) float64 { return float64(n) / r.elapsed.Seconds() }

func (r *run) print(n, size int) {
	pct := func(q float64) time.Duration {
		return r.lat[min(len(r.lat)-1, int(q*float64(len(r.lat))))].Round(100 * time.Microsecond)
	}
	fmt.Printf("  %.1f messages/s; latency p50 %v p90 %v p99 %v max %v\n", r.rate(n), pct(0.50), pct(0.90), pct(0.99), r.lat[len(r.lat)-1].Round(100*time.Microsecond))
	fmt.Printf("  %.1f MiB/s of payload", float64(n)*float64(size)/(1<<20)/r.elapsed.Seconds())
	if r.relaxed > 0 {
		fmt.Printf("; %d MDNs verified with a tolerated deviation", r.relaxed)
	}
	fmt.Println()
	fmt.Printf("  load average (1 min) before %s, after %s\n", r.load[0], r.load[1])
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// sendAll sends n messages to p from conc senders; a send fails unless
// the client settles it delivered (a signed MDN whose signature and MIC
// verify) and check, if any, accepts it.
func sendAll(client *as2.Client, p *as2.Partner, n, conc int, size int64, open func() (io.ReadCloser, error), check func(as2.Sent) error) *run {
	r := &run{lat: make([]time.Duration, n), load: [2]string{loadavg()}}
	var next, failed, relaxed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				sent, err := client.Send(context.Background(), p, as2.Outgoing{MessageID: fmt.Sprintf("m%d-%d", start.UnixNano(), i), Name: "bench.edi", Size: size, Open: open})
				r.lat[i] = time.Since(t0)
				if err == nil && sent.Status != lifecycle.StatusDelivered {
					err = errors.New("not delivered")
				}
				if err == nil && check != nil {
					err = check(*sent)
				}
				if err != nil {
					if failed.Add(1) <= 3 {
						log.Printf("send %d to %s: %v %+v", i, p.ID, err, sent)
					}
				} else if sent.MDN != nil && sent.MDN.Relaxed != "" && relaxed.Add(1) == 1 {
					log.Printf("%s's MDN verified with a tolerated deviation: %s", p.ID, sent.MDN.Relaxed)
				}
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.load[1] = loadavg()
	slices.Sort(r.lat)
	r.failed, r.relaxed = failed.Load(), relaxed.Load()
	return r
}

// identity writes a new RSA key and self-signed certificate as
// dir/name.key and dir/name.crt (like as2.GenerateIdentity, which makes
// RSA-3072 ones) and loads them.
func identity(dir, name, as2ID string, bits int) *as2.Identity {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	must(err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	must(err)
	now := time.Now().UTC().Add(-time.Hour)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: as2ID, Organization: []string{"Wharf AS2 bench"}},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	must(err)
	certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	id, err := as2.LoadIdentity(as2ID, certFile, keyFile)
	must(err)
	return id
}

// startLibas2 starts the tests' libas2 peer (transports/as2/testdata/
// libas2peer/peer.js, as transports/as2's libas2Peer does) in dir with
// the receiver's certificate and key (peer.crt, peer.key) and the sender's
// certificate (peer.js calls the partner it verifies wharf.crt), and
// returns its base URL and a function that stops it (showing what the
// peer wrote to stderr, if asked).
func startLibas2(node, libas2Dir, dir string, recv *as2.Identity, sendCert *x509.Certificate) (url string, stop func(showStderr bool)) {
	_, self, _, _ := runtime.Caller(0)
	peerJS := filepath.Join(filepath.Dir(self), "..", "..", "transports", "as2", "testdata", "libas2peer", "peer.js")
	if _, err := os.Stat(peerJS); err != nil {
		log.Fatalf("the libas2 peer program: %v (run the bench with go run ./bench/as2 in a checkout of Wharf)", err)
	}
	must(os.MkdirAll(dir, 0o700))
	kder, err := x509.MarshalPKCS8PrivateKey(recv.Key)
	must(err)
	must(os.WriteFile(filepath.Join(dir, "peer.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	must(os.WriteFile(filepath.Join(dir, "peer.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Cert.Raw}), 0o644))
	must(os.WriteFile(filepath.Join(dir, "wharf.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sendCert.Raw}), 0o644))
	// Node 20 refuses RSA PKCS#1 v1.5 decryption without this flag.
	cmd := exec.Command(node, "--security-revert=CVE-2023-46809", peerJS, dir)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(libas2Dir, "node_modules"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(cmd.Start())
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "LISTEN ") { // node prints warnings first
		line, err = br.ReadString('\n')
	}
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("the libas2 peer did not start (%v): %q\n%s", err, line, stderr.String())
	}
	go io.Copy(io.Discard, br)
	return "http://127.0.0.1:" + strings.TrimSpace(strings.TrimPrefix(line, "LISTEN ")), func(showStderr bool) {
		stdin.Close() // the peer exits at the end of its input
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if s := strings.TrimSpace(stderr.String()); showStderr && s != "" {
			fmt.Fprintf(os.Stderr, "libas2 peer stderr:\n%.2000s\n", s)
		}
	}
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
