package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// kill -9 of wharf serve in the middle of a 3,000-file burst into a watched
// folder, with the group commits, shared folder fsyncs and 100 concurrent
// jobs of the fast path all in flight: after a restart every file is
// archived exactly once, gets exactly one 997 in the outbound folder, and no
// two 997s share an interchange control number (no control number was
// drawn twice for one file, none reused across files).
func TestFolderKill9DuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3,000-file burst, a crash and a restart (about 30 s)")
	}
	const total = 3000
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	os.MkdirAll(in, 0o755)
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), fmt.Appendf(nil,
		"partners:\n  - id: erp\n    folder: {inbound: %s, outbound: %s, stable: false, after: delete}\n", in, out), 0o600)
	srv := startServer(t, dir, nil, "--config", "wharf.yaml")

	// The writer keeps writing while the server is killed and restarted.
	written := writeBurst(t, in, total, 0)
	acks := func() []string {
		names, _ := filepath.Glob(filepath.Join(out, "997_*"))
		return names
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(acks()) < total/10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d 997s after 2 minutes:\n%s", len(acks()), srv.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.cmd.Process.Kill()
	<-srv.exited
	before := len(acks())
	if before >= total {
		t.Fatalf("all %d files were through before the kill: the test proves nothing", total)
	}
	<-written

	srv = startServer(t, dir, nil, "--config", "wharf.yaml")
	defer srv.stop(t)
	deadline = time.Now().Add(5 * time.Minute)
	for {
		left, _ := filepath.Glob(filepath.Join(in, "load*"))
		if len(acks()) >= total && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %d of %d 997s, %d files left in the inbound folder\n%s", len(acks()), total, len(left), srv.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Deliveries in flight at the kill may be repeated by the restart, as
	// the same file under the same name: let them settle.
	time.Sleep(time.Second)

	perFile := map[string][]string{}
	isa := map[string]string{}
	for _, p := range acks() {
		name := filepath.Base(p)
		if strings.HasPrefix(name, ".") {
			continue
		}
		// 997_load00001.edi, or 997_load00001.<id>.edi for a second
		// message with the same name (which must not happen here).
		stem := strings.TrimPrefix(name, "997_")
		input := stem[:len("load00000")] + ".edi"
		perFile[input] = append(perFile[input], name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ctl := isa13(b)
		if other, dup := isa[ctl]; dup {
			t.Errorf("997s %s and %s share ISA13 %s", other, name, ctl)
		}
		isa[ctl] = name
	}
	for i := 1; i <= total; i++ {
		name := fmt.Sprintf("load%05d.edi", i)
		if got := perFile[name]; len(got) != 1 {
			t.Errorf("%s: %d 997s %v, want exactly one", name, len(got), got)
		}
	}
	// Archived exactly once each: one inbound message per file name.
	st, err := store.Open(context.Background(), filepath.Join(dir, "wharf-data", "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seen := map[string]int{}
	f := store.MessageFilter{PartnerID: "erp", Direction: store.Inbound, Limit: 1000}
	for {
		page, err := st.SearchMessages(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			seen[filepath.Base(m.RemoteName)]++
		}
		if len(page) < f.Limit {
			break
		}
		f.Before, f.BeforeID = page[len(page)-1].ReceivedAt, page[len(page)-1].ID
	}
	for i := 1; i <= total; i++ {
		name := fmt.Sprintf("load%05d.edi", i)
		if seen[name] != 1 {
			t.Errorf("%s archived %d times, want once", name, seen[name])
		}
	}
	t.Logf("killed with %d of %d 997s out; after the restart all %d files have exactly one 997 and one archived copy", before, total, total)
}

// writeBurst writes load00001.edi … in as burstDoc files in the
// background, each under a dot name and then renamed, as a well-behaved
// exporter does, pausing between files (0: one burst). The channel closes
// when the writer is done.
func writeBurst(t *testing.T, in string, total int, pause time.Duration) <-chan struct{} {
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i := 1; i <= total; i++ {
			name := fmt.Sprintf("load%05d.edi", i)
			tmp := filepath.Join(in, "."+name)
			if err := os.WriteFile(tmp, burstDoc(i), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := os.Rename(tmp, filepath.Join(in, name)); err != nil {
				t.Error(err)
				return
			}
			if pause > 0 {
				time.Sleep(pause)
			}
		}
	}()
	return written
}

// burstDoc is a small 204 with its own interchange and group control numbers.
func burstDoc(ctl int) []byte {
	return fmt.Appendf(nil, "ISA*00*          *00*          *ZZ*ERP            *ZZ*WHARF          *260101*1200*U*00401*%09d*0*P*>~\n"+
		"GS*SM*ERP*WHARF*20260101*1200*%d*X*004010~\nST*204*0001~\nB2**SCAC**LOAD%d**PP~\nB2A*00~\n"+
		"S5*1*LD~\nS5*2*UL~\nL3*1000*G~\nSE*7*0001~\nGE*1*%d~\nIEA*1*%09d~\n", ctl, ctl, ctl, ctl, ctl)
}

// isa13 is the interchange control number of an X12 file (its element
// separator is the byte after "ISA").
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
