package as2_test

import (
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports/as2"
)

// BenchmarkSendSyncMDN sends signed (SHA-256) and encrypted (AES-256-CBC,
// RSA key transport) 10 KB messages from Wharf's client to Wharf's
// receiving endpoint on loopback, each answered by a signed sync MDN that
// the client verifies (signature and MIC). Both sides keep their books in
// memory: this measures AS2 itself (MIME, CMS, RSA, HTTP), not the archive's
// fsyncs or the database. It reports messages/s and the p99 latency of one
// send (build, POST, MDN verification). Keys are RSA-2048 and RSA-3072
// (what Wharf generates for itself).
//
//	go test ./transports/as2/ -run '^$' -bench SendSyncMDN -benchtime 400x
//
// BenchmarkSendSyncMDNvsLibas2 runs the same sends, base64 bodies (libas2
// reads bodies as text), against Wharf's receiver and libas2's
// (testdata/libas2peer) in the same run.
func BenchmarkSendSyncMDN(b *testing.B) {
	for _, bits := range []int{2048, 3072} {
		for _, conc := range []int{1, 4} {
			b.Run(fmt.Sprintf("rsa%d/concurrency=%d", bits, conc), func(b *testing.B) { benchSend(b, bits, conc, "", false) })
		}
	}
}

func BenchmarkSendSyncMDNvsLibas2(b *testing.B) {
	for _, recv := range []string{"wharf", "libas2"} {
		for _, conc := range []int{1, 4} {
			b.Run(fmt.Sprintf("receiver=%s/concurrency=%d", recv, conc), func(b *testing.B) { benchSend(b, 2048, conc, recv, true) })
		}
	}
}

func benchSend(b *testing.B, bits, conc int, receiver string, base64 bool) {
	partyBits = bits
	defer func() { partyBits = 2048 }()
	l := newLoop(b)
	p := *l.acmeToSend // signed, aes256-cbc, sync signed MDN
	p.Base64 = base64
	if receiver == "libas2" {
		p.URL = libas2Peer(b, l.acme, l.wharf) + "/as2"
	}
	payload := make([]byte, 10<<10)
	rand.Read(payload)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				sent, err := l.client.Send(b.Context(), &p, as2.Outgoing{MessageID: fmt.Sprintf("b%d-%d", b.N, i), Payload: payload})
				lat[i] = time.Since(t0)
				if err != nil || sent.Status != lifecycle.StatusDelivered {
					failed.Store(fmt.Sprintf("send %d: %v %+v", i, err, sent))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[(len(lat)*99)/100]
	if len(lat) < 100 {
		p99 = lat[len(lat)-1]
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}
