// Command limits measures what a flooding partner does to another
// partner's latency at the HTTP inbound door (issue 21: a flood from one
// partner does not slow the others). It starts `wharf serve` with two
// partners, acme limited to 600 requests a minute (burst 10) and beta with
// the default limits, and times beta's posts at a steady rate twice: alone,
// then while acme floods at ten times its limit.
//
//	go run ./bench/limits [-wharf BIN] [-n 300] [-rate 20]
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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("wharf", "", "wharf binary (default: go build ./cmd/wharf into the work folder)")
	n := flag.Int("n", 300, "beta's posts per phase")
	rate := flag.Float64("rate", 20, "beta's posts per second")
	flood := flag.Float64("flood", 100, "acme's posts per second while flooding (its limit is 10 a second)")
	flag.Parse()

	work, err := os.MkdirTemp("", "wharf-bench-limits-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	if *bin == "" {
		*bin = filepath.Join(work, "wharf")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/wharf").CombinedOutput(); err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	cfg := `partners:
  - id: acme
    http: {token_env: ACME_TOKEN}
    limits: {per_minute: 600, burst: 10}
  - id: beta
    http: {token_env: BETA_TOKEN}
`
	if err := os.WriteFile(filepath.Join(work, "wharf.yaml"), []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(*bin, "serve", "--config", "wharf.yaml")
	srv.Dir = work
	srv.Env = append(os.Environ(), "WHARF_HTTP_ADDR="+addr, "WHARF_SFTP_ADDR=127.0.0.1:0", "ACME_TOKEN=acme-secret-token-1", "BETA_TOKEN=beta-secret-token-1")
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.Process.Kill()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && regexp.MustCompile(`wharf ready`).MatchString(sc.Text()) {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		log.Fatal("wharf serve not ready after 60 s")
	}

	var seq atomic.Int64
	post := func(partner, token string) (int, time.Duration) {
		i := seq.Add(1)
		body := fmt.Appendf(nil, "ISA*00*          *00*          *ZZ*%-15s*ZZ*WHARF          *260101*1200*U*00401*%09d*0*P*>~\nIEA*0*%09d~\n", partner, i, i)
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/api/v1/inbound/%s?filename=f%d.edi", addr, partner, i), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		took := time.Since(start)
		if err != nil {
			return 0, took
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, took
	}
	phase := func(name string) {
		var lat []time.Duration
		refused := 0
		tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer tick.Stop()
		for range *n {
			<-tick.C
			code, took := post("beta", "beta-secret-token-1")
			if code != http.StatusCreated && code != http.StatusOK {
				refused++
				continue
			}
			lat = append(lat, took)
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(100 * time.Microsecond)
		}
		fmt.Printf("  beta %s: %d posts at %.0f/s, %d refused; p50 %v  p90 %v  p99 %v  max %v\n", name, *n, *rate, refused, q(0.5), q(0.9), q(0.99), lat[len(lat)-1].Round(100*time.Microsecond))
	}

	fmt.Printf("HTTP inbound, beta at a steady rate; acme limited to 600/min (burst 10)\n")
	phase("alone")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, throttled atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / *flood))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				go func() {
					code, _ := post("acme", "acme-secret-token-1")
					sent.Add(1)
					if code == http.StatusTooManyRequests {
						throttled.Add(1)
					}
				}()
			}
		}
	})
	phase("while acme floods")
	close(stop)
	wg.Wait()
	fmt.Printf("  acme: %d posts at %.0f/s, %d answered 429\n", sent.Load(), *flood, throttled.Load())
}
