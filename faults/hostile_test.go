package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Scenario 6, hostile input at every door, while the partners' steady load
// runs: each attack gets a clear refusal (or is archived and rejected with
// its reason where it was accepted), the server stays up, the load's
// audit passes, and no secret appears in anything the server printed.
// Attacks come from other loopback addresses (127.0.0.2-9) so that the
// per-address limits they trip do not touch the partners at 127.0.0.1.
//
// AS2's hostile inputs (decompression bombs, nested MIME, bad signatures,
// replayed Message-IDs) are TestHostileAS2's; this scenario covers the
// doors the load uses.
func TestHostileInput(t *testing.T) {
	metricsToken := "metrics-" + randHex(12)
	s := newSite(t, siteOptions{
		ExtraYAML: "sftp:\n  max_file_size_mb: 1\n  max_sessions_per_ip: 8\n",
		Env:       []string{"WHARF_METRICS_TOKEN=" + metricsToken},
	})
	s.start()
	adminOut, err := s.cli("token", "create", "--role", "admin", "--name", "faults")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, adminOut)
	}
	adminToken := regexp.MustCompile(`wharf_\S+`).FindString(adminOut) // stdout's token among stderr's notes
	l := startLoad(s, scale(300, 2000), 50)

	t.Run("sftp jail", func(t *testing.T) {
		c := sftpFrom(t, s, "127.0.0.2", s.acme)
		for _, p := range []string{"../escape.edi", "/escape.edi", "/etc/escape.edi", "inbound/../../escape.edi", "outbound/escape.edi", "escape.edi"} {
			if f, err := c.Create(p); err == nil {
				f.Write([]byte("x"))
				if err := f.Close(); err == nil {
					t.Errorf("upload to %q accepted", p)
				}
			}
		}
		if err := c.Symlink("/etc/passwd", "inbound/passwd.edi"); err == nil {
			t.Error("symlink created")
		}
		if err := c.Mkdir("inbound/sub"); err == nil {
			t.Error("mkdir allowed")
		}
		f, err := c.Create("inbound/move.edi.part")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(doc("ACME", 999001))
		f.Close()
		for _, to := range []string{"../move.edi", "/move.edi", "outbound/move.edi"} {
			if err := c.Rename("inbound/move.edi.part", to); err == nil {
				t.Errorf("rename to %q allowed", to)
			}
		}
		if _, err := os.Stat("/etc/escape.edi"); err == nil {
			t.Error("/etc/escape.edi exists")
		}
		filepath.WalkDir(s.dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && (strings.Contains(d.Name(), "escape") || d.Name() == "passwd.edi") {
				t.Errorf("the jail leaked: %s exists", p)
			}
			return nil
		})
	})

	t.Run("sftp oversized", func(t *testing.T) {
		c := sftpFrom(t, s, "127.0.0.2", s.acme)
		f, err := c.Create("inbound/huge.edi")
		if err != nil {
			t.Fatal(err)
		}
		_, werr := f.Write(bytes.Repeat([]byte("A"), 2<<20))
		cerr := f.Close()
		if werr == nil && cerr == nil {
			t.Fatal("a 2 MiB upload over the 1 MiB limit was acknowledged")
		}
	})

	t.Run("sftp tiny files", func(t *testing.T) {
		c := sftpFrom(t, s, "127.0.0.2", s.acme)
		n := scale(200, 2000)
		for i := 0; i < n; i++ {
			f, err := c.Create(fmt.Sprintf("inbound/tiny%05d.txt", i))
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{byte('a' + i%26)})
			if err := f.Close(); err != nil {
				t.Fatalf("tiny file %d: %v", i, err)
			}
		}
	})

	t.Run("sftp connection flood", func(t *testing.T) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 40; i++ { // silent: never a handshake
			c, err := dialFrom("127.0.0.3", s.sftpAddr)
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		time.Sleep(200 * time.Millisecond)
		// A partner from its own address still gets in.
		c := sftpFrom(t, s, "127.0.0.1", s.acme)
		if _, err := c.ReadDir("outbound"); err != nil {
			t.Fatalf("partner during a flood from another address: %v", err)
		}
	})

	t.Run("sftp wrong keys", func(t *testing.T) {
		other := sshKey(t, filepath.Join(t.TempDir(), "intruder"))
		for i := 0; i < 8; i++ {
			if _, err := sftpDial(s, "127.0.0.4", "acme", other); err == nil {
				t.Fatal("an unregistered key logged in")
			}
		}
		if _, err := sftpDial(s, "127.0.0.4", "acme", s.acme); err == nil {
			t.Error("the right key from a locked-out address got in")
		}
		if _, err := sftpDial(s, "127.0.0.1", "acme", s.acme); err != nil {
			t.Errorf("the partner from its own address is locked out too: %v", err)
		}
	})

	t.Run("api token guessing", func(t *testing.T) {
		client := httpFrom("127.0.0.5")
		codes := map[int]int{}
		for i := 0; i < 30; i++ {
			codes[apiGet(t, client, s, "wharf_guess_"+randHex(8))]++
		}
		if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 20 {
			t.Errorf("30 guesses answered %v, want 10 401s then 429s", codes)
		}
		if code := apiGet(t, client, s, adminToken); code != http.StatusTooManyRequests {
			t.Errorf("a right token from the locked address: %d, want 429", code)
		}
		if code := apiGet(t, httpFrom("127.0.0.6"), s, adminToken); code != http.StatusOK {
			t.Errorf("a right token from another address: %d, want 200", code)
		}
		req, _ := http.NewRequest("GET", "http://"+s.httpAddr+"/api/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := httpFrom("127.0.0.6").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "auth_locked_out") || !strings.Contains(string(b), "api_token_refused") {
			t.Errorf("the refusals and the lockout are not in the audit log: %.500s", b)
		}
	})

	t.Run("http over the limit", func(t *testing.T) {
		req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/api/v1/inbound/tms?filename=big.edi", io.LimitReader(zeros{}, 101<<20))
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := httpFrom("127.0.0.7").Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("101 MiB post: %s, want 413", resp.Status)
			}
		} // a reset mid-body is a refusal too
	})

	t.Run("slow loris", func(t *testing.T) {
		c, err := dialFrom("127.0.0.8", s.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("POST /api/v1/inbound/tms HTTP/1.1\r\nHost: x\r\n"))
		began := time.Now()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			if _, err := c.Write([]byte("X-Slow: 1\r\n")); err != nil {
				break
			}
			buf := make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil && !isTimeout(err) {
				break // closed (or answered 408 and closed)
			}
			if time.Since(began) > 25*time.Second {
				t.Fatal("a request whose headers never end is still open after 25 s")
			}
		}
	})

	t.Run("x12 junk", func(t *testing.T) {
		client := &http.Client{Timeout: 2 * time.Minute}
		bigSeg := append([]byte("ISA*00*"), bytes.Repeat([]byte("B"), scale(8<<20, 99<<20))...)
		junk := make([]byte, 64<<10)
		for i := range junk {
			junk[i] = byte(i * 7919 % 251)
		}
		empties := append(doc("TMS", 999002)[:0:0], bytes.Repeat([]byte("~"), scale(1_000_000, 5_000_000))...)
		for name, body := range map[string][]byte{"bigsegment.edi": bigSeg, "junk.edi": junk, "empties.edi": empties} {
			req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/api/v1/inbound/tms?filename=hostile-"+name, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+s.token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("%s: %s, want 201 (archived, then rejected with its reason)", name, resp.Status)
			}
		}
	})

	l.wait(5 * time.Minute)
	if !s.running() {
		t.Fatal("wharf serve exited under hostile input")
	}
	r := s.audit(l, s.dsn(), 2*time.Minute)

	// Every hostile file that was archived ended rejected or unrecognized
	// with its reason in its history, none stuck.
	st, err := store.Open(context.Background(), s.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hostile, err := st.SearchMessages(context.Background(), store.MessageFilter{PartnerID: "tms", Direction: store.Inbound, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hostile {
		if !strings.HasPrefix(filepath.Base(m.RemoteName), "hostile-") {
			continue
		}
		if m.Status != lifecycle.StatusRejected && m.Status != lifecycle.StatusUnrecognized {
			r.Problems = append(r.Problems, fmt.Sprintf("hostile %s: status %s", m.RemoteName, m.Status))
		}
		evs, _ := st.Events(context.Background(), m.ID)
		why := ""
		for _, e := range evs {
			if e.Kind == lifecycle.EventValidated || e.Kind == lifecycle.EventParsed {
				why = e.Detail
			}
		}
		if why == "" {
			r.Problems = append(r.Problems, fmt.Sprintf("hostile %s: no reason in its history", m.RemoteName))
		}
	}

	// Secrets: nothing the server printed or served names one.
	metrics := fetch(t, "http://"+s.httpAddr+"/metrics", metricsToken)
	acmeKey, _ := os.ReadFile(filepath.Join(s.dir, "acme_key"))
	hostKey, _ := os.ReadFile(filepath.Join(s.data, "ssh_host_ed25519_key"))
	secrets := map[string]string{"the partner's HTTP token": s.token, "the admin API token": adminToken, "the metrics token": metricsToken}
	for what, pem := range map[string][]byte{"the partner's SSH private key": acmeKey, "the SSH host key": hostKey} {
		if b64 := pemBody(pem); b64 != "" {
			secrets[what] = b64
		}
	}
	for what, secret := range secrets {
		for where, text := range map[string]string{"the server's output": s.logs.String(), "/metrics": metrics} {
			if strings.Contains(text, secret) {
				r.Problems = append(r.Problems, fmt.Sprintf("%s appears in %s", what, where))
			}
		}
	}
	r.set("server output scanned for secrets (bytes)", len(s.logs.String()))
	r.check(t)
	s.stop()
}

// sftpDial logs in over SSH from a given loopback address.
func sftpDial(s *site, from, user string, key ssh.Signer) (*ssh.Client, error) {
	nc, err := dialFrom(from, s.sftpAddr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(nc, s.sftpAddr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func sftpFrom(t *testing.T, s *site, from string, key ssh.Signer) *sftp.Client {
	t.Helper()
	conn, err := sftpDial(s, from, "acme", key)
	if err != nil {
		t.Fatalf("sftp login from %s: %v", from, err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

var httpClients sync.Map

// httpFrom is an HTTP client whose connections leave from a given loopback address.
func httpFrom(from string) *http.Client {
	if c, ok := httpClients.Load(from); ok {
		return c.(*http.Client)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	httpClients.Store(from, c)
	return c
}

func apiGet(t *testing.T, c *http.Client, s *site, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.httpAddr+"/api/v1/messages?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fetch(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

var pemLine = regexp.MustCompile(`(?m)^[A-Za-z0-9+/=]{40,}$`)

// pemBody is the first full line of a PEM block's base64: enough to
// recognise the key in any output.
func pemBody(b []byte) string { return pemLine.FindString(string(b)) }

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
