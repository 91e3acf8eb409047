package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jackc/pgx/v5"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// Several instances as one (issue 18): three `wharf serve` on one
// PostgreSQL database and one S3 archive, with one configuration and one
// SSH host key, all three watching the folder partner's folder, and the
// SFTP and HTTP partners spread over them (each sender moves to the next
// instance when one stops answering, as behind a load balancer). One
// instance is killed with -9 a third of the way through, another stopped
// with SIGTERM two thirds through; the survivor finishes. The audit must
// find every acknowledged document archived and processed once with one
// 997 and no control number repeated; the killed instance's work must
// resume within the failover bound, and both departed instances must be
// gone from the instance table.
func TestCluster(t *testing.T) {
	dsn := testenv.Postgres(t)
	s3 := testenv.S3(t)
	keyDir := t.TempDir()
	hostKey := sshKey(t, filepath.Join(keyDir, "host_key"))
	s := newSite(t, siteOptions{
		DatabaseURL: dsn,
		ArchiveURL:  s3.URL("faults"),
		Env:         []string{"WHARF_S3_ACCESS_KEY=" + s3.AccessKey, "WHARF_S3_SECRET_KEY=" + s3.SecretKey},
		ExtraYAML: fmt.Sprintf("sftp:\n  host_key_file: %s\njobs:\n  failover_after: 15s\n"+
			"schedules:\n  - {name: tick, cron: \"* * * * *\", job: db.maintenance}\n", filepath.Join(keyDir, "host_key")),
	})
	nodes := []*site{s, s.twin(2), s.twin(3)}
	for _, n := range nodes {
		n.start()
	}
	// One identity: every instance presents the configured host key.
	for i, n := range nodes {
		c, err := ssh.Dial("tcp", n.sftpAddr, &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(s.acme)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("instance %d does not present the cluster's host key: %v", i+1, err)
		}
		c.Close()
	}

	// The load lasts more than a minute, so that a minute's schedule slot
	// falls inside it: the instance that leads (and queues the slots) is
	// killed 1.5 s before that slot, another stopped with SIGTERM later.
	total, rate := scale(600, 3000), scale(8, 25)
	l := startLoadOn(nodes, total, rate)
	slot := time.Now().Truncate(time.Minute).Add(time.Minute)
	if time.Until(slot) < 5*time.Second {
		slot = slot.Add(time.Minute)
	}
	time.Sleep(time.Until(slot.Add(-1500 * time.Millisecond))) // the fault's moment, not a wait for a condition
	leader := leaderOf(t, dsn, nodes)
	leader.kill9()
	waitAcked(t, l, 2*total/3)
	var other *site
	for _, n := range nodes[1:] {
		if n != leader {
			other = n
			break
		}
	}
	other.stop()
	l.wait(5 * time.Minute)
	var survivor *site // the audit runs against the instance still up
	for _, n := range nodes {
		if n != leader && n != other {
			survivor = n
		}
	}
	r := survivor.audit(l, dsn, scale(2*time.Minute, 5*time.Minute))
	if r.Settled > resumeBound {
		r.Problems = append(r.Problems, fmt.Sprintf("the last 997 came %s after the last acknowledgment (bound %s): the killed instance's jobs waited", r.Settled, resumeBound))
	}
	// The slot due as the leader died ran once, on time under the new
	// leader or caught up at a survivor's heartbeat a minute later.
	if runs, seen := slotRuns(t, dsn, "tick", slot, 3*time.Minute); runs != 1 {
		r.Problems = append(r.Problems, fmt.Sprintf("schedule slot %s (the leader killed 1.5 s before it) ran %d times, want once; the schedule's runs: %s",
			slot.UTC().Format(time.TimeOnly), runs, seen))
	}

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		ins, err := st.Instances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) == 1 {
			break
		}
		if time.Now().After(deadline) {
			var ids []string
			for _, in := range ins {
				ids = append(ids, fmt.Sprintf("%s (pid %d, beat %s)", in.ID, in.PID, in.HeartbeatAt.Format(time.TimeOnly)))
			}
			r.Problems = append(r.Problems, "instances left after a kill and a stop: "+strings.Join(ids, ", ")+"; want the survivor only")
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	var out strings.Builder
	for _, n := range nodes {
		out.WriteString(n.logs.String())
	}
	r.set("instances", len(nodes))
	r.set("killed", fmt.Sprintf("the leader, 1.5 s before the %s slot", slot.Format(time.TimeOnly)))
	r.set("failed-over jobs", strings.Count(out.String(), "its running jobs are back in the queue"))
	r.check(t)
	survivor.stop()
}

var instanceLine = regexp.MustCompile(`msg="wharf ready".* instance=(\S+)`)

