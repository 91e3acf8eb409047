package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Scenario 5: slow and stuck peers next to a steady mixed load.
//
//   - SFTP clients (acme's key) open an upload, write half of it and stall,
//     holding their sessions for the rest of the run;
//   - hookdead's acknowledgments go to a webhook whose server accepts and
//     never answers (timeout: 1s);
//   - sftpdead's outbound documents are pushed to an SFTP server that
//     accepts TCP and never sends its banner (sftp_remote.timeout: 3s
//     bounds the connection, handshake and session start).
//
// Every delivery to a stuck peer must end in a timeout within its bound and
// be retried, nothing to them counts as delivered, no stalled upload is
// archived, and the other partners' load passes the audit, in its time
// bound, with its latency (upload to 997 archived) as before the peers got
// stuck, within noise. An AS2 partner whose async MDN never comes is
// TestAS2AsyncMDNNeverComes's.
func TestStuckPeers(t *testing.T) {
	total, rate := scale(450, 3000), scale(30, 30)
	stalls, stuckDocs := scale(8, 32), scale(20, 60)
	const hookTimeout, sshTimeout = time.Second, 3 * time.Second // webhook timeout: 1s; sftp_remote.timeout: 3s

	hook, sshd := startBlackhole(t), startBlackhole(t)
	dir := t.TempDir()
	key := sshKey(t, filepath.Join(dir, "sftpdead_key"))
	hookToken := randHex(16)
	sum := sha256.Sum256([]byte(hookToken))
	// Appended to the site's partner list.
	extra := fmt.Sprintf(`  - id: hookdead
    http:
      token_sha256: %s
      webhook: {url: "http://%s/hook", secret_env: HOOKDEAD_SECRET, timeout: 1s}
  - id: sftpdead
    sftp_remote:
      host: 127.0.0.1
      port: %s
      user: wharf
      key_file: %s
      host_key: %q
      timeout: 3s
      push: {folder: /inbound}
`, hex.EncodeToString(sum[:]), hook.addr(), portOf(sshd.addr()), filepath.Join(dir, "sftpdead_key"),
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key.PublicKey()))))
	s := newSite(t, siteOptions{ExtraYAML: extra, Env: []string{"HOOKDEAD_SECRET=" + randHex(16)}})
	s.start()

	began := time.Now()
	l := startLoad(s, total, rate)
	waitFor(t, time.Minute, "a third of the load acknowledged", func() bool { return l.ackedCount() >= total/3 })

	// The peers get stuck.
	stuckAt := time.Now()
	held := stallUploads(t, s, stalls)
	for i := 1; i <= stuckDocs; i++ {
		ctl := 900000 + i
		postDoc(t, s, "hookdead", hookToken, ctl)
		// Acknowledgments go back over the transport a file came in on, and
		// nothing comes in from a server that never answers: sftpdead's
		// outbound documents are put in the archive by hand, which queues
		// their push as any outbound document's.
		f := filepath.Join(dir, fileName(ctl))
		if err := os.WriteFile(f, doc("WHARF", ctl), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := s.cli("archive", "put", "--partner", "sftpdead", "--direction", "out", "--transport", "sftp-client", f); err != nil {
			t.Fatalf("wharf archive put: %v\n%s", err, out)
		}
	}

	bound := time.Duration(total/rate)*time.Second + 30*time.Second
	l.wait(bound - time.Since(began))
	loadTook := time.Since(began)
	r := s.audit(l, s.dsn(), time.Minute)
	problem := func(format string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, a...)) }

	ctx := context.Background()
	st, err := store.Open(ctx, s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Deliveries to the stuck peers: timed out, retried, never delivered.
	// sftpdead's first attempts end at the handshake bound; hookdead's are
	// retried by then.
	var hookFails, sftpFails []int
	for deadline := stuckAt.Add(sshTimeout + 30*time.Second); ; time.Sleep(250 * time.Millisecond) {
		hookFails, sftpFails = failedAttempts(t, st, "hookdead"), failedAttempts(t, st, "sftpdead")
		if len(hookFails) == stuckDocs && len(sftpFails) == stuckDocs && slices.Min(hookFails) >= 2 && slices.Min(sftpFails) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			var last string
			if ms := outbound(t, st, "sftpdead"); len(ms) > 0 {
				evs, _ := st.Events(ctx, ms[0].ID)
				for _, e := range evs {
					last += fmt.Sprintf("\n  %s: %s", e.Kind, e.Detail)
				}
			}
			t.Fatalf("%s after the peers got stuck, failed attempts per message: webhook %v, sftp push %v (want %d messages each, webhook >= 2, sftp >= 1); "+
				"the stuck SFTP server saw %d connections, the longest open %s; a push's events:%s",
				time.Since(stuckAt).Round(time.Second), hookFails, sftpFails, stuckDocs, sshd.accepted(), sshd.longest(), last)
		}
	}
	for _, p := range []string{"hookdead", "sftpdead"} {
		for _, m := range outbound(t, st, p) {
			if m.Status == lifecycle.StatusDelivered {
				problem("%s's %s is delivered, but its peer never answered", p, m.RemoteName)
			}
			evs, err := st.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Kind == lifecycle.EventAttemptFailed && !timedOut(e.Detail) {
					problem("%s's %s: a failed attempt that is not a timeout: %s", p, m.RemoteName, e.Detail)
				}
			}
		}
	}
	hookHold, sshHold := hook.longest(), sshd.longest()
	if hookHold > hookTimeout+time.Second {
		problem("a webhook connection stayed open %s (timeout %s)", hookHold, hookTimeout)
	}
	if sshHold > sshTimeout+3*time.Second {
		problem("an SFTP push connection stayed open %s (handshake bound %s)", sshHold, sshTimeout)
	}

	// The stalled uploads are still open and nothing of them is archived.
	for _, m := range inboundOf(t, st, "acme") {
		if strings.HasPrefix(filepath.Base(m.RemoteName), "stall") {
			problem("stalled upload %s archived (%s)", m.RemoteName, m.Status)
		}
	}
	if !s.running() {
		problem("wharf serve exited")
	}

	// The other partners' latency, before and while the peers were stuck.
	latency, slow := latencyAround(t, st, stuckAt)
	if slow != "" {
		problem("upload-to-997 latency %s while peers were stuck", slow)
	}
	if loadTook > bound {
		problem("the load took %s (bound %s)", loadTook, bound)
	}
	r.set("stalled uploads held", len(held))
	r.set("webhook failed attempts (min/max per message)", fmt.Sprintf("%d/%d", slices.Min(hookFails), slices.Max(hookFails)))
	r.set("sftp push failed attempts (min/max per message)", fmt.Sprintf("%d/%d", slices.Min(sftpFails), slices.Max(sftpFails)))
	r.set("connections to the stuck webhook/sftp", fmt.Sprintf("%d/%d", hook.accepted(), sshd.accepted()))
	r.set("longest webhook hold", hookHold.Round(10*time.Millisecond))
	r.set("longest sftp push hold", sshHold.Round(10*time.Millisecond))
	r.set("latency p95 before/while stuck", latency)
	r.set("load took", loadTook.Round(100*time.Millisecond))
	r.check(t)
	// A stop lets running jobs finish within a 30 s budget, as long as the
	// harness waits: let the pushes in their handshake end first.
	waitFor(t, sshTimeout+5*time.Second, "no push to the stuck SFTP server in flight", func() bool { return sshd.openConns() == 0 })
	stopping := time.Now()
	s.stop()
	t.Logf("stopped in %s", time.Since(stopping).Round(10*time.Millisecond))
}

