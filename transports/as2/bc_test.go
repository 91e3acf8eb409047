package as2_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

// bcPeer runs testdata/bcpeer/Peer.java (BouncyCastle) and returns its base URL.
func bcPeer(t *testing.T, peer, wharf *party) string {
	t.Helper()
	java, cp := testenv.BouncyCastle(t)
	src, _ := filepath.Abs(filepath.Join("testdata", "bcpeer", "Peer.java"))
	return startPeer(t, "BouncyCastle", peer, wharf, nil, java, "-cp", cp, src)
}

// startPeer runs a peer program with a folder holding peer.key, peer.crt
// and wharf.crt as its last argument, waits for its "LISTEN <port>" line,
// and stops it (closing its stdin) when the test ends.
func startPeer(t testing.TB, what string, peer, wharf *party, env []string, name string, args ...string) string {
	t.Helper()
	d := t.TempDir()
	for file, src := range map[string]string{"peer.key": peer.keyFile, "peer.crt": peer.certFile, "wharf.crt": wharf.certFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, file), b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, append(args, d)...)
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("%s peer stderr:\n%s", what, stderr.String())
		}
	})
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	for err == nil && !strings.HasPrefix(line, "LISTEN ") { // node prints warnings first
		line, err = br.ReadString('\n')
	}
	go io.Copy(io.Discard, br)
	if err != nil {
		t.Fatalf("%s peer did not start (%v): %q\n%s", what, err, line, stderr.String())
	}
	return "http://127.0.0.1:" + strings.TrimSpace(strings.TrimPrefix(line, "LISTEN "))
}