// leaderOf is the instance River elected leader (it queues the schedules).
func leaderOf(t *testing.T, dsn string, nodes []*site) *site {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var id string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := conn.QueryRow(ctx, "SELECT leader_id FROM river_leader LIMIT 1").Scan(&id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no River leader elected after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range nodes {
		for _, m := range instanceLine.FindAllStringSubmatch(n.logs.String(), -1) {
			if m[1] == id {
				return n
			}
		}
	}
	t.Fatalf("the leader %s is none of the instances", id)
	return nil
}

// slotRuns waits (up to wait) for the schedule's slot to have run and
// returns how many completed runs stand for it: on time (its own slot) or
// a catch-up for missed slots whose latest is at or after it.
func slotRuns(t *testing.T, dsn, schedule string, slot time.Time, wait time.Duration) (int, string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(wait)
	for {
		rows, err := conn.Query(ctx, `SELECT (args->>'slot')::timestamptz, COALESCE((args->>'missed')::int, 0), state::text FROM river_job
			WHERE kind = 'wharf_scheduled' AND args->>'schedule' = $1 ORDER BY id`, schedule)
		if err != nil {
			t.Fatal(err)
		}
		n, seen := 0, []string{}
		for rows.Next() {
			var at time.Time
			var missed int
			var state string
			if err := rows.Scan(&at, &missed, &state); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, fmt.Sprintf("%s missed=%d %s", at.UTC().Format(time.TimeOnly), missed, state))
			if state != "completed" {
				continue
			}
			if at.Equal(slot) || (missed > 0 && !at.Before(slot) && at.Add(-time.Duration(missed)*time.Minute).Before(slot)) {
				n++
			}
		}
		rows.Close()
		if n > 0 || time.Now().After(deadline) {
			return n, strings.Join(seen, "; ")
		}
		time.Sleep(time.Second)
	}
}

// Two instances, and S3 out of reach of one of them only (its own path to
// the object store cut, as a network partition would): that instance
// keeps acknowledging into its own spool while the other goes on with S3.
// The other's jobs on messages whose blobs sit in the first one's spool
// must wait for the upload (never fail, never stall the rest), and once
// the path is back the spool drains: every document processed once with
// one 997, every blob in S3.
func TestClusterSpool(t *testing.T) {
	dsn := testenv.Postgres(t)
	s3 := testenv.S3(t)
	pxA, pxB := startProxy(t, s3.Endpoint), startProxy(t, s3.Endpoint)
	keyDir := t.TempDir()
	sshKey(t, filepath.Join(keyDir, "host_key"))
	url := func(px *faultProxy) string { return "s3://" + s3.Bucket + "/faults?endpoint=" + px.addr() }
	s := newSite(t, siteOptions{
		DatabaseURL: dsn,
		ArchiveURL:  url(pxA),
		Env:         []string{"WHARF_S3_ACCESS_KEY=" + s3.AccessKey, "WHARF_S3_SECRET_KEY=" + s3.SecretKey},
		ExtraYAML:   fmt.Sprintf("sftp:\n  host_key_file: %s\n", filepath.Join(keyDir, "host_key")),
	})
	b := s.twin(2)
	for i, e := range b.env {
		if strings.HasPrefix(e, "WHARF_ARCHIVE_URL=") {
			b.env[i] = "WHARF_ARCHIVE_URL=" + url(pxB)
		}
	}
	s.start()
	b.start()
	total := scale(300, 2000)
	l := startLoadOn([]*site{s, b}, total, 50)
	waitAcked(t, l, total/5)
	pxA.set(proxyDown, 0, 0)
	waitAcked(t, l, 3*total/5) // A spools meanwhile; B's jobs meet A's spooled blobs
	pxA.set(proxyPass, 0, 0)
	l.wait(5 * time.Minute)
	r := s.audit(l, dsn, scale(2*time.Minute, 5*time.Minute))

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spooled := strings.Count(s.logs.String(), "blob spooled locally")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ms, err := st.MessagesWithBlobPrefix(context.Background(), "spool:", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.Problems = append(r.Problems, fmt.Sprintf("%d+ blobs still spooled 2 minutes after S3 came back (first %s)", len(ms), ms[0].BlobRef))
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if spooled == 0 {
		r.Problems = append(r.Problems, "instance 1 spooled nothing while S3 was out of its reach: the test proves nothing")
	}
	r.set("blobs spooled by instance 1", spooled)
	r.check(t)
	b.stop()
	s.stop()
}

// twin is another instance of the same installation: the same working
// folder, configuration, keys and partners' folders, its own data folder
// and listeners.
func (s *site) twin(k int) *site {
	s.t.Helper()
	n := &site{t: s.t, dir: s.dir, data: filepath.Join(s.dir, fmt.Sprintf("wharf-data-%d", k)), in: s.in, out: s.out,
		acme: s.acme, token: s.token, httpAddr: freeAddr(s.t), sftpAddr: freeAddr(s.t), logs: &testenv.Buffer{}}
	for _, e := range s.env {
		switch {
		case strings.HasPrefix(e, "WHARF_HTTP_ADDR="):
			e = "WHARF_HTTP_ADDR=" + n.httpAddr
		case strings.HasPrefix(e, "WHARF_SFTP_ADDR="):
			e = "WHARF_SFTP_ADDR=" + n.sftpAddr
		case strings.HasPrefix(e, "WHARF_DATA="):
			e = "WHARF_DATA=" + n.data
		}
		n.env = append(n.env, e)
	}
	if err := os.MkdirAll(n.data, 0o700); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		n.kill9()
		if s.t.Failed() {
			s.t.Logf("instance %d's output (last 4 KiB):\n%s", k, tail(n.logs.String(), 4<<10))
		}
	})
	return n
}

// waitAcked waits until n documents of the load are acknowledged.
func waitAcked(t *testing.T, l *load, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for l.ackedCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d documents acknowledged after 2 minutes", l.ackedCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
