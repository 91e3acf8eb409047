package as2

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports"
)

// Client sends payloads to AS2 partners and settles each with its MDN:
// synchronously in the POST's response, or asynchronously through
// HandleMDN when the partner posts it to Wharf's /as2 endpoint. Its fields
// are set before the first Send and not changed afterwards; it is safe for
// concurrent use.
//
// Retrying is the caller's job (Wharf's delivery engine retries with
// backoff): Send returns an error wrapping transports.ErrRejected or
// transports.ErrPermission when retrying cannot help (HTTP 4xx, a partner
// without URL or certificate), any other error when it can (network errors,
// timeouts, HTTP 408, 429 and 5xx). Every attempt at one payload carries
// the same AS2 Message-ID, so a partner that already has it answers with
// its original MDN instead of processing it twice.
//
// Once the partner has the message, Send returns a nil error and the
// outcome is in the books (Books.Settle or Books.Await): delivered, failed
// (a negative MDN, a MIC mismatch, an MDN whose signature does not verify)
// or awaiting its async MDN.
type Client struct {
	Identity *Identity
	Books    Books
	// HTTP posts the messages (default: a client with a 5 minute timeout).
	// Its Timeout is extended by one second per MiB of body, so that a
	// large message to a slow partner is not cut off (600 MiB: 15 minutes).
	HTTP *http.Client
	// TmpDir holds a compressed message while it is sent (default os.TempDir()).
	TmpDir string
	Log    *slog.Logger
	Now    func() time.Time
}

// Outgoing is one payload to send.
type Outgoing struct {
	// MessageID is the archived payload's ID: outcomes are recorded on it,
	// and the AS2 Message-ID derives from it (the same for every attempt).
	MessageID   string
	Name        string // file name for Content-Disposition; default: the message ID
	ContentType string // default application/octet-stream
	// The payload: Payload in memory, or (large payloads) Open, which is
	// called once per pass (the MIC and signature, then the HTTP body)
	// and must give the same Size bytes each time, as the archive does.
	Payload []byte
	Open    func() (io.ReadCloser, error)
	Size    int64
}

// Sent is what a send did once the partner had the message.
type Sent struct {
	AS2MessageID string
	MIC          string           // expected Received-Content-MIC ("" without MDN)
	Status       lifecycle.Status // delivered, failed or awaiting_mdn
	Detail       string           // what happened, for the history
	MDN          *MDN             // the sync MDN, when one came back
	MDNID        string           // where it is archived
}

// Built is an AS2 message ready to post. Its body is not in memory: it
// is produced from the payload as it is written. Close it when done.
type Built struct {
	AS2MessageID string
	Header       http.Header // AS2 and MIME headers
	MIC          string      // "base64, sha-256" the MDN must return
	Size         int64       // the body's length
	body         stream
	cleanup      []func()
}

// WriteBody writes the HTTP body, reading the payload once more.
func (b *Built) WriteBody(w io.Writer) error { return b.body.writeTo(w) }

// Close removes the temporary files the message needed (compression).
func (b *Built) Close() error {
	for _, c := range b.cleanup {
		c()
	}
	b.cleanup = nil
	return nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

var defaultHTTP = &http.Client{Timeout: 5 * time.Minute}

// AS2MessageIDFor is the AS2 Message-ID of an archived payload: the same
// for every attempt, so a retry is recognised as a duplicate.
func AS2MessageIDFor(messageID, as2Name string) string {
	if messageID == "" {
		return NewMessageID(as2Name)
	}
	return "<wharf-" + messageID + "@" + hostPart(as2Name) + ">"
}

func hostPart(as2Name string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			return c
		}
		return '_'
	}, as2Name)
}

