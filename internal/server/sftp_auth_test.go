package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// flakyKeys fails the partner key lookup while down, as a database that is
// stopped or restarting does, and answers from the real store once back.
type flakyKeys struct {
	store.Store
	mu     sync.Mutex
	down   bool
	failed int
}

func (f *flakyKeys) PartnerBySSHKey(ctx context.Context, fp string) (*store.Partner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failed++
		return nil, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return f.Store.PartnerBySSHKey(ctx, fp)
}

func (f *flakyKeys) set(down bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	return f.failed
}

// A failing key lookup is the server's problem, not a wrong key: the
// partner is told to try later and is let in as soon as the database is
// back, however many attempts the outage saw.
func TestSFTPKeyLookupErrorsDoNotLockOut(t *testing.T) {
	st, hostKey, signer := acmeStore(t)
	const attempts = 3
	flaky := &flakyKeys{Store: st, down: true}
	var logs testenv.Buffer
	srv := NewSFTP(flaky, hostKey, SFTPOptions{LockoutAttempts: attempts, LockoutWindow: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	var banners []string
	dial := func() error {
		c, err := ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{
			User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second,
			BannerCallback: func(m string) error { banners = append(banners, m); return nil },
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	for i := 0; i < 3*attempts; i++ {
		if err := dial(); err == nil {
			t.Fatalf("attempt %d: logged in while the key lookup fails", i+1)
		}
	}
	failed := flaky.set(false) // the database is back
	if recorded := srv.defender.Failures("127.0.0.1"); recorded != 0 {
		t.Errorf("lookup errors recorded as %d failed logins", recorded)
	}
	// The partner logs in right away.
	if err := dial(); err != nil {
		t.Fatalf("partner locked out after the database came back (%d lookups failed during the outage): %v", failed, err)
	}
	if failed != 3*attempts {
		t.Errorf("%d lookups during the outage, want every attempt to reach the store (%d)", failed, 3*attempts)
	}
	if len(banners) == 0 || !strings.Contains(banners[0], "try again") {
		t.Errorf("refused clients were not told to try later: %q", banners)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "user=acme") || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the lookup failure is not logged as a server-side error naming the user and the error:\n%s", logs.String())
	}
	// A genuinely unknown key still counts.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	signer = otherSigner
	if err := dial(); err == nil {
		t.Fatal("an unregistered key logged in")
	}
	if recorded := srv.defender.Failures("127.0.0.1"); recorded != 1 {
		t.Fatalf("an unknown key recorded %d failures, want 1", recorded)
	}
}

// One address that opens connections and never authenticates holds each
// for the handshake limit: past MaxSessionsPerIP its connections are
// refused, and a partner from another address still logs in.
func TestSFTPSessionsPerAddress(t *testing.T) {
	st, hostKey, signer := acmeStore(t)
	srv := NewSFTP(st, hostKey, SFTPOptions{MaxSessions: 8, MaxSessionsPerIP: 3, Logger: slog.New(slog.DiscardHandler)})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	from := func(ip string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return d.Dial("tcp", ln.Addr().String())
	}
	login := func(ip string) error {
		nc, err := from(ip)
		if err != nil {
			return err
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		c, chans, reqs, err := ssh.NewClientConn(nc, ln.Addr().String(), &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey())})
		if err != nil {
			return err
		}
		ssh.NewClient(c, chans, reqs).Close()
		return nil
	}
	for i := 0; i < 6; i++ { // silent connections: the flood
		c, err := from("127.0.0.3")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(200 * time.Millisecond) // let the server accept them all
	if err := login("127.0.0.3"); err == nil {
		t.Error("the flooding address logged in past its cap")
	}
	if err := login("127.0.0.1"); err != nil {
		t.Fatalf("a partner from another address is refused while one address floods: %v", err)
	}
}

// acmeStore is a store with one partner, acme, whose SSH key is signer,
// and a host key for the server.
func acmeStore(t *testing.T) (store.Store, ssh.Signer, ssh.Signer) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hostKey, err := LoadOrCreateHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	if err := st.UpsertPartner(context.Background(), &store.Partner{ID: "acme", SSHKeys: []string{string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}}); err != nil {
		t.Fatal(err)
	}
	return st, hostKey, signer
}

// A disabled partner cannot log in, by key or by password, and its right
// credentials do not count toward its address's lockout; enabled again,
// it logs in.
func TestSFTPDisabledPartnerCannotLogIn(t *testing.T) {
	st, hostKey, signer := acmeStore(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("acme password 1"), bcrypt.MinCost)
	var logs testenv.Buffer
	srv := NewSFTP(st, hostKey, SFTPOptions{LockoutAttempts: 2, LockoutWindow: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Policy: func(string) PartnerPolicy { return PartnerPolicy{PasswordHash: hash} }})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	dial := func(auth ssh.AuthMethod) error {
		c, err := ssh.Dial("tcp", ln.Addr().String(), &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{auth},
			HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()), Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	byKey, byPassword := ssh.PublicKeys(signer), ssh.Password("acme password 1")
	for _, a := range []ssh.AuthMethod{byKey, byPassword} {
		if err := dial(a); err != nil {
			t.Fatalf("enabled partner: %v", err)
		}
	}
	if err := st.SetPartnerDisabled(context.Background(), "acme", true); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for _, a := range []ssh.AuthMethod{byKey, byPassword} {
			if err := dial(a); err == nil {
				t.Fatal("a disabled partner logged in")
			}
		}
	}
	if n := srv.defender.Failures("127.0.0.1"); n != 0 {
		t.Errorf("a disabled partner's refusals counted as %d failed logins", n)
	}
	if !strings.Contains(logs.String(), "the partner is disabled") {
		t.Errorf("the refusal is not logged:\n%s", logs.String())
	}
	evs, _ := st.AuditEvents(context.Background(), "acme", 50)
	refused := 0
	for _, e := range evs {
		if e.Kind == "sftp_login_refused" && strings.Contains(e.Detail, "partner disabled") {
			refused++
		}
	}
	if refused != 6 {
		t.Errorf("%d audited refusals of the disabled partner, want 6", refused)
	}
	if err := st.SetPartnerDisabled(context.Background(), "acme", false); err != nil {
		t.Fatal(err)
	}
	for _, a := range []ssh.AuthMethod{byKey, byPassword} {
		if err := dial(a); err != nil {
			t.Fatalf("enabled again: %v", err)
		}
	}
}