// blackhole accepts TCP connections and never writes a byte; it records
// how long each client kept its connection before giving up.
type blackhole struct {
	ln    net.Listener
	mu    sync.Mutex
	holds []time.Duration
	open  map[net.Conn]time.Time
}

func startBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, open: map[net.Conn]time.Time{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			at := time.Now()
			b.mu.Lock()
			b.open[c] = at
			b.mu.Unlock()
			go func() {
				io.Copy(io.Discard, c) // until the client gives up
				b.mu.Lock()
				delete(b.open, c)
				b.holds = append(b.holds, time.Since(at))
				b.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for c := range b.open {
			c.Close()
		}
	})
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

// longest is the longest a client held a connection, counting those still
// open.
func (b *blackhole) longest() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var m time.Duration
	for _, d := range b.holds {
		m = max(m, d)
	}
	for _, at := range b.open {
		m = max(m, time.Since(at))
	}
	return m
}

// openConns is how many connections are open now.
func (b *blackhole) openConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.open)
}

// accepted is how many connections the peer has seen.
func (b *blackhole) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.holds) + len(b.open)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// stallUploads opens n SFTP uploads as acme, writes half of each and
// leaves them open until the test ends.
func stallUploads(t *testing.T, s *site, n int) []*ssh.Client {
	t.Helper()
	var held []*ssh.Client
	for i := 0; i < n; i++ {
		conn, err := ssh.Dial("tcp", s.sftpAddr, &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(s.acme)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("stalled upload %d: %v", i, err)
		}
		t.Cleanup(func() { conn.Close() })
		c, err := sftp.NewClient(conn)
		if err != nil {
			t.Fatalf("stalled upload %d: %v", i, err)
		}
		f, err := c.Create(fmt.Sprintf("inbound/stall%02d.edi", i))
		if err != nil {
			t.Fatalf("stalled upload %d: %v", i, err)
		}
		b := doc("ACME", 800000+i)
		if _, err := f.Write(b[:len(b)/2]); err != nil {
			t.Fatalf("stalled upload %d: %v", i, err)
		}
		held = append(held, conn)
	}
	return held
}