// encryptionCert picks the partner certificate to encrypt to: of those
// valid now, the one that became valid last (during a rotation, the new one).
func encryptionCert(p *Partner, now time.Time) (*x509.Certificate, error) {
	var best *x509.Certificate
	for _, c := range p.Certs {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			continue
		}
		if best == nil || c.NotBefore.After(best.NotBefore) {
			best = c
		}
	}
	if best != nil {
		return best, nil
	}
	if len(p.Certs) == 0 {
		return nil, fmt.Errorf("%w: as2: partner %s has no certificate to encrypt to: add it with wharf partner add %s --as2-cert CERT_PEM (or partners[].as2.cert_files), or set partners[].as2.encrypt: none",
			transports.ErrRejected, p.ID, p.ID)
	}
	return nil, fmt.Errorf("%w: as2: none of partner %s's certificates is valid now (%s): ask the partner for its current certificate and add it with wharf partner add %s --as2-cert NEW_CERT_PEM",
		transports.ErrRejected, p.ID, describeCerts(p.Certs), p.ID)
}

// Build makes the message for p: the payload entity, compressed (RFC 5402,
// before signing), signed (SHA-256, detached), encrypted (EnvelopedData for
// CBC, AuthEnvelopedData for GCM), as the partner is set, and the AS2
// headers that ask for the MDN the partner is set to send. The payload is
// read once here (the MIC and signature) and again by WriteBody; a
// compressed message keeps its compressed form in a temporary file in
// tmpDir (default os.TempDir()) until Close.
func Build(id *Identity, p *Partner, o Outgoing, now time.Time) (*Built, error) {
	return build(id, p, o, now, "")
}

func build(id *Identity, p *Partner, o Outgoing, now time.Time, tmpDir string) (bt *Built, err error) {
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	name := o.Name
	if name == "" {
		name = o.MessageID
	}
	if name == "" {
		name = "payload"
	}
	payload := bytesStream(o.Payload)
	if o.Open != nil {
		payload = exact(stream{size: o.Size, open: o.Open}, "payload "+o.MessageID)
	}
	b := &Built{AS2MessageID: AS2MessageIDFor(o.MessageID, id.AS2ID), Header: http.Header{}}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	// The current entity: its MIME header lines and its body.
	type header struct{ k, v string }
	render := func(hs []header) []byte {
		var h bytes.Buffer
		for _, kv := range hs {
			h.WriteString(kv.k + ": " + kv.v + "\r\n")
		}
		h.WriteString("\r\n")
		return h.Bytes()
	}
	cte := "binary"
	body := payload
	if p.Base64 {
		cte, body = "base64", base64Lines(payload)
	}
	hs := []header{{"Content-Type", ct}, {"Content-Transfer-Encoding", cte},
		{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name})}}
	if p.Compress {
		cd, cleanup, err := compressStream(concat(bytesStream(render(hs)), body), tmpDir)
		if err != nil {
			return nil, fmt.Errorf("as2: compress for partner %s: %w", p.ID, err)
		}
		b.cleanup = append(b.cleanup, cleanup)
		hs = []header{{"Content-Type", "application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z"},
			{"Content-Transfer-Encoding", "binary"}, {"Content-Disposition", "attachment; filename=smime.p7z"}}
		body = cd
	}
	// The MIC covers the signed entity, or (unsigned) the entity the
	// partner finds after decrypting (RFC 4130 7.3.1).
	digest, err := concat(bytesStream(render(hs)), body).digest()
	if err != nil {
		return nil, fmt.Errorf("as2: reading the payload %s for partner %s: %w", o.MessageID, p.ID, err)
	}
	mic := b64(digest) + ", sha-256"
	if p.Sign {
		sig, err := signDigest(digest, id, now)
		if err != nil {
			return nil, fmt.Errorf("as2: sign for partner %s: %w", p.ID, err)
		}
		boundary := newBoundary()
		var tail bytes.Buffer
		tail.WriteString("\r\n--" + boundary + "\r\n")
		tail.WriteString("Content-Type: application/pkcs7-signature; name=smime.p7s\r\n")
		tail.WriteString("Content-Transfer-Encoding: base64\r\n")
		tail.WriteString("Content-Disposition: attachment; filename=smime.p7s\r\n\r\n")
		writeBase64Lines(&tail, sig)
		tail.WriteString("--" + boundary + "--\r\n")
		body = concat(bytesStream([]byte("--"+boundary+"\r\n")), bytesStream(render(hs)), body, bytesStream(tail.Bytes()))
		hs = []header{{"Content-Type", fmt.Sprintf(`multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="%s"`, boundary)}}
	}
	if p.Cipher != "" {
		cert, err := encryptionCert(p, now)
		if err != nil {
			return nil, err
		}
		entity := concat(bytesStream(render(hs)), body)
		enc, err := newEncryptor(entity.size, []*x509.Certificate{cert}, p.Cipher, p.KeyWrap)
		if err != nil {
			return nil, fmt.Errorf("%w: as2: encrypt to partner %s's %s: %w", transports.ErrRejected, p.ID, describeCert(cert), err)
		}
		der := piped(enc.size(), func(w io.Writer) error {
			r, err := entity.open()
			if err != nil {
				return err
			}
			defer r.Close()
			return enc.write(w, r)
		})
		smime := "enveloped-data"
		if strings.HasSuffix(string(p.Cipher), "-gcm") {
			smime = "authEnveloped-data" // RFC 8551 3.2.2
		}
		hs = []header{{"Content-Type", "application/pkcs7-mime; smime-type=" + smime + "; name=smime.p7m"},
			{"Content-Disposition", "attachment; filename=smime.p7m"}, {"Content-Transfer-Encoding", "binary"}}
		body = der
		if p.Base64 {
			hs[2].v, body = "base64", base64Lines(der)
		}
	}
	for _, kv := range hs {
		b.Header.Set(kv.k, kv.v)
	}
	b.body, b.Size = body, body.size
	h := b.Header
	h.Set("Mime-Version", "1.0")
	h.Set("As2-Version", "1.2")
	h.Set("As2-From", quoteAS2(id.AS2ID))
	h.Set("As2-To", quoteAS2(p.AS2ID))
	h.Set("Message-Id", b.AS2MessageID)
	h.Set("Subject", "AS2 message "+name)
	h.Set("Date", now.UTC().Format(time.RFC1123Z))
	h.Set("User-Agent", "Wharf AS2")
	switch p.MDN {
	case MDNNone:
	default:
		b.MIC = mic
		h.Set("Disposition-Notification-To", id.AS2ID)
		if p.SignedMDN {
			h.Set("Disposition-Notification-Options", "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256")
		}
		if p.MDN == MDNAsync {
			h.Set("Receipt-Delivery-Option", p.AsyncMDNURL)
		}
	}
	return b, nil
}

