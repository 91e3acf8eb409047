package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// kill -9 of wharf serve in the middle of many uploads: every upload whose
// CLOSE the client saw succeed is archived exactly once after a restart, and
// no upload is archived or acknowledged twice.
func TestSFTPKill9DuringUploads(t *testing.T) {
	dir := t.TempDir()
	sshKey(t, filepath.Join(dir, "acme_key"))
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte("partners:\n  - id: acme\n    ssh_key_files: [acme_key.pub]\n"), 0o600)
	srv := startServer(t, dir, nil, "--config", "wharf.yaml")

	keyPEM, _ := os.ReadFile(filepath.Join(dir, "acme_key"))
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	load, _ := os.ReadFile(corpusFile("004010/204-minimal.edi"))
	content := func(i int) []byte { // its own interchange control number per file
		return []byte(strings.ReplaceAll(string(load), "000000205", fmt.Sprintf("%09d", i)))
	}

	var (
		mu        sync.Mutex
		confirmed = map[string]string{} // name -> sha256 of uploads whose Close returned nil
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	const workers, total = 4, 400
	killAt := int64(total / 3)
	killed := make(chan struct{})
	var killOnce sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := ssh.Dial("tcp", srv.sftp, &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
				HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}) // the host key is checked in the OpenSSH test
			if err != nil {
				return
			}
			defer conn.Close()
			c, err := sftp.NewClient(conn)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				if int64(i) == killAt {
					killOnce.Do(func() { srv.cmd.Process.Kill(); close(killed) })
				}
				name := fmt.Sprintf("f%04d.edi", i)
				body := content(i)
				f, err := c.Create("inbound/" + name)
				if err != nil {
					return
				}
				_, werr := f.Write(body)
				if cerr := f.Close(); werr == nil && cerr == nil {
					sum := sha256.Sum256(body)
					mu.Lock()
					confirmed[name] = hex.EncodeToString(sum[:])
					mu.Unlock()
				} else {
					return // the server is gone
				}
			}
		}()
	}
	wg.Wait()
	<-killed
	<-srv.exited
	if len(confirmed) == 0 {
		t.Fatal("no upload succeeded before the kill: the test proves nothing")
	}

	// Restart; processing resumes from the queue.
	srv = startServer(t, dir, nil, "--config", "wharf.yaml")
	defer srv.stop(t)
	var all []archived
	deadline := time.Now().Add(60 * time.Second)
	for {
		all = searchArchive(t, dir, "--partner", "acme", "--limit", "1000")
		// Processed, and its 997 archived (the status is set before the
		// acknowledgment is written, so wait for both).
		var pending []string
		ackFor := map[string]bool{}
		for _, a := range all {
			if a.Direction == "out" {
				ackFor[strings.TrimPrefix(a.Filename, "997_")] = true
			}
		}
		for _, a := range all {
			if a.Direction == "in" && (a.Status != "processed" || !ackFor[strings.TrimPrefix(a.Filename, "inbound/")]) {
				pending = append(pending, a.ID+" "+a.Status)
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			ev, _ := runCLI(t, dir, nil, "archive", "events", "--config", "wharf.yaml", strings.Fields(pending[0])[0])
			t.Fatalf("%d archived uploads not processed after a restart, e.g. %s:\n%s\nserver log:\n%s", len(pending), pending[0], ev, srv.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]int{}
	acks := map[string]int{}
	for _, a := range all {
		if a.Direction == "in" {
			seen[strings.TrimPrefix(a.Filename, "inbound/")]++
			if want, ok := confirmed[strings.TrimPrefix(a.Filename, "inbound/")]; ok && want != a.SHA256 {
				t.Errorf("%s archived with sha256 %s, uploaded %s", a.Filename, a.SHA256, want)
			}
		} else {
			acks[a.Filename]++
		}
	}
	for name := range confirmed {
		if seen[name] != 1 {
			t.Errorf("confirmed upload %s archived %d times", name, seen[name])
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s archived %d times", name, n)
		}
		if acks["997_"+name] != 1 {
			t.Errorf("%s acknowledged %d times", name, acks["997_"+name])
		}
	}
	out, code := runCLI(t, dir, nil, "archive", "verify", "--config", "wharf.yaml")
	if code != 0 {
		t.Fatalf("archive verify after kill -9: %s", out)
	}
	t.Logf("%d uploads confirmed before kill -9, %d archived in all", len(confirmed), len(seen))
}
