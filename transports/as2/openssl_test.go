package as2_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports/as2"
)

const x12Payload = "ISA*00*          *00*          *ZZ*ACME           *ZZ*WHARF          *260101*1200*U*00401*000000001*0*P*>~\n" +
	"GS*IM*ACME*WHARF*20260101*1200*1*X*004010~\nST*210*0001~\nSE*2*0001~\nGE*1*1~\nIEA*1*000000001~\n"

// opensslMsg describes how the OpenSSL CLI builds a message.
type opensslMsg struct {
	lf       bool   // entity and framing with bare LF (no -crlfeol)
	unsigned bool   // no signature
	plain    bool   // no encryption
	cipher   string // -aes-256-cbc (default), -aes-128-cbc, -des-ede3-cbc, ...
	oaep     bool   // RSA-OAEP SHA-256 key transport
	base64   bool   // send the CMS as base64 with Content-Transfer-Encoding
	signer   *party // default: the partner
	recip    *party // default: Wharf
	tamper   bool   // alter the signed content after signing
	large    bool   // a 3 MiB payload: past what a layer keeps in memory
}

// payloadFor is the X12 payload a message carries.
func payloadFor(m opensslMsg) string {
	if m.large {
		return strings.Repeat(x12Payload, 3<<20/len(x12Payload))
	}
	return x12Payload
}

// build returns the entity signed (the MIC's bytes), the HTTP body and its Content-Type.
func (f *fixture) build(t *testing.T, ssl string, m opensslMsg) (entity, body []byte, ctype string) {
	t.Helper()
	d := t.TempDir()
	nl := "\r\n"
	if m.lf {
		nl = "\n"
	}
	entity = []byte("Content-Type: application/edi-x12" + nl + "Content-Disposition: attachment; filename=\"invoice 1.edi\"" + nl + nl + payloadFor(m))
	if !m.lf {
		entity = bytes.ReplaceAll(entity, []byte("~\n"), []byte("~\r\n"))
	}
	write(t, filepath.Join(d, "entity.mime"), entity)
	inner := filepath.Join(d, "entity.mime")
	ctype = "application/edi-x12"
	if !m.unsigned {
		signer := m.signer
		if signer == nil {
			signer = f.acme
		}
		args := []string{"cms", "-sign", "-in", inner, "-signer", signer.certFile, "-inkey", signer.keyFile, "-md", "sha256", "-binary", "-out", filepath.Join(d, "signed.smime")}
		if !m.lf {
			args = append(args, "-crlfeol")
		}
		run(t, ssl, args...)
		inner = filepath.Join(d, "signed.smime")
		if m.tamper {
			b, _ := os.ReadFile(inner)
			write(t, inner, bytes.Replace(b, []byte("ST*210"), []byte("ST*211"), 1))
		}
	}
	if m.plain {
		b, _ := os.ReadFile(inner)
		e, err := as2.ParseEntity(b)
		if err != nil {
			t.Fatal(err)
		}
		return entity, e.Body, e.Header.Get("Content-Type")
	}
	recip := m.recip
	if recip == nil {
		recip = f.wharf
	}
	c := m.cipher
	if c == "" {
		c = "-aes-256-cbc"
	}
	args := []string{"cms", "-encrypt", "-in", inner, "-binary", c, "-recip", recip.certFile, "-outform", "DER", "-out", filepath.Join(d, "enc.der")}
	if m.oaep {
		args = append(args, "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256")
	}
	run(t, ssl, args...)
	body, _ = os.ReadFile(filepath.Join(d, "enc.der"))
	return entity, body, "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"
}

