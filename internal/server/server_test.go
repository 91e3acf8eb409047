package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
)

func TestHostKeyIsGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(k1.PublicKey()) != ssh.FingerprintSHA256(k2.PublicKey()) {
		t.Fatal("host key changed between loads")
	}
	if _, err := LoadOrCreateHostKey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing folder was accepted")
	}
}

func TestHealthWaitsForReadyAndChecks(t *testing.T) {
	var dbErr error
	h := NewHTTP(prometheus.NewRegistry(), map[string]Checker{"database": func(context.Context) error { return dbErr }})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, _ := get(); code != 503 {
		t.Fatalf("before ready: %d", code)
	}
	h.Ready.Store(true)
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Fatalf("ready: %d %q", code, body)
	}
	dbErr = io.ErrUnexpectedEOF
	if code, body := get(); code != 503 || !strings.Contains(body, "database") {
		t.Fatalf("database down: %d %q", code, body)
	}
}

func TestSFTPAuthenticatesRegisteredKeysOnly(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hostKey, err := LoadOrCreateHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme", SSHKeys: []string{string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "beta"}); err != nil {
		t.Fatal(err)
	}
	srv := NewSFTP(st, hostKey, SFTPOptions{Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	dial := func(user string, key ssh.Signer) (*ssh.Client, error) {
		return ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{
			User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second,
		})
	}
	c, err := dial("acme", signer)
	if err != nil {
		t.Fatalf("registered key refused: %v", err)
	}
	c.Close()
	if _, err := dial("beta", signer); err == nil {
		t.Fatal("acme's key logged in as beta")
	}
	if _, err := dial("acme", otherSigner); err == nil {
		t.Fatal("an unregistered key logged in")
	}
	// Logins, refusals and logouts are audit events with the remote address.
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, _ := st.AuditEvents(ctx, "", 0)
		kinds := map[string]int{}
		for _, e := range evs {
			kinds[e.Actor+" "+e.Kind]++
			if e.Remote == "" {
				t.Fatalf("audit event without remote address: %+v", e)
			}
		}
		if kinds["acme sftp_login"] == 1 && kinds["acme sftp_logout"] == 1 && kinds["beta sftp_login_refused"] >= 1 && kinds["acme sftp_login_refused"] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit events: %v", kinds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSFTPPasswordAllowListAndLockout(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"acme", "fenced"} {
		if err := st.UpsertPartner(ctx, &store.Partner{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	hostKey, _ := LoadOrCreateHostKey(t.TempDir())
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	srv := NewSFTP(st, hostKey, SFTPOptions{
		LockoutAttempts: 3, LockoutWindow: time.Minute,
		Policy: func(p string) PartnerPolicy {
			switch p {
			case "acme":
				return PartnerPolicy{PasswordHash: hash}
			case "fenced":
				return PartnerPolicy{PasswordHash: hash, AllowIPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
			}
			return PartnerPolicy{}
		},
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	login := func(user, pw string) error {
		c, err := ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := login("acme", "s3cret-pass"); err != nil {
		t.Fatalf("right password refused: %v", err)
	}
	if err := login("fenced", "s3cret-pass"); err == nil {
		t.Fatal("a login from outside the allow-list was accepted")
	}
	// fenced's refusal counted once; two wrong passwords reach the threshold of 3...
	for i := 0; i < 2; i++ {
		if err := login("acme", "wrong"); err == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	// ... and now even the right password is refused from this address.
	if err := login("acme", "s3cret-pass"); err == nil {
		t.Fatal("a locked-out address logged in")
	}
}
