package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/store"
)

// The server lists its live sessions with who, from where, since when and
// the uploads archived so far; ending a partner's sessions closes its
// connections and leaves others alone.
func TestSFTPSessionsListedAndEnded(t *testing.T) {
	e := flowtest.Open(t, "SQLite", archive.Options{}, "acme", "beta")
	ctx := context.Background()
	hostKey, err := LoadOrCreateHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	signers := map[string]ssh.Signer{}
	for _, id := range []string{"acme", "beta"} {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signers[id], _ = ssh.NewSignerFromKey(priv)
		if err := e.Store.UpsertPartner(ctx, &store.Partner{ID: id, SSHKeys: []string{string(ssh.MarshalAuthorizedKey(signers[id].PublicKey()))}}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	srv := NewSFTP(e.Store, hostKey, SFTPOptions{Receiver: e.Gateway, SpoolDir: filepath.Join(t.TempDir(), "spool"), Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return at }})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	connect := func(id string) (*ssh.Client, *sftp.Client) {
		t.Helper()
		c, err := ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{User: id, Auth: []ssh.AuthMethod{ssh.PublicKeys(signers[id])},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := sftp.NewClient(c)
		if err != nil {
			t.Fatal(err)
		}
		return c, sc
	}
	acmeSSH, acme := connect("acme")
	defer acmeSSH.Close()
	betaSSH, beta := connect("beta")
	defer betaSSH.Close()
	for _, name := range []string{"inbound/a.txt", "inbound/b.txt"} {
		f, err := acme.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("twelve bytes"))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ss := srv.Sessions()
	if len(ss) != 2 {
		t.Fatalf("sessions: %+v", ss)
	}
	byPartner := map[string]SFTPSession{}
	for _, s := range ss {
		byPartner[s.Partner] = s
	}
	a, fp := byPartner["acme"], ssh.FingerprintSHA256(signers["acme"].PublicKey())
	if a.Uploads != 2 || a.UploadBytes != 24 || !a.Since.Equal(at) || a.Auth != fp || a.Remote != acmeSSH.LocalAddr().String() || a.ID == "" {
		t.Fatalf("acme's live session: %+v (key %s, from %s)", a, fp, acmeSSH.LocalAddr())
	}
	if b := byPartner["beta"]; b.Uploads != 0 || b.ID == a.ID {
		t.Fatalf("beta's live session: %+v", b)
	}
	if n := srv.EndSessions("acme"); n != 1 {
		t.Fatalf("ended %d of acme's sessions, want 1", n)
	}
	if _, err := acme.ReadDir("inbound"); err == nil {
		t.Fatal("acme's ended session still answers")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ss = srv.Sessions(); len(ss) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ending acme's session the list is %+v", ss)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ss[0].Partner != "beta" {
		t.Fatalf("the session left is %+v", ss[0])
	}
	if _, err := beta.ReadDir("inbound"); err != nil {
		t.Fatalf("beta's session was ended too: %v", err)
	}
}