// post sends a message to the fixture and returns the response.
func (f *fixture) post(t *testing.T, from, msgID, ctype string, body []byte, extra map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", f.http.URL+"/as2", bytes.NewReader(body))
	req.Header.Set("AS2-Version", "1.2")
	req.Header.Set("AS2-From", from)
	req.Header.Set("AS2-To", "wharf")
	req.Header.Set("Message-ID", msgID)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Disposition-Notification-To", "edi@acme.example")
	req.Header.Set("Disposition-Notification-Options", "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256, sha1")
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mdnOf reads a sync MDN response, verifies its signature with OpenSSL
// (against Wharf's certificate) and with Wharf's parser.
func (f *fixture) mdnOf(t *testing.T, ssl string, res *http.Response) *as2.MDN {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	ct := res.Header.Get("Content-Type")
	smime := append([]byte("Content-Type: "+ct+"\r\n\r\n"), body...)
	if strings.HasPrefix(ct, "multipart/signed") {
		p := filepath.Join(t.TempDir(), "mdn.smime")
		write(t, p, smime)
		run(t, ssl, "cms", "-verify", "-in", p, "-noverify", "-certfile", f.wharf.certFile, "-out", os.DevNull) // not -binary: OpenSSL then splits with LF and fails its own messages
	}
	e, err := as2.ParseEntity(smime)
	if err != nil {
		t.Fatal(err)
	}
	m, err := as2.ParseMDN(e, []*x509.Certificate{f.wharf.id.Cert}, time.Now())
	if err != nil {
		t.Fatalf("wharf cannot read its own MDN: %v\n%s", err, smime)
	}
	return m
}

func micOf(t *testing.T, ssl string, entity []byte) string {
	p := filepath.Join(t.TempDir(), "e")
	write(t, p, entity)
	d := run(t, ssl, "dgst", "-sha256", "-binary", p)
	return base64.StdEncoding.EncodeToString(d) + ", sha-256"
}

func TestOpenSSLSendsToWharf(t *testing.T) {
	ssl := testenv.OpenSSL(t)
	f := newFixture(t)
	stranger := newParty(t, f.dir, "stranger", time.Time{})
	cases := []struct {
		name    string
		msg     opensslMsg
		require func(p *as2.Partner)
		want    string // "" processed, else the error modifier
		noMIC   bool
	}{
		{name: "signed+aes256cbc+pkcs1v15+crlf", msg: opensslMsg{}},
		{name: "signed+aes128cbc+oaep+lf", msg: opensslMsg{lf: true, oaep: true, cipher: "-aes-128-cbc"}},
		{name: "signed+aes192cbc", msg: opensslMsg{cipher: "-aes-192-cbc"}},
		{name: "signed+3des", msg: opensslMsg{cipher: "-des-ede3-cbc"}},
		{name: "signed+base64 body", msg: opensslMsg{base64: true}},
		{name: "signed only", msg: opensslMsg{plain: true}},
		{name: "encrypted only", msg: opensslMsg{unsigned: true}},
		{name: "unsigned but required", msg: opensslMsg{unsigned: true}, require: func(p *as2.Partner) { p.RequireSigned = true }, want: as2.ErrInsufficientSecurity},
		{name: "unencrypted but required", msg: opensslMsg{plain: true}, require: func(p *as2.Partner) { p.RequireEncrypted = true }, want: as2.ErrInsufficientSecurity},
		{name: "signed by a stranger", msg: opensslMsg{signer: stranger}, want: as2.ErrAuthenticationFailed, noMIC: true},
		{name: "altered after signing", msg: opensslMsg{tamper: true}, want: as2.ErrIntegrityCheckFailed, noMIC: true},
		{name: "encrypted to another certificate", msg: opensslMsg{recip: stranger}, want: as2.ErrDecryptionFailed, noMIC: true},
		{name: "large: signed+aes256cbc+crlf", msg: opensslMsg{large: true}},
		{name: "large: signed+aes128cbc+lf+base64 body", msg: opensslMsg{large: true, lf: true, cipher: "-aes-128-cbc", base64: true}},
		{name: "large: altered after signing", msg: opensslMsg{large: true, tamper: true}, want: as2.ErrIntegrityCheckFailed, noMIC: true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.partner.RequireSigned, f.partner.RequireEncrypted = false, false
			if c.require != nil {
				c.require(f.partner)
			}
			entity, body, ctype := f.build(t, ssl, c.msg)
			extra := map[string]string{}
			if c.msg.base64 {
				body = []byte(base64.StdEncoding.EncodeToString(body))
				extra["Content-Transfer-Encoding"] = "base64"
			}
			msgID := "<openssl-" + string(rune('a'+i)) + "@acme>"
			m := f.mdnOf(t, ssl, f.post(t, "ACME", msgID, ctype, body, extra))
			if !m.Signed {
				t.Errorf("MDN not signed although asked")
			}
			if m.OriginalMessageID != msgID {
				t.Errorf("Original-Message-ID %q, want %q", m.OriginalMessageID, msgID)
			}
			if m.Modifier != c.want {
				t.Fatalf("disposition %q, want modifier %q", m.Disposition, c.want)
			}
			if c.want == "" {
				want := micOf(t, ssl, entity)
				if c.msg.unsigned {
					// Unsigned: the MIC covers the decrypted entity, which is the entity itself.
					want = micOf(t, ssl, entity)
				}
				if !as2.SameMIC(m.MIC, want) {
					t.Errorf("Received-Content-MIC %q, want %q", m.MIC, want)
				}
				rec, _ := f.books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "acme", AS2MessageID: msgID, Direction: as2.Inbound})
				if rec == nil || rec.MessageID == "" || rec.RawID == "" || rec.MDNID == "" {
					t.Fatalf("record %+v: want payload, raw request and MDN archived", rec)
				}
				if got := string(payloadOf(f.recv, rec.MessageID)); got != strings.ReplaceAll(payloadFor(c.msg), "~\n", map[bool]string{true: "~\n", false: "~\r\n"}[c.msg.lf]) {
					t.Errorf("payload %.200q (%d bytes)", got, len(got))
				}
				if nameOf(f.recv, rec.MessageID) != "invoice 1.edi" {
					t.Errorf("remote name %q", nameOf(f.recv, rec.MessageID))
				}
			} else if !c.noMIC && m.MIC == "" {
				t.Errorf("no MIC on an error MDN that could compute one")
			}
		})
	}
}