func TestBouncyCastle(t *testing.T) {
	d := t.TempDir()
	wharf, bc := newParty(t, d, "wharf", time.Time{}), newParty(t, d, "BCPEER", time.Time{})
	base := bcPeer(t, bc, wharf)
	payload := []byte(strings.Repeat(x12Payload, 30)) // bare LF line ends: BC signs and verifies bytes as they are
	sum := sha256.Sum256(payload)
	// Past the 1 MiB a layer keeps in memory: spooled to files both ways.
	large := []byte(strings.Repeat(x12Payload, 3<<20/len(x12Payload)))
	largeSum := sha256.Sum256(large)

	t.Run("Wharf sends to BC", func(t *testing.T) {
		books := newBooks()
		client := &as2.Client{Identity: wharf.id, Books: books}
		p0 := as2.Partner{ID: "bc", AS2ID: "BCPEER", Certs: []*x509.Certificate{bc.id.Cert}, URL: base + "/as2",
			Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true}
		for i, c := range []struct {
			name  string
			set   func(p *as2.Partner)
			found string
		}{
			{"signed+aes256cbc", func(p *as2.Partner) {}, "decrypted 2.16.840.1.101.3.4.1.42, signature verified"},
			{"signed+aes128cbc+oaep", func(p *as2.Partner) { p.Cipher, p.KeyWrap = as2.AES128CBC, as2.RSAOAEPSHA256 }, "decrypted 2.16.840.1.101.3.4.1.2, signature verified"},
			{"signed+aes128gcm", func(p *as2.Partner) { p.Cipher = as2.AES128GCM }, "decrypted gcm, signature verified"},
			{"signed+aes256gcm+compressed", func(p *as2.Partner) { p.Cipher, p.Compress = as2.AES256GCM, true }, "decrypted gcm, signature verified, decompressed"},
			{"signed+compressed", func(p *as2.Partner) { p.Cipher, p.Compress = "", true }, "signature verified, decompressed"},
			{"encrypted only (gcm)", func(p *as2.Partner) { p.Sign, p.Cipher = false, as2.AES256GCM }, "decrypted gcm"},
			{"large: signed+aes256cbc", func(p *as2.Partner) {}, "decrypted 2.16.840.1.101.3.4.1.42, signature verified"},
			{"large: signed+aes256gcm+compressed", func(p *as2.Partner) { p.Cipher, p.Compress = as2.AES256GCM, true }, "decrypted gcm, signature verified, decompressed"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := p0
				c.set(&p)
				id := fmt.Sprintf("bc%d", i)
				body, want := payload, sum
				if strings.HasPrefix(c.name, "large") {
					body, want = large, largeSum
				}
				// The payload streams from its source, as from the archive.
				sent, err := client.Send(t.Context(), &p, as2.Outgoing{MessageID: id, Name: "inv.edi", ContentType: "application/edi-x12",
					Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }})
				if err != nil {
					t.Fatal(err)
				}
				if sent.Status != lifecycle.StatusDelivered {
					t.Fatalf("status %q: %s", sent.Status, sent.Detail)
				}
				if sent.MDN == nil || !sent.MDN.Signed {
					t.Fatalf("BC's MDN not verified as signed")
				}
				if got := sent.MDN.Header.Get("X-Peer-Found"); got != c.found {
					t.Fatalf("BC found %q, want %q", got, c.found)
				}
				if got := sent.MDN.Header.Get("X-Peer-Payload-Sha256"); got != hex.EncodeToString(want[:]) {
					t.Fatalf("BC opened another payload (sha256 %s)", got)
				}
			})
		}
	})

	t.Run("BC sends to Wharf", func(t *testing.T) {
		books, recv := newBooks(), newReceiver()
		partner := &as2.Partner{ID: "bc", AS2ID: "BCPEER", Certs: []*x509.Certificate{bc.id.Cert}}
		spool := t.TempDir()
		srv := httptest.NewServer(&as2.Server{Identity: wharf.id, Partners: dir{"BCPEER": partner}, Receiver: recv, Books: books, SpoolDir: spool})
		defer srv.Close()
		for i, c := range []struct {
			name, cipher string
			sign, zip    bool
			ber          string // layers BC wrote in BER with indefinite lengths
		}{
			{"signed+aes128gcm", "aes128-gcm", true, false, "authEnveloped"},
			{"signed+aes256gcm+compressed", "aes256-gcm", true, true, "compressed+authEnveloped"},
			{"signed+aes256cbc", "aes256-cbc", true, false, "enveloped"},
			{"signed+aes128cbc+compressed", "aes128-cbc", true, true, "compressed+enveloped"},
			{"signed+compressed, not encrypted", "none", true, true, "compressed"},
			{"gcm, not signed", "aes128-gcm", false, false, "authEnveloped"},
			{"large: signed+aes256cbc", "aes256-cbc", true, false, "enveloped"},
			{"large: signed+aes256gcm+compressed", "aes256-gcm", true, true, "compressed+authEnveloped"},
		} {
			t.Run(c.name, func(t *testing.T) {
				msgID := fmt.Sprintf("<bc-%d@bcpeer>", i)
				q := url.Values{"url": {srv.URL + "/as2"}, "cipher": {c.cipher}, "id": {msgID}}
				if c.sign {
					q.Set("sign", "1")
				}
				if c.zip {
					q.Set("compress", "1")
				}
				body := payload
				if strings.HasPrefix(c.name, "large") {
					body = large
				}
				res, err := http.Post(base+"/send?"+q.Encode(), "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("BC peer: %s: %s", res.Status, out)
				}
				want := "disposition=automatic-action/MDN-sent-automatically; processed; mic=match; signed=true; ber="
				if string(out) != want+c.ber {
					t.Fatalf("BC read Wharf's MDN as %q, want %q", out, want+c.ber)
				}
				rec, _ := books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "bc", AS2MessageID: msgID, Direction: as2.Inbound})
				if rec == nil || !bytes.Equal(payloadOf(recv, rec.MessageID), body) {
					t.Fatalf("Wharf did not archive the payload intact: %+v", rec)
				}
				if left, _ := os.ReadDir(spool); len(left) != 0 {
					t.Fatalf("%d spool files left behind", len(left))
				}
				evs := books.History(rec.MessageID)
				if c.zip && !strings.Contains(evs, "decompressed") {
					t.Errorf("history does not say decompressed: %s", evs)
				}
				if strings.Contains(c.cipher, "gcm") && !strings.Contains(evs, "gcm") {
					t.Errorf("history does not name GCM: %s", evs)
				}
			})
		}
	})
}