// Send builds the message, posts it to the partner and settles it (see
// Client). See the Client's doc for which errors are worth retrying.
func (c *Client) Send(ctx context.Context, p *Partner, o Outgoing) (*Sent, error) {
	if p.URL == "" {
		return nil, fmt.Errorf("%w: as2: partner %s has no AS2 URL: set partners[].as2.url in the config", transports.ErrRejected, p.ID)
	}
	if p.MDN == MDNAsync && p.AsyncMDNURL == "" {
		return nil, fmt.Errorf("%w: as2: partner %s wants async MDNs but Wharf's public AS2 URL is not set: set as2.public_url", transports.ErrRejected, p.ID)
	}
	if p.SignedMDN && p.MDN != MDNNone && len(p.Certs) == 0 {
		return nil, fmt.Errorf("%w: as2: partner %s has no certificate to verify its signed MDNs: add it with wharf partner add %s --as2-cert CERT_PEM",
			transports.ErrRejected, p.ID, p.ID)
	}
	now := c.now()
	// An attempt after the MDN settled the message (a job retried after a
	// crash, or after a timeout the partner did not notice) sends nothing:
	// the partner has it, and its MDN is archived. Checked before building,
	// which reads the whole payload.
	if o.MessageID != "" {
		as2ID := AS2MessageIDFor(o.MessageID, c.Identity.AS2ID)
		if prev, err := c.Books.Lookup(ctx, &RecordKey{PartnerID: p.ID, AS2MessageID: as2ID, Direction: Outbound}); err != nil {
			return nil, err
		} else if prev != nil && prev.MDNID != "" && (lifecycle.Status(prev.Status) == lifecycle.StatusDelivered || lifecycle.Status(prev.Status) == lifecycle.StatusFailed) {
			c.log().Info("as2: already settled by its MDN; not sent again", "partner", p.ID, "as2_message_id", as2ID, "message", o.MessageID,
				"status", prev.Status, "mdn", prev.MDNID)
			return &Sent{AS2MessageID: as2ID, MIC: prev.MIC, Status: lifecycle.Status(prev.Status), MDNID: prev.MDNID,
				Detail: fmt.Sprintf("AS2 message %s was already settled (%s) by the MDN archived as %s; not sent again ('wharf replay' sends a new message)", as2ID, prev.Status, prev.MDNID)}, nil
		}
	}
	b, err := build(c.Identity, p, o, now, c.TmpDir)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	log := c.log().With("partner", p.ID, "as2_message_id", b.AS2MessageID, "message", o.MessageID)
	rec := &Record{PartnerID: p.ID, AS2MessageID: b.AS2MessageID, Direction: Outbound, MessageID: o.MessageID,
		MIC: b.MIC, MDNMode: p.MDN, SignedMDN: p.SignedMDN && p.MDN != MDNNone}
	if rec.MDNMode == "" {
		rec.MDNMode = MDNSync
	}
	if p.MDN == MDNAsync {
		timeout := p.MDNTimeout
		if timeout <= 0 {
			timeout = 2 * time.Hour
		}
		// Waiting is recorded before posting: the MDN may arrive before
		// the response does, and must find what it settles.
		rec.Status, rec.Deadline, rec.MDNURL = StatusPending, now.Add(timeout), p.AsyncMDNURL
		if err := c.Books.Await(ctx, rec, fmt.Sprintf("posting AS2 message %s to partner %s at %s; async MDN expected at %s by %s",
			b.AS2MessageID, p.ID, p.URL, p.AsyncMDNURL, rec.Deadline.UTC().Format(time.RFC3339))); err != nil {
			return nil, err
		}
	}
	res, body, err := c.post(ctx, p, b)
	if err != nil {
		return nil, err
	}
	sent := &Sent{AS2MessageID: b.AS2MessageID, MIC: b.MIC}
	where := fmt.Sprintf("posted to partner %s at %s as AS2 message %s (%s, HTTP %d)", p.ID, p.URL, b.AS2MessageID, describeSecurity(p), res.StatusCode)
	switch p.MDN {
	case MDNAsync:
		sent.Status, sent.Detail = lifecycle.StatusAwaitingMDN, where+"; async MDN expected by "+rec.Deadline.UTC().Format(time.RFC3339)
		if err := c.Books.Event(ctx, o.MessageID, lifecycle.EventSent, sent.Detail); err != nil {
			log.Warn("as2: recording the send failed", "err", err)
		}
		log.Info("as2: sent; async MDN awaited", "deadline", rec.Deadline)
		return sent, nil
	case MDNNone:
		rec.Status = string(lifecycle.StatusDelivered)
		sent.Status, sent.Detail = lifecycle.Status(rec.Status), where+"; no MDN asked (partners[].as2.mdn: none)"
		return sent, c.Books.Settle(ctx, rec, false, lifecycle.Status(rec.Status), sent.Detail)
	}
	// Sync: the MDN is the response.
	e := &Entity{Raw: body, Header: textproto.MIMEHeader(res.Header), Body: body}
	mdn := &MDN{Header: e.Header, Body: body}
	if len(body) > 0 {
		id, err := c.Books.MDNEvidence(ctx, &MDNEvidenceParams{PartnerID: p.ID, AS2MessageID: b.AS2MessageID, ParentID: o.MessageID, MDN: mdn.Evidence()})
		if err != nil {
			return nil, fmt.Errorf("as2: archiving the MDN of %s from partner %s: %w", b.AS2MessageID, p.ID, err)
		}
		rec.MDNID, sent.MDNID = id, id
	}
	m, status, detail := c.judgeResponse(p, rec, e, len(body) == 0, now)
	if m != nil {
		sent.MDN = m
		rec.Disposition = dispositionOf(m)
	}
	rec.Status = string(status)
	sent.Status, sent.Detail = lifecycle.Status(rec.Status), where+"; "+detail
	if err := c.Books.Settle(ctx, rec, false, lifecycle.Status(rec.Status), sent.Detail); err != nil {
		return nil, err
	}
	c.matched(ctx, rec.MDNID, fmt.Sprintf("synchronous MDN for AS2 message %s (message %s) from partner %s: the message is %s", b.AS2MessageID, o.MessageID, p.ID, status))
	if status == lifecycle.StatusFailed {
		log.Warn("as2: sent, but the MDN says it failed", "detail", detail)
	} else {
		log.Info("as2: delivered", "mdn", rec.MDNID)
	}
	return sent, nil
}

