package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHD is a private OpenSSH server for one test.
type SSHD struct {
	Addr    string // 127.0.0.1:PORT
	Host    string
	Port    int
	User    string
	HostKey string // the server's public host key, authorized_keys format
	UserKey []byte // private key (OpenSSH format) that may log in as User
	Dir     string // a folder the user can read and write, for the test's files
}

const sshdHint = "apt-get install openssh-server (the test starts its own sshd on a free loopback port)"

// StartSSHD starts OpenSSH's sshd on a free loopback port with its own host
// key, accepting one generated key for the current user. It stops when the
// test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		Missing(t, "OpenSSH sshd", sshdHint, err)
		return nil
	}
	dir := t.TempDir()
	// sshd refuses to use key files others can read; t.TempDir is private.
	hostPriv := filepath.Join(dir, "host_ed25519")
	hostPub := writeKey(t, hostPriv)
	userPriv := filepath.Join(dir, "user_ed25519")
	userPub := writeKey(t, userPriv)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, hostPriv, filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(bin, "-D", "-e", "-f", cfgPath)
	logf, _ := os.Create(filepath.Join(dir, "sshd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		Missing(t, "OpenSSH sshd", sshdHint, err)
		return nil
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not start on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	u, _ := user.Current()
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(userPriv)
	return &SSHD{Addr: addr, Host: "127.0.0.1", Port: port, User: u.Username, HostKey: strings.TrimSpace(hostPub), UserKey: key, Dir: files}
}

// writeKey writes a new ed25519 private key (OpenSSH format) and returns
// its public key line.
func writeKey(t testing.TB, path string) string {
	t.Helper()
	return string(ssh.MarshalAuthorizedKey(SSHKey(t, path).PublicKey()))
}

// SSHKey writes a new ed25519 private key to path (OpenSSH format, as
// ssh-keygen writes it) and its public key line to path.pub, and returns
// the key as a signer.
func SSHKey(t testing.TB, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}
