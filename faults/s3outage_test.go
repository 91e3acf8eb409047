package faults

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Scenario 3: the archive's S3 server stops, then answers slowly and resets
// connections, under a paced load. A Put that cannot reach S3 keeps its
// blob in the local spool and succeeds, so partners keep getting their
// uploads acknowledged; when S3 is back the spool drains: every entry ends
// up `s3:` and its object is in the bucket.
func TestS3Outage(t *testing.T) {
	e := testenv.S3(t)
	px := startProxy(t, e.Endpoint)
	total, rate := scale(450, 3000), scale(30, 25)
	outage, flaky := scale(5*time.Second, 60*time.Second), scale(3*time.Second, 15*time.Second)
	extra, drainBound := "", 3*time.Minute
	if !long() {
		// The spool job snoozes a minute while S3 is down; in CI's short
		// run an operator's schedule uploads every 5 s instead, so the
		// drain fits the scenario's time. The long run keeps the default.
		extra = "schedules:\n  - {name: spool-often, cron: \"@every 5s\", job: archive.spool}\n"
		drainBound = 30 * time.Second
	}
	const prefix = "faults"
	s := newSite(t, siteOptions{
		ArchiveURL: "s3://" + e.Bucket + "/" + prefix + "?endpoint=" + px.addr(),
		ExtraYAML:  extra,
		Env:        []string{"WHARF_S3_ACCESS_KEY=" + e.AccessKey, "WHARF_S3_SECRET_KEY=" + e.SecretKey},
	})
	s.start()
	l := startLoad(s, total, rate)

	waitFor(t, 2*time.Minute, "a tenth of the load acknowledged", func() bool { return l.ackedCount() >= total/10 })
	errsBefore, ackedBefore := sum(l.errors()), l.ackedCount()
	px.set(proxyDown, 0, 0)
	time.Sleep(outage) // the fault's length, not a wait for a condition
	ackedInOutage := l.ackedCount() - ackedBefore
	px.set(proxySlow, 100*time.Millisecond, 0)
	time.Sleep(flaky)
	px.set(proxyResets, 0, 0.3)
	time.Sleep(flaky)
	px.set(proxyPass, 0, 0)
	up := time.Now()
	refusedInFaults := sum(l.errors()) - errsBefore
	t.Logf("outage: %d documents acknowledged in %s of S3 down; %d refusals during the faults; proxy %v",
		ackedInOutage, outage, refusedInFaults, fmt.Sprint(px.stats()))

	l.wait(5 * time.Minute)
	ctx := context.Background()
	st, err := store.Open(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var drain time.Duration
	waitFor(t, drainBound, "the spool drained to S3", func() bool {
		ms, err := st.MessagesWithBlobPrefix(ctx, "spool:", 1)
		if err != nil {
			t.Fatal(err)
		}
		drain = time.Since(up)
		return len(ms) == 0
	})

	// The audit's `wharf archive verify` now reads every blob from S3.
	r := s.audit(l, s.dsn(), scale(time.Minute, 3*time.Minute))
	spooled, uploaded := s.metric("wharf_archive_spooled_total"), s.metric("wharf_archive_spool_uploaded_total")
	r.set("spooled", spooled)
	r.set("uploaded from the spool", uploaded)
	r.set("drained after S3 was back", drain.Round(100*time.Millisecond))
	r.set("acknowledged while S3 was down", ackedInOutage)
	r.set("refusals during the faults", refusedInFaults)
	r.set("proxy accepted/refused/reset", fmt.Sprint(px.stats()))

	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }
	if spooled == 0 {
		problem("nothing was spooled: the outage did not reach the archive")
	}
	// The pacer hands out rate documents a second: the spool must take at
	// least half of what was sent while S3 was down.
	if want := int(outage.Seconds()) * rate / 2; ackedInOutage < want {
		problem("%d documents acknowledged during %s of S3 down, want at least %d", ackedInOutage, outage, want)
	}
	if bound := 3 + total/100; refusedInFaults > bound {
		problem("senders saw %d refusals during the faults (bound %d): the spool should have taken them", refusedInFaults, bound)
	}
	checkBucket(ctx, t, st, e, prefix, problem)
	if left := spoolFiles(t, filepath.Join(s.data, "archive-spool")); left > 0 {
		problem("%d blobs left in the spool folder after the drain", left)
	}
	r.check(t)
	s.stop()
}

// checkBucket requires every archived message to point at S3 and its
// object to be in the bucket.
func checkBucket(ctx context.Context, t *testing.T, st store.Store, e testenv.S3Env, prefix string, problem func(string, ...any)) {
	objects := map[string]bool{}
	for o := range e.Client.ListObjects(ctx, e.Bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list the bucket: %v", o.Err)
		}
		objects[strings.TrimPrefix(o.Key, prefix+"/")] = true
	}
	ms, err := st.MessagesWithBlobPrefix(ctx, "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		key, ok := strings.CutPrefix(m.BlobRef, "s3:")
		if !ok {
			problem("message %s (%s %s): blob %s, want s3:", m.ID, m.PartnerID, m.RemoteName, m.BlobRef)
		} else if !objects[key] {
			problem("message %s (%s %s): object %s/%s not in the bucket", m.ID, m.PartnerID, m.RemoteName, prefix, key)
		}
	}
	t.Logf("bucket: %d objects for %d messages", len(objects), len(ms))
}

// spoolFiles counts the blobs in a spool folder (temporary files aside).
func spoolFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(filepath.Join(dir, "sha256"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// metric sums the series of a counter or gauge on the server's /metrics.
func (s *site) metric(name string) float64 {
	s.t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

// waitFor polls cond every 50 ms and fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sum(m map[door]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