func dispositionOf(m *MDN) string {
	if m.Modifier == "" {
		return "processed"
	}
	return m.Modifier
}

func describeSecurity(p *Partner) string {
	var s []string
	if p.Compress {
		s = append(s, "compressed")
	}
	if p.Sign {
		s = append(s, "signed sha-256")
	} else {
		s = append(s, "unsigned")
	}
	if p.Cipher != "" {
		s = append(s, "encrypted "+string(p.Cipher))
	} else {
		s = append(s, "not encrypted")
	}
	return strings.Join(s, ", ")
}

// post sends the message and classifies failures.
func (c *Client) post(ctx context.Context, p *Partner, b *Built) (*http.Response, []byte, error) {
	// The body is produced while it is sent: the payload is read from its
	// source again, through signing and encryption, into the connection.
	pr, pw := io.Pipe()
	defer pr.Close() // stops the producer when the request ends early
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, pr)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: as2: partner %s: URL %q: %w (fix partners[].as2.url)", transports.ErrRejected, p.ID, p.URL, err)
	}
	req.Header = b.Header.Clone()
	req.ContentLength = b.Size
	go func() { pw.CloseWithError(b.WriteBody(pw)) }()
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	if extra := time.Duration(b.Size>>20) * time.Second; hc.Timeout > 0 && extra > 0 {
		longer := *hc
		longer.Timeout += extra
		hc = &longer
	}
	res, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var ne net.Error
		kind := "network error"
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		return nil, nil, fmt.Errorf("as2: post %s to partner %s at %s: %s: %w (retried with the same Message-ID)", b.AS2MessageID, p.ID, p.URL, kind, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("as2: reading partner %s's response to %s: %w (retried with the same Message-ID)", p.ID, b.AS2MessageID, err)
	}
	if res.StatusCode/100 == 2 {
		return res, body, nil
	}
	snippet := strings.TrimSpace(string(body[:min(len(body), 200)]))
	switch {
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return nil, nil, fmt.Errorf("as2: partner %s at %s answered %s to %s: %q (retried with backoff)", p.ID, p.URL, res.Status, b.AS2MessageID, snippet)
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return nil, nil, fmt.Errorf("%w: as2: partner %s at %s answered %s to %s: %q; the partner refuses Wharf: check with the partner that AS2 name %s and Wharf's certificate (wharf as2 cert) are registered there",
			transports.ErrPermission, p.ID, p.URL, res.Status, b.AS2MessageID, snippet, c.Identity.AS2ID)
	default:
		return nil, nil, fmt.Errorf("%w: as2: partner %s at %s answered %s to %s: %q; retrying the same message cannot help: check partners[].as2.url and the partner's AS2 settings, then 'wharf replay'",
			transports.ErrRejected, p.ID, p.URL, res.Status, b.AS2MessageID, snippet)
	}
}