func postDoc(t *testing.T, s *site, partner, token string, ctl int) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/api/v1/inbound/"+partner+"?filename="+fileName(ctl), bytes.NewReader(doc(strings.ToUpper(partner), ctl)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST to %s: %v", partner, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST to %s: %s", partner, resp.Status)
	}
}

func messagesOf(t *testing.T, st store.Store, partner string, dir store.Direction) []*store.Message {
	t.Helper()
	var all []*store.Message
	f := store.MessageFilter{PartnerID: partner, Direction: dir, Limit: 1000}
	for {
		page, err := st.SearchMessages(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			return all
		}
		f.Before, f.BeforeID = page[len(page)-1].ReceivedAt, page[len(page)-1].ID
	}
}

func inboundOf(t *testing.T, st store.Store, partner string) []*store.Message {
	return messagesOf(t, st, partner, store.Inbound)
}

func outbound(t *testing.T, st store.Store, partner string) []*store.Message {
	return messagesOf(t, st, partner, store.Outbound)
}

// failedAttempts counts the attempt_failed events of each of the partner's
// outbound messages.
func failedAttempts(t *testing.T, st store.Store, partner string) []int {
	t.Helper()
	var n []int
	for _, m := range outbound(t, st, partner) {
		evs, err := st.Events(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		c := 0
		for _, e := range evs {
			if e.Kind == lifecycle.EventAttemptFailed {
				c++
			}
		}
		n = append(n, c)
	}
	return n
}

func timedOut(detail string) bool {
	for _, s := range []string{"timeout", "deadline exceeded", "Client.Timeout"} {
		if strings.Contains(detail, s) {
			return true
		}
	}
	return false
}

// latencies are, for the load's documents, the time from the upload's
// archive entry to its 997's, split by whether the upload came before at.
func latencies(t *testing.T, st store.Store, at time.Time) (before, after []time.Duration) {
	t.Helper()
	for _, p := range []string{"erp", "acme", "tms"} {
		in := map[string]*store.Message{}
		for _, m := range inboundOf(t, st, p) {
			in[m.ID] = m
		}
		for _, m := range outbound(t, st, p) {
			parent := in[m.ParentID]
			if parent == nil || !strings.HasPrefix(filepath.Base(m.RemoteName), "997_") {
				continue
			}
			d := m.ReceivedAt.Sub(parent.ReceivedAt)
			if parent.ReceivedAt.Before(at) {
				before = append(before, d)
			} else {
				after = append(after, d)
			}
		}
	}
	return before, after
}

func p95(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)*95/100]
}

// latencyAround compares the load's latency (upload to 997 archived)
// before and after at: the figure, and what is wrong when the p95 after
// is more than three times the p95 before plus a second ("" when not).
// The bound is loose on purpose: it catches a blocked flow, not noise.
func latencyAround(t *testing.T, st store.Store, at time.Time) (figure, slow string) {
	t.Helper()
	before, after := latencies(t, st, at)
	p95b, p95a := p95(before), p95(after)
	figure = fmt.Sprintf("%s/%s (%d/%d docs)", p95b.Round(time.Millisecond), p95a.Round(time.Millisecond), len(before), len(after))
	if limit := 3*p95b + time.Second; p95a > limit {
		slow = fmt.Sprintf("p95 %s, %s before (limit %s)", p95a, p95b, limit)
	}
	return figure, slow
}
