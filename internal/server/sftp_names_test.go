package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// OpenSSH's sftp: an upload to a name starting with "." is refused at once
// (before, CLOSE answered OK and the file was dropped at logout), and so is
// a rename to such a name; a dot-prefixed temporary name renamed to its
// final name is archived under that name.
func TestSFTPOpenSSHDotNames(t *testing.T) {
	if _, err := exec.LookPath("sftp"); err != nil {
		testenv.Missing(t, "sftp", "apt-get install openssh-client", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "key")
	os.WriteFile(key, pem.EncodeToMemory(blk), 0o600)
	sp, _ := ssh.NewPublicKey(pub)
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme", SSHKeys: []string{string(ssh.MarshalAuthorizedKey(sp))}}); err != nil {
		t.Fatal(err)
	}
	hostKey, _ := LoadOrCreateHostKey(dir)
	rc := &receiver{got: map[string][]byte{}}
	srv := NewSFTP(st, hostKey, SFTPOptions{Receiver: rc, SpoolDir: filepath.Join(dir, "spool"), Logger: slog.New(slog.DiscardHandler)})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte("[127.0.0.1]:"+strconv.Itoa(port)+" "+string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))), 0o600)
	os.WriteFile(filepath.Join(dir, "up.edi"), []byte("ISA*payload"), 0o600)
	os.WriteFile(filepath.Join(dir, "batch"), []byte(strings.Join([]string{
		"-put up.edi inbound/.hidden.edi",
		"put up.edi inbound/.up.edi.part",
		"-rename inbound/.up.edi.part inbound/.up.edi",
		"rename inbound/.up.edi.part inbound/up.edi",
		"ls -a inbound",
	}, "\n")+"\n"), 0o600)
	cmd := exec.Command("sftp", "-b", "batch", "-P", strconv.Itoa(port), "-i", key, "-o", "UserKnownHostsFile="+known,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "acme@127.0.0.1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	srv.Close() // waits for the session's end, where unrenamed uploads are dropped
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	for _, want := range []string{`"/inbound/.hidden.edi": Permission denied`, `rename "/inbound/.up.edi.part" to "/inbound/.up.edi": Permission denied`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 1 || string(rc.got["inbound/up.edi"]) != "ISA*payload" {
		names := []string{}
		for n := range rc.got {
			names = append(names, n)
		}
		t.Fatalf("archived %v, want only inbound/up.edi\n%s", names, out)
	}
}
