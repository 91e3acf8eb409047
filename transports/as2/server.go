package as2

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/transports"
)

// Receiving limits' defaults (the Server's fields, and through them each
// Partner's).
const (
	// DefaultMaxBody bounds a request body: 512 MiB.
	DefaultMaxBody = 512 << 20
	// DefaultMaxDecompressed bounds what one CompressedData layer expands
	// to: 256 MiB.
	DefaultMaxDecompressed = 256 << 20
	// DefaultMaxExpansion bounds the expansion ratio of compressed content
	// that no verified signature covers yet: 100 bytes out per byte in.
	DefaultMaxExpansion = 100
	// DefaultBodyIdle bounds the wait for the next bytes of a request body,
	// and is the grace period before DefaultMinBodyRate applies.
	DefaultBodyIdle = time.Minute
	// DefaultMinBodyRate is the lowest average rate, in bytes per second, at
	// which a request body may arrive once DefaultBodyIdle has passed
	// (8 KiB/s: 512 MiB in about 18 hours).
	DefaultMinBodyRate = 8 << 10
)

// maxMDNBody bounds an MDN read into memory.
const maxMDNBody = 16 << 20

// Server is the AS2 receiving endpoint (POST /as2). Its fields are set
// before the first request and not changed afterwards.
type Server struct {
	Identity *Identity
	// RotationKeys also decrypt (RotationKeys in identity.go: the next
	// certificate handed to partners, the previous one retired); the
	// current Identity signs.
	RotationKeys []*Identity
	Partners     Directory
	Receiver     transports.Receiver // archives the payload and commits its processing
	// Foreground, when set, counts each message of a known partner from
	// its headers to its answer: its sender waits for the MDN (or, for
	// an asynchronous one, the HTTP response) through several commits
	// (the raw request, the payload, the records and the MDN), and
	// processing gives way meanwhile (internal/foreground).
	Foreground *foreground.Gauge
	Books      Books
	Log        *slog.Logger
	// Throttle, when set, applies the partner's rate limit once AS2-From
	// names a known partner and before the body is read: a refusal
	// (wait > 0, whole seconds) is answered 429 with Retry-After and why,
	// with no MDN (nothing was received). The partner is the one the
	// headers claim: its signature is checked only after the body.
	Throttle transports.Throttle
	// MaxBody bounds a request body for partners without their own
	// Partner.MaxBody (default DefaultMaxBody); larger requests get 413.
	// The headers are checked first (AS2-From a known partner, AS2-To
	// Wharf's name): nothing of the body is read for a stranger. Bodies are
	// spooled to files, never held in memory.
	MaxBody int64
	// MaxDecompressed and MaxExpansion are the defaults of the Partner
	// fields of the same names (DefaultMaxDecompressed, DefaultMaxExpansion).
	MaxDecompressed int64
	MaxExpansion    int
	// BodyIdle and MinBodyRate pace a request body (defaults
	// DefaultBodyIdle, DefaultMinBodyRate; a negative rate turns the rate
	// check off): each read waits at most BodyIdle (a read deadline on the
	// connection, moved at every read), and after the first BodyIdle the
	// body's average rate must stay at MinBodyRate or more. A body that
	// stalls or dribbles gets 408, whatever its size: large uploads at a
	// normal rate are never cut off, unlike with a whole-request timeout.
	BodyIdle    time.Duration
	MinBodyRate int64
	// SpoolDir holds each request's temporary files (the body, and each
	// decoded, decrypted or decompressed layer) until it is answered;
	// default os.TempDir(). Wharf uses a folder in its data folder.
	SpoolDir string
	// OnMDN handles an async MDN for a message Wharf sent (Client.HandleMDN).
	OnMDN func(ctx context.Context, p *Partner, e *Entity) error
	Now   func() time.Time
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// firstPositive returns the first of vs above 0.
func firstPositive[T int | int64 | time.Duration](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// maxBody is the body bound for p.
func (s *Server) maxBody(p *Partner) int64 {
	return firstPositive(p.MaxBody, s.MaxBody, DefaultMaxBody)
}

// decompressLimit is how far one CompressedData layer of in bytes may
// expand for p: its MaxDecompressed, and when no verified signature covers
// the layer (authenticated false) also MaxExpansion times in. byRatio
// tells which bound is the lower.
func (s *Server) decompressLimit(p *Partner, authenticated bool, in int64) (max int64, ratio int, byRatio bool) {
	max = firstPositive(p.MaxDecompressed, s.MaxDecompressed, DefaultMaxDecompressed)
	if authenticated {
		return max, 0, false
	}
	ratio = firstPositive(p.MaxExpansion, s.MaxExpansion, DefaultMaxExpansion)
	if r := int64(ratio) * max64(in, 1); r < max {
		return r, ratio, true
	}
	return max, ratio, false
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// errBodyTooSlow: a request body arrived below the minimum rate.
var errBodyTooSlow = errors.New("the request body arrives too slowly")

// pacedBody reads a request body under a read deadline that moves with it
// (Server.BodyIdle, Server.MinBodyRate).
type pacedBody struct {
	r       io.Reader
	rc      *http.ResponseController
	idle    time.Duration
	minRate int64
	start   time.Time
	n       int64
}

func (b *pacedBody) Read(p []byte) (int, error) {
	now := time.Now()
	if el := now.Sub(b.start) - b.idle; b.minRate > 0 && el > 0 && float64(b.n) < el.Seconds()*float64(b.minRate) {
		return 0, fmt.Errorf("%w: %d bytes in %s, below %d bytes per second", errBodyTooSlow, b.n, now.Sub(b.start).Round(time.Second), b.minRate)
	}
	// Not supported (a ResponseWriter that is not a connection's): no deadline.
	_ = b.rc.SetReadDeadline(now.Add(b.idle))
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// ServeHTTP implements POST /as2.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The headers decide before a byte of the body is read: a stranger's
	// request is answered at once, and the server closes the connection
	// rather than read what is left (an Expect: 100-continue sender never
	// sends it).
	h := textproto.MIMEHeader(r.Header)
	from, to := unquoteAS2(h.Get("As2-From")), unquoteAS2(h.Get("As2-To"))
	msgID := strings.TrimSpace(h.Get("Message-Id"))
	log := s.log().With("as2_from", from, "as2_to", to, "as2_message_id", msgID, "remote", r.RemoteAddr)
	if from == "" || to == "" || msgID == "" {
		http.Error(w, "as2: AS2-From, AS2-To and Message-ID headers are required", http.StatusBadRequest)
		return
	}
	if to != s.Identity.AS2ID {
		log.Warn("as2: message addressed to another AS2 name; answered 403 without reading the body",
			"hint", fmt.Sprintf("Wharf's AS2 name is %q (config as2.id or WHARF_AS2_ID); the sender must use it as AS2-To", s.Identity.AS2ID))
		http.Error(w, fmt.Sprintf("as2: unknown-trading-relationship: this server's AS2 name is %s, not %s", s.Identity.AS2ID, to), http.StatusForbidden)
		return
	}
	p, err := s.Partners.ByAS2ID(ctx, from)
	if errors.Is(err, ErrUnknownPartner) {
		log.Warn("as2: message from an unknown AS2 name; answered 403 without reading the body",
			"hint", fmt.Sprintf("register the partner: wharf partner add ID --as2-id %s --as2-cert CERT_PEM_FILE", quoteShell(from)))
		http.Error(w, fmt.Sprintf("as2: unknown-trading-relationship: no trading partner with AS2 name %s is configured here", from), http.StatusForbidden)
		return
	}
	if errors.Is(err, ErrPartnerDisabled) {
		log.Warn("as2: message from a disabled partner; answered 403 without reading the body", "err", err,
			"hint", "enable the partner in the console (Partners) or with the API to receive from it again")
		http.Error(w, fmt.Sprintf("as2: unknown-trading-relationship: the trading relationship with %s is suspended on this server", from), http.StatusForbidden)
		return
	}
	if err != nil {
		log.Error("as2: partner lookup failed; answered 503 so the sender retries", "err", err)
		http.Error(w, "as2: temporarily unable to process; retry later", http.StatusServiceUnavailable)
		return
	}
	log = log.With("partner", p.ID)
	if s.Throttle != nil {
		if wait, why := s.Throttle(ctx, p.ID); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			http.Error(w, "as2: "+why+": nothing was received; send again after Retry-After", http.StatusTooManyRequests)
			return
		}
	}
	defer s.Foreground.Begin()()
	max := s.maxBody(p)
	tooLarge := func() {
		log.Warn("as2: request body too large; answered 413", "limit_bytes", max, "content_length", r.ContentLength,
			"hint", fmt.Sprintf("raise partners[].as2.max_body_mb for partner %s (or as2.max_body_mb for all) if it sends larger messages", p.ID))
		http.Error(w, fmt.Sprintf("as2: request body exceeds %d bytes, partner %s's limit", max, p.ID), http.StatusRequestEntityTooLarge)
	}
	if r.ContentLength > max {
		tooLarge()
		return
	}
	sp := &spool{dir: s.SpoolDir}
	defer sp.close()
	sw := &spoolWriter{sp: sp}
	rc := http.NewResponseController(w)
	minRate := s.MinBodyRate
	if minRate == 0 {
		minRate = DefaultMinBodyRate
	}
	paced := &pacedBody{r: r.Body, rc: rc, idle: firstPositive(s.BodyIdle, DefaultBodyIdle), minRate: minRate, start: time.Now()}
	n, err := io.Copy(sw, io.LimitReader(paced, max+1))
	// Processing may take a while: no read deadline from here on (the
	// server's check for a closed connection must not time out).
	_ = rc.SetReadDeadline(time.Time{})
	var body *io.SectionReader
	if err == nil && n <= max {
		body, err = sw.done()
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) { // our side: the spool file
			log.Error("as2: spooling the request body failed; answered 503 so the sender retries", "err", err,
				"hint", "check that the spool folder exists, is writable and has room")
			http.Error(w, "as2: temporarily unable to receive; retry later", http.StatusServiceUnavailable)
			return
		}
		if errors.Is(err, errBodyTooSlow) || errors.Is(err, os.ErrDeadlineExceeded) {
			log.Warn("as2: request body too slow; answered 408", "err", err, "received_bytes", paced.n)
			http.Error(w, "as2: request body too slow: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		http.Error(w, "as2: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if n > max {
		tooLarge()
		return
	}
	req := parseMDNRequest(h)
	reply := func(m *MDN) error {
		for k, vs := range m.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(m.Body); err != nil {
			return err
		}
		// Sent now, not when the handler returns: the sender has its MDN
		// before the commit that records it delivered, and an error here
		// says it did not leave. (A writer that cannot flush sends it when
		// the handler returns, as before.)
		if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	top := &fileEntity{Raw: body, Header: h, Body: body}
	if s.OnMDN != nil && isMDNAt(top) {
		b, err := readAllSection(body, maxMDNBody, "the MDN")
		if err != nil {
			log.Error("as2: async MDN not accepted", "err", err)
			http.Error(w, "as2: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err := s.OnMDN(ctx, p, &Entity{Raw: b, Header: h, Body: b}); err != nil {
			log.Error("as2: async MDN not accepted", "err", err)
			msg := err.Error()
			if !strings.HasPrefix(msg, "as2: ") {
				msg = "as2: " + msg
			}
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}

	// A Message-ID seen before is not processed again: the original MDN answers.
	prev, err := s.Books.Lookup(ctx, &RecordKey{PartnerID: p.ID, AS2MessageID: msgID, Direction: Inbound})
	if err != nil {
		log.Error("as2: bookkeeping lookup failed; answered 503 so the sender retries", "err", err)
		http.Error(w, "as2: temporarily unable to process; retry later", http.StatusServiceUnavailable)
		return
	}
	if prev != nil && prev.MDNID != "" {
		s.replayMDN(ctx, w, reply, p, prev, log)
		return
	}

	rawID, err := s.evidence(ctx, p.ID, TransportRaw, msgID, io.MultiReader(bytes.NewReader(requestHead(r)), section(body)))
	if err != nil {
		log.Error("as2: archiving the raw request failed; answered 503 so the sender retries", "err", err)
		http.Error(w, "as2: temporarily unable to archive; retry later", http.StatusServiceUnavailable)
		return
	}
	res := s.open(top, p, req, sp)
	if res.spoolErr != nil {
		log.Error("as2: the spool failed while opening the message; answered 503 so the sender retries", "err", res.spoolErr,
			"hint", "check free space and permissions in the spool folder", "spool", s.SpoolDir)
		http.Error(w, "as2: temporarily unable to process; retry later", http.StatusServiceUnavailable)
		return
	}
	rec := &Record{PartnerID: p.ID, AS2MessageID: msgID, Direction: Inbound, RawID: rawID, MIC: res.mic, Disposition: "processed"}
	opened := func(Writes) error { return nil } // what the opening adds to the record's commit
	record := func(w Writes) error {
		if err := opened(w); err != nil {
			return err
		}
		return w.Record(rec)
	}
	if res.modifier == "" {
		name := res.filename
		if name == "" {
			name = strings.Trim(msgID, "<>")
		}
		id, err := s.Receiver.Receive(ctx, transports.Incoming{Partner: p.ID, Transport: TransportAS2, RemoteName: name,
			RemoteAddr: r.RemoteAddr, IdempotencyKey: "as2:" + msgID}, section(res.payload))
		if err != nil {
			log.Error("as2: archiving the payload failed; answered 503 so the sender retries", "err", err)
			http.Error(w, "as2: temporarily unable to archive; retry later", http.StatusServiceUnavailable)
			return
		}
		rec.MessageID = id
		// Committed with the record below (one commit, not three).
		opened = func(w Writes) error {
			if err := w.Event(id, lifecycle.EventAS2, fmt.Sprintf("AS2 message %s from %s: %s; raw request archived as %s", msgID, from, res.describe(), rawID)); err != nil {
				return err
			}
			return w.SettleEvidence(rawID, lifecycle.StatusProcessed, lifecycle.EventAS2,
				fmt.Sprintf("AS2 message %s from partner %s opened (%s); its payload is archived as %s", msgID, p.ID, res.describe(), id))
		}
	} else {
		rec.Disposition = res.modifier
		log.Warn("as2: message refused", "disposition", res.modifier, "reason", res.explanation, "raw", rawID)
		detail := fmt.Sprintf("AS2 message %s from partner %s refused (%s): %s", msgID, p.ID, res.modifier, res.explanation)
		if err := settleEvidence(ctx, s.Books, rawID, lifecycle.StatusRejected, lifecycle.EventFailed, detail); err != nil {
			log.Warn("as2: recording the refusal failed", "raw", rawID, "err", err)
		}
		if res.alert != "" {
			if al, ok := s.Books.(Alerter); ok {
				a := &Alert{Reason: res.alert, PartnerID: p.ID, MessageID: rawID, DedupeKey: res.alert + "/" + p.ID,
					Detail: detail + " The raw request is archived as " + rawID + "; nothing was decompressed into the archive."}
				if err := al.Alert(ctx, a); err != nil {
					log.Error("as2: raising the exception failed", "err", err)
				}
			}
		}
	}
	if !req.Wanted {
		if err := batch(ctx, s.Books, record); err != nil {
			log.Error("as2: bookkeeping failed", "err", err)
		}
		if res.status != 0 { // a refusal with no MDN to carry it
			http.Error(w, "as2: "+res.modifier+": "+res.explanation, res.status)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	expl := res.explanation
	if expl == "" {
		expl = fmt.Sprintf("The AS2 message %s from %s was received, %s, and its payload archived as %s.", msgID, from, res.describe(), rec.MessageID)
	}
	var signer *Identity
	if req.Signed {
		signer = s.Identity
	}
	m, err := buildMDN(mdnParams{From: s.Identity.AS2ID, To: from, OriginalMessageID: msgID, MIC: res.mic,
		Modifier: res.modifier, Explanation: expl, Sign: signer})
	if err != nil {
		log.Error("as2: building the MDN failed", "err", err)
		http.Error(w, "as2: cannot build the MDN; retry later", http.StatusInternalServerError)
		return
	}
	transport := TransportMDN
	rec.MDNMode = MDNSync
	if req.AsyncURL != "" {
		transport, rec.MDNMode, rec.MDNURL = TransportMDNAsync, MDNAsync, req.AsyncURL
	}
	// Record first: the async deliverer looks the URL up by the MDN's Message-ID.
	rec.Status = "mdn-pending"
	if err := batch(ctx, s.Books, record); err != nil {
		log.Error("as2: bookkeeping failed; answered 503 so the sender retries", "err", err)
		http.Error(w, "as2: temporarily unable to process; retry later", http.StatusServiceUnavailable)
		return
	}
	mdnID, err := s.Books.Evidence(ctx, p.ID, true, transport, msgID, m.Evidence())
	if err != nil {
		log.Error("as2: archiving the MDN failed; answered 503 so the sender retries", "err", err)
		http.Error(w, "as2: temporarily unable to archive; retry later", http.StatusServiceUnavailable)
		return
	}
	rec.MDNID, rec.Status = mdnID, "mdn-sent"
	if rec.MDNMode == MDNAsync {
		rec.Status = "mdn-queued"
	}
	if err := s.Books.Record(ctx, rec); err != nil {
		log.Error("as2: bookkeeping failed", "err", err)
	}
	log.Info("as2: message received", "disposition", rec.Disposition, "payload", rec.MessageID, "mdn", rec.MDNMode, "mdn_id", mdnID, "body_bytes", n)
	if rec.MDNMode == MDNAsync {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := reply(m); err != nil {
		// Not settled: the partner did not get it, and resending the same
		// Message-ID gets this MDN again (replayMDN).
		log.Warn("as2: the response carrying the MDN failed", "mdn_id", mdnID, "err", err)
		_ = s.Books.Event(ctx, mdnID, lifecycle.EventAttemptFailed, fmt.Sprintf("returning the MDN to partner %s in the HTTP response failed: %v; "+
			"the partner's resend of AS2 message %s gets it again", p.ID, err, msgID))
		return
	}
	if err := settleEvidence(ctx, s.Books, mdnID, lifecycle.StatusDelivered, lifecycle.EventDelivered,
		fmt.Sprintf("returned to partner %s in the HTTP response to AS2 message %s (synchronous MDN, disposition %s)", p.ID, msgID, rec.Disposition)); err != nil {
		log.Warn("as2: recording the MDN's delivery failed", "mdn_id", mdnID, "err", err)
	}
}

func (s *Server) replayMDN(ctx context.Context, w http.ResponseWriter, reply func(*MDN) error, p *Partner, prev *Record, log *slog.Logger) {
	detail := fmt.Sprintf("AS2 Message-ID %s received again from partner %s: not processed again; the original MDN (%s) answers", prev.AS2MessageID, p.ID, prev.MDNID)
	log.Warn("as2: duplicate Message-ID; answering with the original MDN", "mdn_id", prev.MDNID)
	if prev.MessageID != "" {
		_ = s.Books.Event(ctx, prev.MessageID, lifecycle.EventDuplicate, detail)
	}
	if prev.MDNMode == MDNAsync {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := s.Books.OpenEvidence(ctx, prev.MDNID)
	if err == nil {
		var e *Entity
		if e, err = ParseEntity(b); err == nil {
			_ = reply(&MDN{Header: e.Header, Body: e.Body})
			return
		}
	}
	log.Error("as2: the original MDN cannot be read; answered 503", "err", err)
	http.Error(w, "as2: temporarily unable to answer; retry later", http.StatusServiceUnavailable)
}

// isMDNAt tells whether a spooled request carries an MDN rather than a payload.
func isMDNAt(e *fileEntity) bool {
	mt, params := e.mediaType()
	if mt == "multipart/report" {
		return true
	}
	if mt != "multipart/signed" {
		return false
	}
	parts, err := partsAt(e.Body, params["boundary"])
	if err != nil || len(parts) == 0 {
		return false
	}
	inner, err := parseFileEntity(parts[0])
	if err != nil {
		return false
	}
	imt, _ := inner.mediaType()
	return imt == "multipart/report"
}

// requestHead renders the request line and headers as received, and the
// blank line: the raw request's evidence is this and the body.
func requestHead(r *http.Request) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.URL.RequestURI(), r.Proto)
	_ = r.Header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// evidence archives inbound evidence from a stream, in memory only when
// the Books cannot stream.
func (s *Server) evidence(ctx context.Context, partner, transport, msgID string, r io.Reader) (string, error) {
	if es, ok := s.Books.(EvidenceStreamer); ok {
		return es.EvidenceFrom(ctx, partner, false, transport, msgID, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return s.Books.Evidence(ctx, partner, false, transport, msgID, b)
}

func quoteShell(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// opened is the result of unwrapping a message.
type opened struct {
	payload     *io.SectionReader
	filename    string
	mic         string
	signedBy    string
	encryption  string
	compressed  bool
	relaxed     string
	modifier    string // "" when processed
	spoolErr    error  // the spool failed: answer 503, nothing was decided
	explanation string
	// A refusal on a limit or on policy: the alert's reason (Alert.Reason),
	// and the HTTP status that answers it when no MDN is asked.
	alert  string
	status int
}

func (o *opened) describe() string {
	var s []string
	if o.encryption != "" {
		s = append(s, "decrypted ("+o.encryption+")")
	} else {
		s = append(s, "not encrypted")
	}
	if o.signedBy != "" {
		s = append(s, "signature verified with "+o.signedBy)
	} else {
		s = append(s, "not signed")
	}
	if o.compressed {
		s = append(s, "decompressed")
	}
	if o.relaxed != "" {
		s = append(s, "tolerated: "+o.relaxed)
	}
	return strings.Join(s, ", ")
}

// open unwraps encryption, signature and compression in whatever order
// the sender nested them, and computes the MIC over the bytes RFC 4130
// names: the signed entity when signed, else the decrypted entity. It works
// on spool files: each layer that changes bytes is written to the next.
func (s *Server) open(top *fileEntity, p *Partner, req MDNRequest, sp *spool) *opened {
	o := &opened{}
	fail := func(mod, format string, args ...any) *opened {
		o.modifier, o.explanation = mod, fmt.Sprintf(format, args...)
		o.payload = nil
		return o
	}
	// refuse is fail for a limit or a policy an operator may have to
	// change: an exception is raised, and without an MDN the HTTP status
	// says it.
	refuse := func(mod, alert string, status int, format string, args ...any) *opened {
		fail(mod, format, args...)
		o.alert, o.status = alert, status
		return o
	}
	// A spool file that cannot be written or read is this server's
	// problem, not the message's: the sender gets 503 and retries.
	ours := func(err error) *opened {
		o.spoolErr = err
		return o
	}
	msgID := textproto.MIMEHeader(top.Header).Get("Message-Id")
	e := top
	// The top entity's bytes for an unsigned MIC: its MIME headers and body.
	micOver := func(ent *fileEntity) func() io.Reader {
		if ent != top {
			return func() io.Reader { return section(ent.Raw) }
		}
		var b bytes.Buffer
		th := textproto.MIMEHeader(top.Header)
		for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
			if v := th.Get(k); v != "" {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		b.WriteString("\r\n")
		return func() io.Reader { return io.MultiReader(bytes.NewReader(b.Bytes()), section(top.Body)) }
	}
	mic := func(content func() io.Reader) (string, error) {
		h, alg := req.micHash()
		if _, err := io.Copy(h, content()); err != nil {
			return "", err
		}
		return b64(h.Sum(nil)) + ", " + alg, nil
	}
	var unsignedMIC func() io.Reader
	for depth := 0; depth < 6; depth++ {
		mt, _ := e.mediaType()
		eh := textproto.MIMEHeader(e.Header)
		switch mt {
		case "application/pkcs7-mime", "application/x-pkcs7-mime":
			der, err := e.decoded(sp)
			if err == nil && eh.Get("Content-Transfer-Encoding") == "" && looksBase64At(der) {
				der, err = decodeCTEStream(sp, []string{"base64"}, der)
			}
			if spoolFailed(err) {
				return ours(err)
			}
			if err != nil {
				return fail(ErrDecryptionFailed, "The body of message %s is not readable CMS: %v.", msgID, err)
			}
			ct, err := streamContentType(der)
			if err != nil {
				return fail(ErrDecryptionFailed, "The body of message %s is not readable CMS: %v.", msgID, err)
			}
			switch {
			case ct.Equal(oidEnvelopedData), ct.Equal(oidAuthEnvelopedData):
				if o.encryption != "" {
					return fail(ErrUnexpectedProcessing, "Message %s is encrypted twice.", msgID)
				}
				var dec *Decrypted
				plain, err := sp.write(func(w io.Writer) error {
					var err error // each attempt (one per recipient key) starts the layer again
					for _, id := range append([]*Identity{s.Identity}, s.RotationKeys...) {
						if dec, err = DecryptStream(der, der.Size(), id.Cert, id.Key.(crypto.Decrypter), w.(*spoolWriter).restart); err == nil {
							break
						}
					}
					return err
				})
				if spoolFailed(err) {
					return ours(err)
				}
				if err != nil {
					return fail(ErrDecryptionFailed, "Message %s could not be decrypted with this server's certificate %s: %v. Encrypt to the certificate `wharf as2 cert` prints.", msgID, describeCert(s.Identity.Cert), err)
				}
				o.encryption = dec.Algorithm + ", " + dec.KeyWrap
				if e, err = parseFileEntity(plain); err != nil {
					return fail(ErrDecryptionFailed, "The decrypted content of message %s is not a MIME entity: %v.", msgID, err)
				}
				continue
			case ct.Equal(oidCompressedData):
				// RFC 5402 compresses once, before or after signing.
				if o.compressed {
					return fail(ErrUnexpectedProcessing, "Message %s is compressed twice.", msgID)
				}
				if unsignedMIC == nil && o.signedBy == "" {
					unsignedMIC = micOver(e)
				}
				// Inside a verified signature the partner's own key vouches
				// for the compressed bytes: only MaxDecompressed bounds them.
				// Otherwise anyone may have made them: the ratio bounds them
				// too, and unless the partner may send unsigned compressed
				// content, what they expand to must be a signed entity,
				// checked on its first bytes.
				authenticated := o.signedBy != ""
				limit, ratio, byRatio := s.decompressLimit(p, authenticated, der.Size())
				mustSign := !authenticated && !p.AllowUnsignedCompressed
				plain, err := sp.write(func(w io.Writer) error {
					if mustSign {
						w = &signedHead{w: w}
					}
					return DecompressStream(section(der), w, limit)
				})
				if spoolFailed(err) {
					return ours(err)
				}
				if errors.Is(err, errUnsignedCompressed) {
					return refuse(ErrInsufficientSecurity, alertPolicy, http.StatusForbidden, "%s", unsignedCompressed(msgID, p))
				}
				if errors.Is(err, ErrDecompressLimit) && byRatio {
					return refuse(ErrDecompressionFailed, alertLimit, http.StatusRequestEntityTooLarge,
						"Message %s was refused: its compressed content (%d bytes, not covered by a verified signature) expands more than %d times, partner %s's limit (partners[].as2.max_expansion); decompression stopped at %d bytes.",
						msgID, der.Size(), ratio, p.ID, limit)
				}
				if errors.Is(err, ErrDecompressLimit) {
					return refuse(ErrDecompressionFailed, alertLimit, http.StatusRequestEntityTooLarge,
						"Message %s was refused: its compressed content expands beyond %d bytes (%s), partner %s's limit (partners[].as2.max_decompressed_mb); decompression stopped there.",
						msgID, limit, mib(limit), p.ID)
				}
				if err != nil {
					return fail(ErrDecompressionFailed, "Message %s could not be decompressed: %v.", msgID, err)
				}
				o.compressed = true
				if e, err = parseFileEntity(plain); err != nil {
					return fail(ErrDecompressionFailed, "The decompressed content of message %s is not a MIME entity: %v.", msgID, err)
				}
				continue
			default:
				return fail(ErrUnexpectedProcessing, "Message %s carries CMS content type %v, which this server does not accept (use detached multipart/signed).", msgID, ct)
			}
		case "multipart/signed":
			if o.signedBy != "" {
				return fail(ErrUnexpectedProcessing, "Message %s is signed twice.", msgID)
			}
			v, signed, err := verifySignedAt(e, p.Certs, s.now(), sp)
			if spoolFailed(err) {
				return ours(err)
			}
			var expired *CertExpiredError
			if errors.As(err, &expired) {
				return fail(ErrAuthenticationFailed, "Message %s is signed with partner %s's %s, which expired on %s. Ask the partner for its current certificate and add it with: wharf partner add %s --as2-cert NEW_CERT_PEM.", msgID, p.ID, describeCert(expired.Cert), expired.Cert.NotAfter.UTC().Format("2006-01-02"), p.ID)
			}
			if err != nil {
				var mism *pkcs7.MessageDigestMismatchError
				if errors.As(err, &mism) {
					return fail(ErrIntegrityCheckFailed, "The signed content of message %s was altered: its digest does not match the signature.", msgID)
				}
				return fail(ErrAuthenticationFailed, "The signature of message %s does not verify against partner %s's certificates: %v. If the partner changed its certificate, add the new one with: wharf partner add %s --as2-cert NEW_CERT_PEM.", msgID, p.ID, err, p.ID)
			}
			if s.now().After(v.Signer.NotAfter) {
				return fail(ErrAuthenticationFailed, "Message %s is signed with partner %s's %s, which expired on %s. Ask the partner for its current certificate and add it with: wharf partner add %s --as2-cert NEW_CERT_PEM.", msgID, p.ID, describeCert(v.Signer), v.Signer.NotAfter.UTC().Format("2006-01-02"), p.ID)
			}
			o.signedBy, o.relaxed = describeCert(v.Signer), v.Relaxed
			if d, alg := v.digests[micCryptoHash(req)], micAlg(req); d != nil {
				o.mic = b64(d) + ", " + alg
			} else if o.mic, err = mic(func() io.Reader { return section(signed) }); err != nil {
				return ours(err)
			}
			if e, err = parseFileEntity(signed); err != nil {
				return fail(ErrUnexpectedProcessing, "The signed content of message %s is not a MIME entity: %v.", msgID, err)
			}
			continue
		}
		// The payload.
		if unsignedMIC == nil && o.signedBy == "" {
			unsignedMIC = micOver(e)
		}
		data, err := e.decoded(sp)
		if spoolFailed(err) {
			return ours(err)
		}
		if err != nil {
			return fail(ErrUnexpectedProcessing, "The payload of message %s cannot be decoded: %v.", msgID, err)
		}
		o.payload = data
		if _, dp, err := mime.ParseMediaType(eh.Get("Content-Disposition")); err == nil {
			o.filename = safeName(dp["filename"])
		}
		break
	}
	if o.payload == nil && o.modifier == "" {
		return fail(ErrUnexpectedProcessing, "Message %s nests too many layers.", msgID)
	}
	if o.mic == "" && unsignedMIC != nil {
		var err error
		if o.mic, err = mic(unsignedMIC); err != nil {
			return ours(err)
		}
	}
	if o.compressed && o.signedBy == "" && !p.AllowUnsignedCompressed {
		return refuse(ErrInsufficientSecurity, alertPolicy, http.StatusForbidden, "%s", unsignedCompressed(msgID, p))
	}
	if p.RequireSigned && o.signedBy == "" {
		return fail(ErrInsufficientSecurity, "Message %s is not signed; partner %s must sign (the partner's as2.require_signed setting).", msgID, p.ID)
	}
	if p.RequireEncrypted && o.encryption == "" {
		return fail(ErrInsufficientSecurity, "Message %s is not encrypted; partner %s must encrypt to this server's certificate (the partner's as2.require_encrypted setting).", msgID, p.ID)
	}
	return o
}

// Alert reasons.
const (
	alertLimit  = "as2_limit"
	alertPolicy = "as2_policy"
)

// unsignedCompressed explains the refusal of compressed content that no
// signature covers.
func unsignedCompressed(msgID string, p *Partner) string {
	return fmt.Sprintf("Message %s carries compressed content that no verified signature covers: partner %s must sign what it compresses "+
		"(compress then sign, or sign then compress), or be allowed to send it unsigned (the partner's as2.allow_unsigned_compressed setting).", msgID, p.ID)
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// errUnsignedCompressed: decompressed content is not a signed entity.
var errUnsignedCompressed = errors.New("compressed content is not a signed entity")

// signedHead passes decompressed bytes on while checking that they begin
// with a MIME header block whose Content-Type is multipart/signed: the
// first bytes decide, and decompression stops there if not.
type signedHead struct {
	w    io.Writer
	head []byte
	ok   bool
}

func (s *signedHead) Write(p []byte) (int, error) {
	if !s.ok {
		s.head = append(s.head, p[:min(len(p), maxHeaderBlock-len(s.head))]...)
		end, _ := headerEnd(s.head)
		if end < 0 && len(s.head) >= maxHeaderBlock {
			return 0, fmt.Errorf("%w: no MIME header in the first %d bytes", errUnsignedCompressed, maxHeaderBlock)
		}
		if end >= 0 {
			e, err := ParseEntity(s.head)
			if err != nil {
				return 0, fmt.Errorf("%w: %v", errUnsignedCompressed, err)
			}
			if mt, _ := e.MediaType(); mt != "multipart/signed" {
				return 0, fmt.Errorf("%w: it is %s", errUnsignedCompressed, mt)
			}
			s.ok, s.head = true, nil
		}
	}
	return s.w.Write(p)
}

// spoolFailed tells whether err comes from a spool file (a full disk, a
// removed folder) rather than from the message.
func spoolFailed(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

// micAlg is the MIC algorithm's name for the MDN.
func micAlg(req MDNRequest) string {
	_, alg := req.micHash()
	return alg
}

// micCryptoHash is the MIC algorithm as a crypto.Hash.
func micCryptoHash(req MDNRequest) crypto.Hash {
	switch micAlg(req) {
	case "sha1":
		return crypto.SHA1
	case "sha-256":
		return crypto.SHA256
	case "sha-384":
		return crypto.SHA384
	case "sha-512":
		return crypto.SHA512
	}
	return 0
}

// safeName keeps the last path element of a sender's file name.
func safeName(s string) string {
	s = strings.ReplaceAll(s, "\\", "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if s == "." || s == ".." {
		return ""
	}
	return s
}
