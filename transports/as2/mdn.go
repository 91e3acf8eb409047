package as2

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/textproto"
	"sort"
	"strings"
	"time"
)

// Disposition modifiers of processed/error MDNs (RFC 4130 section 7.5.3).
const (
	DispProcessed            = ""
	ErrDecryptionFailed      = "decryption-failed"
	ErrAuthenticationFailed  = "authentication-failed"
	ErrIntegrityCheckFailed  = "integrity-check-failed"
	ErrDecompressionFailed   = "decompression-failed"
	ErrInsufficientSecurity  = "insufficient-message-security"
	ErrUnexpectedProcessing  = "unexpected-processing-error"
	ErrUnknownTradingPartner = "unknown-trading-relationship"
)

// MDNRequest is what the sender asked for in Disposition-Notification-To
// and Disposition-Notification-Options.
type MDNRequest struct {
	Wanted    bool
	Signed    bool     // signed-receipt-protocol=...pkcs7-signature
	MICAlgs   []string // signed-receipt-micalg, preference order
	AsyncURL  string   // Receipt-Delivery-Option
	Recipient string   // Disposition-Notification-To
}

// parseMDNRequest reads the MDN headers of a request.
func parseMDNRequest(h textproto.MIMEHeader) MDNRequest {
	r := MDNRequest{Recipient: h.Get("Disposition-Notification-To"), AsyncURL: strings.TrimSpace(h.Get("Receipt-Delivery-Option"))}
	r.Wanted = r.Recipient != "" || r.AsyncURL != ""
	for _, opt := range strings.Split(h.Get("Disposition-Notification-Options"), ";") {
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			continue
		}
		vals := strings.Split(v, ",")
		for i := range vals {
			vals[i] = strings.ToLower(strings.TrimSpace(vals[i]))
		}
		if len(vals) > 0 { // the first value is the importance (required/optional)
			vals = vals[1:]
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signed-receipt-protocol":
			for _, p := range vals {
				if p == "pkcs7-signature" {
					r.Signed = true
				}
			}
		case "signed-receipt-micalg":
			r.MICAlgs = vals
		}
	}
	return r
}

// micHash picks the MIC algorithm: the first requested one Wharf knows,
// else SHA-256.
func (r MDNRequest) micHash() (hash.Hash, string) {
	for _, a := range r.MICAlgs {
		if h, name, ok := newHash(a); ok {
			return h, name
		}
	}
	h, name, _ := newHash("sha-256")
	return h, name
}

// ComputeMIC returns "base64, alg" over b with the named algorithm.
func ComputeMIC(b []byte, alg string) (string, error) {
	h, name, ok := newHash(strings.ToLower(alg))
	if !ok {
		return "", fmt.Errorf("mic algorithm %q is not supported", alg)
	}
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + ", " + name, nil
}

// MDN is a built or received message disposition notification.
type MDN struct {
	// Header holds the top-level headers to send as HTTP headers (AS2-From,
	// AS2-To, Message-ID, Content-Type, ...).
	Header textproto.MIMEHeader
	// Body is the HTTP body (the report, or multipart/signed around it).
	Body []byte

	OriginalMessageID string
	Disposition       string // the full Disposition field value
	Modifier          string // "" when processed, else the error, e.g. decryption-failed
	MIC               string // Received-Content-MIC: "base64, alg"
	Signed            bool
	Relaxed           string // a tolerated signature deviation
	// Explanation is the report's human-readable part (received MDNs),
	// cut to 500 bytes and to one line.
	Explanation string
}

// Evidence is the MDN as one MIME entity: headers, blank line, body. It is
// what Wharf archives, and what it parses back to resend it.
func (m *MDN) Evidence() []byte {
	var b bytes.Buffer
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range m.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	b.Write(m.Body)
	return b.Bytes()
}

type mdnParams struct {
	From, To          string // AS2 names: From is Wharf
	OriginalMessageID string
	MIC               string
	Modifier          string // "" processed, else the error
	Explanation       string
	Sign              *Identity // nil: unsigned
}

func dispositionText(modifier string) string {
	if modifier == "" {
		return "automatic-action/MDN-sent-automatically; processed"
	}
	return "automatic-action/MDN-sent-automatically; processed/error: " + modifier
}

