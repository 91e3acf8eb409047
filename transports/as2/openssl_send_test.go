package as2_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

// opensslPeer is an AS2 receiver made of the OpenSSL CLI: a tiny HTTP
// handler that shells out to `openssl cms -decrypt` and `-verify` to open
// what Wharf sent, and answers with an MDN signed by `openssl cms -sign`.
// Only the splitting of headers from bodies is Go.
type opensslPeer struct {
	t     *testing.T
	ssl   string
	me    *party // the peer (ACME)
	wharf *party // whose signature it verifies
	// mdn tweaks the answer: "" processed with the computed MIC,
	// "bad-mic" a wrong MIC, "error" processed/error: decryption-failed.
	mdn string

	mu   sync.Mutex
	got  map[string][]byte // Message-ID -> payload as opened by OpenSSL
	seen map[string]string // Message-ID -> what it found (encrypted, signed)
}

func (o *opensslPeer) cms(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(o.ssl, append([]string{"cms"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("openssl cms %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (o *opensslPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	msgID := r.Header.Get("Message-Id")
	d, err := os.MkdirTemp(o.t.TempDir(), "peer")
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	fail := func(err error) {
		o.t.Errorf("OpenSSL peer, message %s: %v", msgID, err)
		http.Error(w, err.Error(), 500)
	}
	var found []string
	entity := append([]byte("Content-Type: "+r.Header.Get("Content-Type")+"\r\n\r\n"), body...)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/pkcs7-mime") {
		if strings.EqualFold(r.Header.Get("Content-Transfer-Encoding"), "base64") {
			dec := exec.Command(o.ssl, "base64", "-d")
			dec.Stdin = bytes.NewReader(body)
			if body, err = dec.Output(); err != nil {
				fail(err)
				return
			}
			found = append(found, "base64 body")
		}
		os.WriteFile(filepath.Join(d, "body.der"), body, 0o600)
		if _, err := o.cms(d, "-decrypt", "-inform", "DER", "-in", "body.der", "-recip", o.me.certFile, "-inkey", o.me.keyFile, "-out", "dec.mime"); err != nil {
			fail(err)
			return
		}
		entity, _ = os.ReadFile(filepath.Join(d, "dec.mime"))
		found = append(found, "decrypted")
	}
	signed := entity
	if e, err := as2.ParseEntity(entity); err == nil && strings.HasPrefix(e.Header.Get("Content-Type"), "multipart/signed") {
		os.WriteFile(filepath.Join(d, "signed.mime"), entity, 0o600)
		// -nointern: only Wharf's certificate may have signed it.
		if _, err := o.cms(d, "-verify", "-in", "signed.mime", "-nointern", "-certfile", o.wharf.certFile, "-noverify", "-out", "content.mime"); err != nil {
			fail(err)
			return
		}
		signed, _ = os.ReadFile(filepath.Join(d, "content.mime"))
		found = append(found, "signature verified")
	}
	inner, err := as2.ParseEntity(signed)
	if err != nil {
		fail(err)
		return
	}
	got := inner.Body
	if strings.EqualFold(inner.Header.Get("Content-Transfer-Encoding"), "base64") {
		b64 := exec.Command(o.ssl, "base64", "-d")
		b64.Stdin = bytes.NewReader(inner.Body)
		if got, err = b64.Output(); err != nil {
			fail(err)
			return
		}
		found = append(found[:len(found):len(found)], "base64 decoded")
	}
	o.mu.Lock()
	o.got[msgID], o.seen[msgID] = got, strings.Join(found, ", ")
	o.mu.Unlock()

	os.WriteFile(filepath.Join(d, "mic.in"), signed, 0o600)
	dg := exec.Command(o.ssl, "dgst", "-sha256", "-binary", "mic.in")
	dg.Dir = d
	sum, err := dg.Output()
	if err != nil {
		fail(err)
		return
	}
	mic := b64(sum) + ", sha-256"
	disp := "automatic-action/MDN-sent-automatically; processed"
	switch o.mdn {
	case "bad-mic":
		mic = b64(make([]byte, 32)) + ", sha-256"
	case "error":
		disp = "automatic-action/MDN-sent-automatically; processed/error: decryption-failed"
	}
	report := "Content-Type: multipart/report; report-type=disposition-notification; boundary=\"rep\"\r\n\r\n" +
		"--rep\r\nContent-Type: text/plain\r\n\r\nReceived by the OpenSSL peer.\r\n" +
		"--rep\r\nContent-Type: message/disposition-notification\r\n\r\n" +
		"Reporting-UA: openssl-peer\r\nOriginal-Recipient: rfc822; ACME\r\nFinal-Recipient: rfc822; ACME\r\n" +
		"Original-Message-ID: " + msgID + "\r\nReceived-Content-MIC: " + mic + "\r\nDisposition: " + disp + "\r\n\r\n--rep--\r\n"
	os.WriteFile(filepath.Join(d, "report.mime"), []byte(report), 0o600)
	if _, err := o.cms(d, "-sign", "-in", "report.mime", "-signer", o.me.certFile, "-inkey", o.me.keyFile, "-md", "sha256", "-binary", "-crlfeol", "-out", "mdn.smime"); err != nil {
		fail(err)
		return
	}
	smime, _ := os.ReadFile(filepath.Join(d, "mdn.smime"))
	e, err := as2.ParseEntity(smime)
	if err != nil {
		fail(err)
		return
	}
	for k, vs := range e.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("AS2-From", "ACME")
	w.Header().Set("AS2-To", r.Header.Get("AS2-From"))
	w.Header().Set("Message-ID", "<mdn-"+strings.Trim(msgID, "<>")+">")
	w.Write(e.Body)
}

func b64(b []byte) string { return base64Std(b) }

func TestWharfSendsToOpenSSL(t *testing.T) {
	ssl := testenv.OpenSSL(t)
	d := t.TempDir()
	wharf, acme := newParty(t, d, "wharf", time.Time{}), newParty(t, d, "ACME", time.Time{})
	peer := &opensslPeer{t: t, ssl: ssl, me: acme, wharf: wharf, got: map[string][]byte{}, seen: map[string]string{}}
	srv := httptest.NewServer(peer)
	defer srv.Close()
	books := newBooks()
	client := &as2.Client{Identity: wharf.id, Books: books}
	base := as2.Partner{ID: "acme", AS2ID: "ACME", Certs: []*x509.Certificate{acme.id.Cert}, URL: srv.URL,
		Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true}
	// CRLF line ends: OpenSSL's S/MIME parser rewrites every line end of a
	// multipart/signed part (to CRLF, or to LF with -binary), so it cannot
	// verify a signature over bare-LF content; Wharf signs the bytes as they are.
	// Partners set to base64 (transfer_encoding: base64) avoid that.
	payload := []byte(strings.ReplaceAll(strings.Repeat(x12Payload, 10), "~\n", "~\r\n"))
	lfPayload := []byte(strings.Repeat(x12Payload, 10))
	cases := []struct {
		name   string
		set    func(p *as2.Partner)
		mdn    string
		status lifecycle.Status
		found  string
		detail string
		lf     bool // send the bare-LF payload
		large  bool // a 3 MiB payload, streamed from its source
	}{
		{name: "signed+aes256cbc", status: lifecycle.StatusDelivered, found: "decrypted, signature verified"},
		{name: "signed+aes128cbc+oaep", set: func(p *as2.Partner) { p.Cipher, p.KeyWrap = as2.AES128CBC, as2.RSAOAEPSHA256 }, status: lifecycle.StatusDelivered, found: "decrypted, signature verified"},
		{name: "signed+aes192cbc", set: func(p *as2.Partner) { p.Cipher = as2.AES192CBC }, status: lifecycle.StatusDelivered, found: "decrypted, signature verified"},
		{name: "signed+aes128gcm", set: func(p *as2.Partner) { p.Cipher = as2.AES128GCM }, status: lifecycle.StatusDelivered, found: "decrypted, signature verified"},
		{name: "signed+aes256gcm", set: func(p *as2.Partner) { p.Cipher = as2.AES256GCM }, status: lifecycle.StatusDelivered, found: "decrypted, signature verified"},
		{name: "signed only", set: func(p *as2.Partner) { p.Cipher = "" }, status: lifecycle.StatusDelivered, found: "signature verified"},
		{name: "encrypted only", set: func(p *as2.Partner) { p.Sign = false }, status: lifecycle.StatusDelivered, found: "decrypted"},
		{name: "signed+aes256gcm, bare-LF payload in base64", set: func(p *as2.Partner) { p.Cipher, p.Base64 = as2.AES256GCM, true }, status: lifecycle.StatusDelivered, found: "base64 body, decrypted, signature verified, base64 decoded", lf: true},
		{name: "large: signed+aes256cbc", status: lifecycle.StatusDelivered, found: "decrypted, signature verified", large: true},
		{name: "large: signed+aes128gcm+oaep", set: func(p *as2.Partner) { p.Cipher, p.KeyWrap = as2.AES128GCM, as2.RSAOAEPSHA256 }, status: lifecycle.StatusDelivered, found: "decrypted, signature verified", large: true},
		{name: "MIC mismatch", mdn: "bad-mic", status: lifecycle.StatusFailed, found: "decrypted, signature verified", detail: "Received-Content-MIC"},
		{name: "error disposition", mdn: "error", status: lifecycle.StatusFailed, found: "decrypted, signature verified", detail: "decryption-failed"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := base
			if c.set != nil {
				c.set(&p)
			}
			peer.mdn = c.mdn
			id := fmt.Sprintf("ossl%d", i)
			want := payload
			if c.lf {
				want = lfPayload
			}
			o := as2.Outgoing{MessageID: id, Name: "inv.edi", ContentType: "application/edi-x12", Payload: want}
			if c.large {
				want = []byte(strings.ReplaceAll(strings.Repeat(x12Payload, 3<<20/len(x12Payload)), "~\n", "~\r\n"))
				o.Payload, o.Size = nil, int64(len(want))
				o.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(want)), nil }
			}
			sent, err := client.Send(t.Context(), &p, o)
			if err != nil {
				t.Fatal(err)
			}
			if sent.Status != c.status || books.Outcome(id) != c.status {
				t.Fatalf("status %q, want %q: %s", sent.Status, c.status, sent.Detail)
			}
			if !strings.Contains(sent.Detail, c.detail) || !strings.Contains(sent.Detail, "partner acme") {
				t.Errorf("detail %q lacks %q or the partner", sent.Detail, c.detail)
			}
			peer.mu.Lock()
			got, seen := peer.got[sent.AS2MessageID], peer.seen[sent.AS2MessageID]
			peer.mu.Unlock()
			if !bytes.Equal(got, want) {
				t.Fatalf("OpenSSL opened %d bytes, want the %d-byte payload", len(got), len(want))
			}
			if seen != c.found {
				t.Fatalf("OpenSSL found %q, want %q", seen, c.found)
			}
			if sent.MDN == nil || !sent.MDN.Signed {
				t.Fatalf("the MDN was not read as signed: %+v", sent.MDN)
			}
		})
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
