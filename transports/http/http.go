// Package http is Wharf's HTTP transport in both directions.
//
// Inbound (Inbound, mounted at POST /api/v1/inbound/{partner}): a partner
// or an internal system posts a file, or canonical JSON (Content-Type
// application/json: one JSON document or JSON Lines), with
// "Authorization: Bearer TOKEN". The body is archived, and its processing
// committed, before the 201 answer: a client that got no answer posts
// again, with the same Idempotency-Key header to be recorded once.
//
// Outbound (Webhook, a delivery Sender): the archived bytes are POSTed to
// the partner's URL, signed (see Sign for the header format). 2xx is
// delivered; 5xx, 408, 429, connection errors and timeouts are retried with
// backoff; any other 4xx fails at once (transports.ErrRejected).
package http

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	stdhttp "net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/defender"
	"github.com/wharfedi/wharf/transports"
)

// Header names of signed webhook requests.
const (
	HeaderSignature = "X-Wharf-Signature" // v1=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))
	HeaderTimestamp = "X-Wharf-Timestamp" // Unix seconds, part of the signed text
	HeaderMessage   = "X-Wharf-Message-Id"
	HeaderPartner   = "X-Wharf-Partner"
	HeaderFilename  = "X-Wharf-Filename"
	HeaderSHA256    = "X-Wharf-Content-SHA256"
	HeaderIdemKey   = "Idempotency-Key" // the same on every attempt at one message
)

// Sign returns the X-Wharf-Signature value for a body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature: a webhook request's signature does not verify.
var ErrBadSignature = errors.New("http: bad webhook signature")

// Verify checks a webhook request's signature and that its timestamp is
// within tolerance of now (receivers should reject replays of old requests).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d is outside the tolerance", ErrBadSignature, ts)
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Inbound is the http.Handler for POST /api/v1/inbound/{partner}.
type Inbound struct {
	Receiver transports.Receiver
	// Authorized tells whether token is the partner's inbound token (false
	// for partners without HTTP inbound). Compare in constant time.
	Authorized func(partner, token string) bool
	// MaxBytes is the partner's size limit (default 100 MiB).
	MaxBytes func(partner string) int64
	// Disabled, when set, tells whether an operator disabled the partner:
	// its requests, even with the right token, are refused with 403; an
	// error (the lookup failed) is answered 503.
	Disabled func(ctx context.Context, partner string) (bool, error)
	// Guard, when set, refuses addresses that failed to authenticate too
	// often (internal/defender), with 429 and Retry-After, before their
	// token is looked at.
	Guard Guard
	// Throttle, when set, applies the partner's rate limit once the
	// partner is authenticated and before its body is read: a refusal
	// (wait > 0, in whole seconds) is answered 429 with Retry-After and
	// why, and nothing is archived.
	Throttle transports.Throttle
	Log      *slog.Logger
}

// Guard locks out addresses after repeated failed authentications.
type Guard interface {
	Locked(addr string) (bool, time.Duration)
	Fail(addr string) bool
}

// TokenMatches compares a presented token with the expected one, or with
// the expected token's sha256 (hex), in constant time.
func TokenMatches(presented, token, tokenSHA256 string) bool {
	if presented == "" {
		return false
	}
	if tokenSHA256 != "" {
		sum := sha256.Sum256([]byte(presented))
		return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(tokenSHA256))) == 1
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(token)) == 1
}

// Archived is the answer (201) to a file Wharf archived.
type Archived struct {
	ID       string `json:"id" doc:"the archived message's ID"`
	Partner  string `json:"partner"`
	Filename string `json:"filename,omitempty" doc:"from ?filename=, X-Wharf-Filename or Content-Disposition"`
}

// answer is a refusal: {"error": "..."}, the shape of every API error.
type answer struct {
	Error string `json:"error"`
}