// judgeResponse decides a sync response's outcome.
func (c *Client) judgeResponse(p *Partner, want *Record, e *Entity, empty bool, now time.Time) (m *MDN, status lifecycle.Status, detail string) {
	if empty {
		return nil, lifecycle.StatusFailed, fmt.Sprintf("partner %s answered without an MDN although Wharf asked for a synchronous one: check the partner's AS2 settings for Wharf (AS2 name %s), or set partners[].as2.mdn to async or none", p.ID, c.Identity.AS2ID)
	}
	m, err := ParseMDN(e, p.Certs, now)
	if err != nil {
		return nil, lifecycle.StatusFailed, mdnErrorDetail(p, e, err)
	}
	status, detail = judge(p, want, m)
	return m, status, detail
}

func mdnErrorDetail(p *Partner, e *Entity, err error) string {
	mt, _ := e.MediaType()
	if errors.Is(err, ErrNotMDN) {
		return fmt.Sprintf("partner %s's answer is not an MDN (Content-Type %s): check partners[].as2.url points at the partner's AS2 endpoint", p.ID, mt)
	}
	var expired *CertExpiredError
	if errors.As(err, &expired) {
		return fmt.Sprintf("partner %s's MDN is signed with %s, which has expired: ask the partner for its current certificate and add it with wharf partner add %s --as2-cert NEW_CERT_PEM", p.ID, describeCert(expired.Cert), p.ID)
	}
	return fmt.Sprintf("partner %s's MDN cannot be trusted: %v; if the partner changed its certificate, add the new one with wharf partner add %s --as2-cert NEW_CERT_PEM, then 'wharf replay' the message", p.ID, err, p.ID)
}