func TestUnknownPartnerDuplicateAndAsync(t *testing.T) {
	ssl := testenv.OpenSSL(t)
	f := newFixture(t)
	_, body, ctype := f.build(t, ssl, opensslMsg{})
	var clock sync.Mutex
	at := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	f.srv.Foreground = foreground.New(func() time.Time { clock.Lock(); defer clock.Unlock(); return at })

	t.Run("unknown partner", func(t *testing.T) {
		// Refused on its headers, before the body is read: 403, no MDN.
		res := f.post(t, "NOBODY", "<u1@x>", ctype, body, nil)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), as2.ErrUnknownTradingPartner) {
			t.Fatalf("HTTP %s %q: want 403 naming %s", res.Status, b, as2.ErrUnknownTradingPartner)
		}
		if f.recv.Len() != 0 {
			t.Fatalf("payload archived for an unknown partner")
		}
		if f.srv.Foreground.Busy() {
			t.Fatal("a stranger refused on its headers counted as a partner waiting (Server.Foreground)")
		}
	})

	t.Run("duplicate Message-ID gets the original MDN", func(t *testing.T) {
		res1 := f.post(t, "ACME", "<dup@acme>", ctype, body, nil)
		b1, _ := io.ReadAll(res1.Body)
		res1.Body.Close()
		res2 := f.post(t, "ACME", "<dup@acme>", ctype, body, nil)
		b2, _ := io.ReadAll(res2.Body)
		res2.Body.Close()
		if res1.StatusCode != 200 || res2.StatusCode != 200 {
			t.Fatalf("status %d, %d", res1.StatusCode, res2.StatusCode)
		}
		if !f.srv.Foreground.Busy() {
			t.Fatal("a partner's message did not count as a sender waiting (Server.Foreground)")
		}
		clock.Lock()
		at = at.Add(foreground.Linger)
		clock.Unlock()
		if f.srv.Foreground.Busy() {
			t.Fatal("the gauge still busy Linger after the answers: a message's count never ended")
		}
		if !bytes.Equal(b1, b2) || res1.Header.Get("Message-ID") != res2.Header.Get("Message-ID") {
			t.Fatalf("the second answer is not the original MDN")
		}
		if n := f.recv.Len(); n != 1 {
			t.Fatalf("%d payloads archived, want 1", n)
		}
		rec, _ := f.books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "acme", AS2MessageID: "<dup@acme>", Direction: as2.Inbound})
		if evs := strings.Split(f.books.History(rec.MessageID), "\n"); len(evs) < 2 || !strings.HasPrefix(evs[len(evs)-1], "duplicate") {
			t.Fatalf("no duplicate event: %q", evs)
		}
	})

	t.Run("async MDN is queued, not answered", func(t *testing.T) {
		before := f.books.Count(as2.TransportMDNAsync)
		res := f.post(t, "ACME", "<async@acme>", ctype, body, map[string]string{"Receipt-Delivery-Option": "http://127.0.0.1:1/as2"})
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(b) != 0 {
			t.Fatalf("status %d body %q: want 200 and no MDN in the response", res.StatusCode, b)
		}
		if f.books.Count(as2.TransportMDNAsync) != before+1 {
			t.Fatalf("async MDN not archived for delivery")
		}
		rec, _ := f.books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "acme", AS2MessageID: "<async@acme>", Direction: as2.Inbound})
		if rec.MDNMode != as2.MDNAsync || rec.MDNURL != "http://127.0.0.1:1/as2" {
			t.Fatalf("record %+v", rec)
		}
	})

	t.Run("expired partner certificate is named", func(t *testing.T) {
		old := newParty(t, f.dir, "ACME-old", time.Now().Add(-24*time.Hour))
		f.partner.Certs = []*x509.Certificate{old.id.Cert}
		defer func() { f.partner.Certs = []*x509.Certificate{f.acme.id.Cert} }()
		_, body, ctype := f.build(t, ssl, opensslMsg{signer: old})
		res := f.post(t, "ACME", "<expired@acme>", ctype, body, nil)
		m := f.mdnOf(t, ssl, res)
		if m.Modifier != as2.ErrAuthenticationFailed {
			t.Fatalf("disposition %q", m.Disposition)
		}
		rec, _ := f.books.Lookup(t.Context(), &as2.RecordKey{PartnerID: "acme", AS2MessageID: "<expired@acme>", Direction: as2.Inbound})
		ev := f.books.History(rec.RawID)
		if !strings.Contains(ev, "expired on "+old.id.Cert.NotAfter.UTC().Format("2006-01-02")) || !strings.Contains(ev, "partner acme") || !strings.Contains(ev, "wharf partner add acme --as2-cert") {
			t.Fatalf("the error does not name the expiry, the partner and the fix: %s", ev)
		}
	})
}
