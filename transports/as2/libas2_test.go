package as2_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

// libas2Peer runs testdata/libas2peer/peer.js (npm libas2 0.8.2).
func libas2Peer(t testing.TB, peer, wharf *party) string {
	t.Helper()
	node, dir := testenv.Libas2(t)
	src, _ := filepath.Abs(filepath.Join("testdata", "libas2peer", "peer.js"))
	return startPeer(t, "libas2", peer, wharf, []string{"NODE_PATH=" + filepath.Join(dir, "node_modules")},
		node, "--security-revert=CVE-2023-46809", src)
}

func TestLibas2(t *testing.T) {
	d := t.TempDir()
	wharf, la := newParty(t, d, "wharf", time.Time{}), newParty(t, d, "LIBAS2", time.Time{})
	base := libas2Peer(t, la, wharf)
	payload := []byte(strings.ReplaceAll(strings.Repeat(x12Payload, 20), "~\n", "~\r\n"))
	sum := sha256.Sum256(payload)
	// Past the 1 MiB a layer keeps in memory: spooled to files both ways.
	large := []byte(strings.ReplaceAll(strings.Repeat(x12Payload, 3<<20/len(x12Payload)), "~\n", "~\r\n"))

	t.Run("Wharf sends to libas2", func(t *testing.T) {
		books := newBooks()
		client := &as2.Client{Identity: wharf.id, Books: books}
		p0 := as2.Partner{ID: "la", AS2ID: "LIBAS2", Certs: []*x509.Certificate{la.id.Cert}, URL: base + "/as2",
			Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true,
			Base64: true} // libas2 reads bodies as UTF-8 text: binary DER does not survive
		for i, c := range []struct {
			name  string
			set   func(p *as2.Partner)
			found string
		}{
			{"signed+aes256cbc", func(p *as2.Partner) {}, "decrypted, signature verified"},
			{"signed+aes128cbc", func(p *as2.Partner) { p.Cipher = as2.AES128CBC }, "decrypted, signature verified"},
			{"signed only", func(p *as2.Partner) { p.Cipher = "" }, "signature verified"},
			// No large case: libas2 cannot open a 3 MiB message (its asn1js calls
			// String.fromCharCode.apply on the whole content: "Maximum call stack
			// size exceeded"). It sends one to Wharf below.
		} {
			t.Run(c.name, func(t *testing.T) {
				p := p0
				c.set(&p)
				id := fmt.Sprintf("la%d", i)
				sent, err := client.Send(t.Context(), &p, as2.Outgoing{MessageID: id, Name: "inv.edi", ContentType: "application/edi-x12", Payload: payload})
				if err != nil {
					t.Fatal(err)
				}
				if sent.MDN == nil {
					t.Fatalf("no MDN: %s", sent.Detail)
				}
				if got := sent.MDN.Header.Get("X-Peer-Found"); got != c.found {
					t.Fatalf("libas2 found %q, want %q (disposition %s)", got, c.found, sent.MDN.Header.Get("X-Peer-Disposition"))
				}
				if got := sent.MDN.Header.Get("X-Peer-Payload-Sha256"); got != hex.EncodeToString(sum[:]) {
					t.Fatalf("libas2 opened another payload (sha256 %s)", got)
				}
				if sent.Status != lifecycle.StatusDelivered || !sent.MDN.Signed {
					t.Fatalf("status %q: %s", sent.Status, sent.Detail)
				}
				if sent.MDN.Relaxed != "" {
					t.Logf("libas2's MDN verified with a tolerated deviation: %s", sent.MDN.Relaxed)
				}
			})
		}
	})

	t.Run("libas2 sends to Wharf", func(t *testing.T) {
		books, recv := newBooks(), newReceiver()
		partner := &as2.Partner{ID: "la", AS2ID: "LIBAS2", Certs: []*x509.Certificate{la.id.Cert}}
		spool := t.TempDir()
		srv := httptest.NewServer(&as2.Server{Identity: wharf.id, Partners: dir{"LIBAS2": partner}, Receiver: recv, Books: books, SpoolDir: spool})
		defer srv.Close()
		for i, c := range []struct {
			name, cipher string
			sign         bool
		}{
			{"signed+aes256cbc", "aes256-CBC", true},
			{"signed+aes128cbc", "aes128-CBC", true},
			{"encrypted only", "aes256-CBC", false},
			{"large: signed+aes256cbc", "aes256-CBC", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				msgID := fmt.Sprintf("<la-%d@libas2>", i)
				q := url.Values{"url": {srv.URL + "/as2"}, "cipher": {c.cipher}, "id": {msgID}}
				if c.sign {
					q.Set("sign", "1")
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
					t.Fatalf("libas2 peer: %s: %s", res.Status, out)
				}
				if !strings.HasPrefix(string(out), "processed=true; mic=") || !strings.HasSuffix(string(out), "; signed=true") {
					t.Fatalf("libas2 read Wharf's MDN as %q", out)
				}
				rec, _ := books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "la", AS2MessageID: msgID, Direction: as2.Inbound})
				if rec == nil || !bytes.Equal(payloadOf(recv, rec.MessageID), body) {
					var got []byte
					if rec != nil {
						got = payloadOf(recv, rec.MessageID)
					}
					t.Fatalf("Wharf did not archive the payload intact: %+v\n%.300q", rec, got)
				}
				if left, _ := os.ReadDir(spool); len(left) != 0 {
					t.Fatalf("%d spool files left behind", len(left))
				}
				if mic := strings.TrimSuffix(strings.SplitN(string(out), "mic=", 2)[1], "; signed=true"); !as2.SameMIC(mic, rec.MIC) {
					t.Errorf("libas2 read MIC %q, Wharf computed %q", mic, rec.MIC)
				}
			})
		}
	})
}