// dispositionHints say what to do about each error a partner reports.
var dispositionHints = map[string]string{
	ErrDecryptionFailed:      "the partner could not decrypt: check that it holds the key of the certificate Wharf encrypts to (wharf partner add ID --as2-cert with its current one) and supports the cipher (partners[].as2.encrypt)",
	ErrAuthenticationFailed:  "the partner could not verify Wharf's signature: send it Wharf's current certificate (wharf as2 cert)",
	ErrIntegrityCheckFailed:  "the partner found the signed content altered: check for proxies that rewrite bodies between Wharf and the partner",
	ErrDecompressionFailed:   "the partner could not decompress: set partners[].as2.compress: false",
	ErrInsufficientSecurity:  "the partner requires more protection: set partners[].as2.sign: true and an encrypt cipher",
	ErrUnknownTradingPartner: "the partner does not know Wharf's AS2 name or Wharf's name for it: check as2.id here and the partner's configuration for Wharf",
	ErrUnexpectedProcessing:  "the partner failed to process it: ask the partner, quoting the AS2 Message-ID",
}

// judge checks an MDN against what was sent.
func judge(p *Partner, want *Record, m *MDN) (status lifecycle.Status, detail string) {
	if m.OriginalMessageID != "" && m.OriginalMessageID != want.AS2MessageID {
		return lifecycle.StatusFailed, fmt.Sprintf("partner %s's MDN answers Message-ID %s, not %s: the partner mixed up receipts; ask it to resend the MDN", p.ID, m.OriginalMessageID, want.AS2MessageID)
	}
	if want.SignedMDN && !m.Signed {
		return lifecycle.StatusFailed, fmt.Sprintf("partner %s's MDN is not signed although Wharf asked for a signed one, so it proves nothing: ask the partner to sign MDNs, or set partners[].as2.signed_mdn: false", p.ID)
	}
	if m.Modifier != "" {
		hint := dispositionHints[m.Modifier]
		if hint == "" {
			hint = dispositionHints[ErrUnexpectedProcessing]
		}
		said := ""
		if m.Explanation != "" {
			said = fmt.Sprintf(" saying %q", m.Explanation)
		}
		return lifecycle.StatusFailed, fmt.Sprintf("partner %s answered with disposition %q (%s)%s: %s; then 'wharf replay' the message", p.ID, m.Disposition, m.Modifier, said, hint)
	}
	if want.MIC != "" {
		if m.MIC == "" {
			return lifecycle.StatusFailed, fmt.Sprintf("partner %s's MDN carries no Received-Content-MIC, so it does not prove what the partner received: ask the partner to include it", p.ID)
		}
		if !SameMIC(m.MIC, want.MIC) {
			return lifecycle.StatusFailed, fmt.Sprintf("partner %s's MDN reports Received-Content-MIC %q but Wharf computed %q: the partner received other bytes than Wharf sent; 'wharf replay' the message and check for proxies that rewrite bodies", p.ID, m.MIC, want.MIC)
		}
	}
	d := fmt.Sprintf("partner %s confirmed with disposition %q", p.ID, m.Disposition)
	if want.MIC != "" {
		d += ", MIC matches"
	}
	if m.Signed {
		d += ", MDN signature verified"
	}
	if m.Relaxed != "" {
		d += " (tolerated: " + m.Relaxed + ")"
	}
	return lifecycle.StatusDelivered, d
}