// buildMDN makes a multipart/report MDN, signed when p.Sign is set.
func buildMDN(p mdnParams) (*MDN, error) {
	boundary := newBoundary()
	var r bytes.Buffer
	r.WriteString("--" + boundary + "\r\n")
	r.WriteString("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	expl := p.Explanation
	if expl == "" {
		expl = "The AS2 message " + p.OriginalMessageID + " was received and its payload archived."
	}
	r.WriteString(strings.ReplaceAll(strings.ReplaceAll(expl, "\r", ""), "\n", "\r\n") + "\r\n")
	r.WriteString("--" + boundary + "\r\n")
	r.WriteString("Content-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	r.WriteString("Reporting-UA: Wharf AS2\r\n")
	r.WriteString("Original-Recipient: rfc822; " + quoteAS2(p.From) + "\r\n")
	r.WriteString("Final-Recipient: rfc822; " + quoteAS2(p.From) + "\r\n")
	r.WriteString("Original-Message-ID: " + p.OriginalMessageID + "\r\n")
	if p.MIC != "" {
		r.WriteString("Received-Content-MIC: " + p.MIC + "\r\n")
	}
	disp := dispositionText(p.Modifier)
	r.WriteString("Disposition: " + disp + "\r\n")
	r.WriteString("\r\n--" + boundary + "--\r\n")
	reportCT := `multipart/report; report-type=disposition-notification; boundary="` + boundary + `"`

	m := &MDN{Header: textproto.MIMEHeader{}, OriginalMessageID: p.OriginalMessageID, Disposition: disp, Modifier: p.Modifier, MIC: p.MIC}
	h := m.Header
	h.Set("Mime-Version", "1.0")
	h.Set("As2-Version", "1.2")
	h.Set("As2-From", quoteAS2(p.From))
	h.Set("As2-To", quoteAS2(p.To))
	h.Set("Message-Id", NewMessageID(p.From))
	h.Set("Date", time.Now().UTC().Format(time.RFC1123Z))
	h.Set("Server", "Wharf")
	if p.Sign == nil {
		h.Set("Content-Type", reportCT)
		m.Body = r.Bytes()
		return m, nil
	}
	entity := append([]byte("Content-Type: "+reportCT+"\r\n\r\n"), r.Bytes()...)
	ct, body, err := SignEntity(entity, p.Sign)
	if err != nil {
		return nil, err
	}
	h.Set("Content-Type", ct)
	m.Body, m.Signed = body, true
	return m, nil
}

// quoteAS2 quotes an AS2 name that holds spaces or specials (RFC 4130 6.2).
func quoteAS2(s string) string {
	if strings.ContainsAny(s, " \t\"\\()<>@,;:[]?=") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// unquoteAS2 reverses quoteAS2.
func unquoteAS2(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(s[1 : len(s)-1])
	}
	return s
}

// NewMessageID makes an RFC 5322 Message-ID in angle brackets.
func NewMessageID(as2Name string) string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	host := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			return c
		}
		return '_'
	}, as2Name)
	return fmt.Sprintf("<%d.%x@%s>", time.Now().UnixNano(), r, host)
}

// ErrNotMDN: the entity is not a disposition notification.
var ErrNotMDN = errors.New("not a message disposition notification")

// ParseMDN reads an MDN entity (headers and body). certs verify a signed
// MDN; a signed MDN that does not verify is an error. An unsigned MDN is
// returned with Signed false: the caller decides whether that is enough.
func ParseMDN(e *Entity, certs []*x509.Certificate, now time.Time) (*MDN, error) {
	m := &MDN{Header: e.Header, Body: e.Body}
	report := e
	mt, _ := e.MediaType()
	if mt == "multipart/signed" {
		v, err := VerifySigned(e, certs, now)
		if err != nil {
			return nil, fmt.Errorf("mdn signature: %w", err)
		}
		m.Signed, m.Relaxed = true, v.Relaxed
		report, err = ParseEntity(v.Signed)
		if err != nil {
			return nil, fmt.Errorf("mdn: %w", err)
		}
		mt, _ = report.MediaType()
	}
	if mt != "multipart/report" {
		return nil, fmt.Errorf("%w: content type %s", ErrNotMDN, mt)
	}
	_, params := report.MediaType()
	parts, err := Parts(report.Body, params["boundary"])
	if err != nil {
		return nil, fmt.Errorf("mdn: %w", err)
	}
	for _, raw := range parts {
		pe, err := ParseEntity(raw)
		if err != nil {
			continue
		}
		if pmt, _ := pe.MediaType(); pmt == "text/plain" && m.Explanation == "" {
			if b, err := pe.Decoded(); err == nil {
				m.Explanation = oneLine(b, 500)
			}
			continue
		}
		if pmt, _ := pe.MediaType(); pmt != "message/disposition-notification" {
			continue
		}
		body, err := pe.Decoded()
		if err != nil {
			return nil, fmt.Errorf("mdn: %w", err)
		}
		fields, err := ParseEntity(append(bytes.TrimLeft(body, "\r\n"), "\r\n\r\n"...))
		if err != nil {
			return nil, fmt.Errorf("mdn fields: %w", err)
		}
		m.OriginalMessageID = strings.TrimSpace(fields.Header.Get("Original-Message-Id"))
		m.MIC = strings.TrimSpace(fields.Header.Get("Received-Content-Mic"))
		m.Disposition = strings.TrimSpace(fields.Header.Get("Disposition"))
		_, result, _ := strings.Cut(m.Disposition, ";")
		result = strings.TrimSpace(result)
		if !strings.EqualFold(result, "processed") {
			if _, mod, ok := strings.Cut(result, ":"); ok {
				m.Modifier = strings.TrimSpace(mod)
			} else {
				m.Modifier = result
			}
			if m.Modifier == "" {
				m.Modifier = ErrUnexpectedProcessing
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: no message/disposition-notification part", ErrNotMDN)
}

// SameMIC compares two "base64, alg" values (spacing and case of the
// algorithm name do not matter).
func SameMIC(a, b string) bool {
	norm := func(s string) (string, string) {
		v, alg, _ := strings.Cut(s, ",")
		alg = strings.ToLower(strings.TrimSpace(alg))
		alg = strings.ReplaceAll(alg, "-", "")
		return strings.TrimSpace(v), alg
	}
	av, aa := norm(a)
	bv, ba := norm(b)
	return av != "" && av == bv && aa == ba
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// oneLine folds text to one line of printable characters, at most max bytes.
func oneLine(b []byte, max int) string {
	s := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