func reply(w stdhttp.ResponseWriter, code int, a any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

// ServeHTTP implements http.Handler.
func (h *Inbound) ServeHTTP(w stdhttp.ResponseWriter, r *stdhttp.Request) {
	partner := r.PathValue("partner")
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if h.Guard != nil {
		if locked, wait := h.Guard.Locked(r.RemoteAddr); locked {
			secs := defender.Seconds(wait)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			reply(w, stdhttp.StatusTooManyRequests, answer{Error: fmt.Sprintf("too many failed authentications from this address: try again in %d s", secs)})
			return
		}
	}
	if partner == "" || h.Authorized == nil || !h.Authorized(partner, token) {
		if h.Guard != nil && h.Guard.Fail(r.RemoteAddr) && h.Log != nil {
			h.Log.Warn("http inbound: address locked out after repeated failed authentications", "remote", r.RemoteAddr, "partner", partner)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="wharf"`)
		reply(w, stdhttp.StatusUnauthorized, answer{Error: "a valid bearer token for this partner is required"})
		return
	}
	if h.Disabled != nil {
		off, err := h.Disabled(r.Context(), partner)
		switch {
		case err != nil:
			if h.Log != nil {
				h.Log.Error("http inbound: cannot look up the partner; answered 503", "partner", partner, "err", err)
			}
			w.Header().Set("Retry-After", "30")
			reply(w, stdhttp.StatusServiceUnavailable, answer{Error: "cannot check the partner now; nothing was recorded, post again"})
			return
		case off:
			if h.Log != nil {
				h.Log.Warn("http inbound: refused, the partner is disabled", "partner", partner, "remote", r.RemoteAddr)
			}
			reply(w, stdhttp.StatusForbidden, answer{Error: "partner " + partner + " is disabled on this server: nothing was recorded; ask its operators to enable it"})
			return
		}
	}
	if h.Throttle != nil {
		if wait, why := h.Throttle(r.Context(), partner); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			reply(w, stdhttp.StatusTooManyRequests, answer{Error: why + ": nothing was recorded; post again after Retry-After"})
			return
		}
	}
	limit := int64(100 << 20)
	if h.MaxBytes != nil {
		if n := h.MaxBytes(partner); n > 0 {
			limit = n
		}
	}
	name := inboundName(r)
	body := stdhttp.MaxBytesReader(w, r.Body, limit)
	var rd io.Reader = body
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || ct == "application/x-ndjson" || ct == "application/jsonl" {
		// Canonical JSON is checked before it is archived: a malformed
		// document is refused (400) instead of archived and failed later.
		b, err := io.ReadAll(body)
		if err != nil {
			tooLarge(w, err, limit)
			return
		}
		if err := validJSON(b); err != nil {
			reply(w, stdhttp.StatusBadRequest, answer{Error: "not JSON or JSON Lines: " + err.Error()})
			return
		}
		if name == "" {
			name = "canonical.jsonl"
		}
		rd = bytes.NewReader(b)
	}
	idem := ""
	if k := r.Header.Get(HeaderIdemKey); k != "" {
		if len(k) > 200 {
			reply(w, stdhttp.StatusBadRequest, answer{Error: "Idempotency-Key longer than 200 characters"})
			return
		}
		idem = "http:" + k
	}
	id, err := h.Receiver.Receive(r.Context(), transports.Incoming{
		Partner: partner, Transport: "http", RemoteName: name, RemoteAddr: r.RemoteAddr, IdempotencyKey: idem, Awaited: true,
	}, rd)
	if err != nil {
		var mbe *stdhttp.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			tooLarge(w, err, limit)
		case errors.Is(err, transports.ErrRejected):
			reply(w, stdhttp.StatusUnprocessableEntity, answer{Error: err.Error()})
		default:
			if h.Log != nil {
				h.Log.Error("http inbound: not archived", "partner", partner, "err", err)
			}
			w.Header().Set("Retry-After", "30")
			reply(w, stdhttp.StatusServiceUnavailable, answer{Error: "not archived; nothing was recorded, post again"})
		}
		return
	}
	if h.Log != nil {
		h.Log.Info("http inbound archived", "partner", partner, "message", id, "file", name)
	}
	reply(w, stdhttp.StatusCreated, Archived{ID: id, Partner: partner, Filename: name})
}

func tooLarge(w stdhttp.ResponseWriter, err error, limit int64) {
	var mbe *stdhttp.MaxBytesError
	if errors.As(err, &mbe) {
		reply(w, stdhttp.StatusRequestEntityTooLarge, answer{Error: fmt.Sprintf("larger than this partner's limit of %d bytes", limit)})
		return
	}
	reply(w, stdhttp.StatusBadRequest, answer{Error: "reading the body: " + err.Error()})
}

// inboundName takes the file name from ?filename=, X-Wharf-Filename or
// Content-Disposition, reduced to a base name.
func inboundName(r *stdhttp.Request) string {
	n := r.URL.Query().Get("filename")
	if n == "" {
		n = r.Header.Get(HeaderFilename)
	}
	if n == "" {
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			n = p["filename"]
		}
	}
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	if n == "." || n == "/" {
		return ""
	}
	return n
}

// validJSON accepts one JSON value or JSON Lines (several values).
func validJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			if n == 0 {
				return errors.New("empty body")
			}
			return nil
		}
		if err != nil {
			return err
		}
		n++
	}
}

// Outgoing is one document to post.
type Outgoing struct {
	MessageID, Partner, Name, SHA256 string
	IdempotencyKey                   string // the same on every attempt at one message
	Open                             func(ctx context.Context) (io.ReadCloser, error)
	// ContentType, when set, is the body's type (else guessed from Name);
	// Header are further headers (CloudEvents' ce-* in binary mode).
	ContentType string
	Header      map[string]string
}

// Webhook posts outbound documents to a URL (the delivery engine's "http"
// route adapts it to a delivery.Sender).
type Webhook struct {
	URL     string
	Secret  []byte
	Timeout time.Duration // per attempt; default 30 s
	Client  *stdhttp.Client
	Now     func() time.Time
}

// Send posts d's bytes, signed; detail is for the message's history.
func (wh *Webhook) Send(ctx context.Context, d Outgoing) (detail string, err error) {
	timeout := wh.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc, err := d.Open(ctx)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(rc) // signed, then sent: documents are small
	rc.Close()
	if err != nil {
		return "", err
	}
	now := time.Now
	if wh.Now != nil {
		now = wh.Now
	}
	ts := now().Unix()
	req, err := stdhttp.NewRequestWithContext(ctx, stdhttp.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: webhook %s: %w", transports.ErrRejected, wh.URL, err)
	}
	ct := "application/octet-stream"
	switch strings.ToLower(path.Ext(d.Name)) {
	case ".json":
		ct = "application/json"
	case ".jsonl", ".ndjson":
		ct = "application/x-ndjson"
	case ".csv":
		ct = "text/csv"
	case ".edi", ".x12", ".txt":
		ct = "application/edi-x12"
	}
	if d.ContentType != "" {
		ct = d.ContentType
	}
	req.Header.Set("Content-Type", ct)
	for k, v := range d.Header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "wharf")
	req.Header.Set(HeaderMessage, d.MessageID)
	req.Header.Set(HeaderPartner, d.Partner)
	req.Header.Set(HeaderFilename, d.Name)
	if d.SHA256 != "" {
		req.Header.Set(HeaderSHA256, d.SHA256)
	}
	req.Header.Set(HeaderIdemKey, d.IdempotencyKey)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(wh.Secret, ts, body))
	c := wh.Client
	if c == nil {
		c = stdhttp.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("webhook %s: %w", wh.URL, err) // connection errors and timeouts: retried
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return fmt.Sprintf("POST %s: %s (%d bytes)", wh.URL, resp.Status, len(body)), nil
	case resp.StatusCode == stdhttp.StatusRequestTimeout || resp.StatusCode == stdhttp.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", fmt.Errorf("webhook %s: %s: %s", wh.URL, resp.Status, bytes.TrimSpace(snippet))
	default:
		return "", fmt.Errorf("%w: webhook %s: %s: %s", transports.ErrRejected, wh.URL, resp.Status, bytes.TrimSpace(snippet))
	}
}