// HandleMDN settles an outbound message with the async MDN a partner
// posted (Server.OnMDN). The MDN is verified against the partner's
// certificates first: one that does not verify is refused (an error) and
// settles nothing, so a forged MDN cannot fail or confirm a message. A
// verified MDN is archived, linked to the payload, then settles it; a
// repeated MDN, or one arriving after the timeout, is archived and noted
// in the payload's history but changes nothing.
func (c *Client) HandleMDN(ctx context.Context, p *Partner, e *Entity) error {
	now := c.now()
	m, err := ParseMDN(e, p.Certs, now)
	if err != nil {
		return fmt.Errorf("as2: async MDN from partner %s refused: %s", p.ID, mdnErrorDetail(p, e, err))
	}
	if m.OriginalMessageID == "" {
		return fmt.Errorf("as2: async MDN from partner %s has no Original-Message-ID: it cannot be matched to a message Wharf sent", p.ID)
	}
	log := c.log().With("partner", p.ID, "as2_message_id", m.OriginalMessageID)
	want, err := c.Books.Awaited(ctx, p.ID, m.OriginalMessageID)
	if err != nil {
		return err
	}
	rec, err := c.Books.Lookup(ctx, &RecordKey{PartnerID: p.ID, AS2MessageID: m.OriginalMessageID, Direction: Outbound})
	if err != nil {
		return err
	}
	if want == nil && rec == nil {
		return fmt.Errorf("as2: async MDN from partner %s answers Message-ID %s, which Wharf did not send to this partner", p.ID, m.OriginalMessageID)
	}
	if rec == nil {
		rec = &Record{PartnerID: p.ID, AS2MessageID: m.OriginalMessageID, Direction: Outbound, MDNMode: MDNAsync}
	}
	payload := rec.MessageID
	if want != nil {
		payload = want.MessageID
		rec.MessageID, rec.MIC, rec.SignedMDN, rec.Deadline = want.MessageID, want.MIC, want.SignedMDN, want.Deadline
	}
	id, err := c.Books.MDNEvidence(ctx, &MDNEvidenceParams{PartnerID: p.ID, AS2MessageID: m.OriginalMessageID, ParentID: payload,
		MDN: (&MDN{Header: e.Header, Body: e.Body}).Evidence()})
	if err != nil {
		return fmt.Errorf("as2: archiving the async MDN for %s from partner %s: %w", m.OriginalMessageID, p.ID, err)
	}
	status, detail := judge(p, rec, m)
	detail = "async MDN archived as " + id + ": " + detail
	late := func() error {
		c.matched(ctx, id, fmt.Sprintf("async MDN for AS2 message %s (message %s) from partner %s came after the message was settled; its status is unchanged",
			m.OriginalMessageID, payload, p.ID))
		return c.Books.Event(ctx, payload, lifecycle.EventMDNLate, fmt.Sprintf("async MDN for AS2 message %s arrived again or after the message was settled "+
			"(archived as %s, disposition %q); the message's status is unchanged", m.OriginalMessageID, id, m.Disposition))
	}
	if want == nil {
		log.Warn("as2: async MDN arrived again or after its deadline; the message's status is unchanged", "mdn", id, "disposition", m.Disposition)
		return late()
	}
	rec.MDNID, rec.Disposition, rec.Status = id, dispositionOf(m), string(status)
	err = c.Books.Settle(ctx, rec, true, lifecycle.Status(rec.Status), detail)
	if errors.Is(err, ErrNotAwaited) {
		log.Warn("as2: async MDN raced with another settlement; the first one stands", "mdn", id)
		return late()
	}
	if err != nil {
		return err
	}
	c.matched(ctx, id, fmt.Sprintf("async MDN for AS2 message %s (message %s) from partner %s: the message is %s", m.OriginalMessageID, payload, p.ID, status))
	log.Info("as2: async MDN settled the message", "status", status, "mdn", id)
	return nil
}

// matched records that the archived MDN a partner returned (id) was
// matched to the message Wharf sent: for evidence that is its final status
// (processed). A failure is logged: the message's own status is recorded.
func (c *Client) matched(ctx context.Context, id, detail string) {
	if err := settleEvidence(ctx, c.Books, id, lifecycle.StatusProcessed, lifecycle.EventReconciled, detail); err != nil {
		c.log().Warn("as2: recording the MDN's match failed", "mdn", id, "err", err)
	}
}
