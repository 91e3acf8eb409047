package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/testenv"
)

// Wharf polls and pushes to a private OpenSSH sshd: pull with delete, pull
// with move (other names left alone), and the 997 pushed back under a
// temporary name and renamed.
func TestSFTPClientPullAndPushWithOpenSSH(t *testing.T) {
	d := testenv.StartSSHD(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "remote_key")
	os.WriteFile(keyFile, d.UserKey, 0o600)
	for _, f := range []string{"carrier/out", "carrier/in", "fwd/out", "fwd/done"} {
		os.MkdirAll(filepath.Join(d.Dir, f), 0o755)
	}
	load, _ := os.ReadFile(corpusFile("004010/204.edi"))
	os.WriteFile(filepath.Join(d.Dir, "carrier/out/load.edi"), load, 0o644)
	os.WriteFile(filepath.Join(d.Dir, "fwd/out/a.edi"), load, 0o644)
	os.WriteFile(filepath.Join(d.Dir, "fwd/out/readme.txt"), []byte("not EDI"), 0o644)

	remote := func(extra string) string {
		return fmt.Sprintf(`
    sftp_remote:
      host: 127.0.0.1
      port: %d
      user: %s
      key_file: remote_key
      host_key: %q
%s`, d.Port, d.User, d.HostKey, extra)
	}
	cfg := `partners:
  - id: carrier` + remote(`      pull: {folder: `+d.Dir+`/carrier/out, min_age: 0s, schedule: "@every 2s"}
      push: {folder: `+d.Dir+`/carrier/in}`) + `
  - id: fwd
    x12: {ack: none}` + remote(`      pull: {folder: `+d.Dir+`/fwd/out, pattern: "*.edi", after: move, move_to: `+d.Dir+`/fwd/done, min_age: 0s, schedule: "@every 2s"}`)
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600)
	if out, code := runCLI(t, dir, nil, "config", "check", "--config", "wharf.yaml"); code != 0 {
		t.Fatalf("config check: %s\n%s", out, cfg)
	}
	srv := startServer(t, dir, nil, "--config", "wharf.yaml")
	defer srv.stop(t)

	waitFor(t, "the 997 pushed to carrier/in", func() bool {
		es, _ := os.ReadDir(filepath.Join(d.Dir, "carrier/in"))
		return len(es) == 1 && es[0].Name() == "997_load.edi"
	})
	if _, err := os.Stat(filepath.Join(d.Dir, "carrier/out/load.edi")); !os.IsNotExist(err) {
		t.Fatalf("pulled file not deleted after archiving: %v", err)
	}
	ack, _ := os.ReadFile(filepath.Join(d.Dir, "carrier/in/997_load.edi"))
	if !strings.Contains(string(ack), "AK5*A~") {
		t.Fatalf("pushed 997:\n%s", ack)
	}
	waitFor(t, "fwd's file moved to done/", func() bool {
		_, err := os.Stat(filepath.Join(d.Dir, "fwd/done/a.edi"))
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(d.Dir, "fwd/out/readme.txt")); err != nil {
		t.Fatalf("a file not matching the pattern was touched: %v", err)
	}

	var inbound, delivered int
	for _, a := range searchArchive(t, dir, "--partner", "carrier") {
		if a.Direction == "in" && a.Transport == "sftp-client" && a.Filename == d.Dir+"/carrier/out/load.edi" {
			inbound++
		}
		if a.Direction == "out" && a.Status == "delivered" {
			delivered++
		}
	}
	if inbound != 1 || delivered != 1 {
		t.Fatalf("carrier: %d inbound (want 1), %d delivered acks (want 1)", inbound, delivered)
	}
	if got := searchArchive(t, dir, "--partner", "fwd"); len(got) != 1 {
		t.Fatalf("fwd: want exactly one archived message (no ack with ack: none), got %+v", got)
	}
}
