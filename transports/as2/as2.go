// Package as2 is Wharf's AS2 transport (RFC 4130): the receiving endpoint
// (an http.Handler for POST /as2) and the sending client, with their
// message disposition notifications (MDNs, RFC 3798 as profiled by 4130).
//
// Standards followed: RFC 4130 (AS2), RFC 5652 (CMS), RFC 5083/5084
// (AuthEnvelopedData, AES-GCM), RFC 3274 and 5402 (compression), RFC 8551
// (S/MIME 4.0 media types), RFC 2046 (multipart). Where the package is
// lenient, on purpose, because real peers do it:
//   - multipart framing with bare LF as well as CRLF; a signature over the
//     CRLF form of a bare-LF part verifies (OpenSSL without -crlfeol);
//   - a signed MDN whose signature omits the signed part's final CRLF
//     verifies and the deviation is logged (npm libas2);
//   - binary or base64 bodies, declared or not (libas2 sends base64 with
//     no Content-Transfer-Encoding);
//   - BER (indefinite lengths, chunked OCTET STRINGs) anywhere in CMS
//     (BouncyCastle streams it);
//   - application/x-pkcs7-* media types as well as application/pkcs7-*.
//
// MIC and signatures cover exact bytes: the package never re-serialises a
// MIME entity it verifies. Signing and signature checks use
// github.com/smallstep/pkcs7 with the digest set per call (never its
// package globals); EnvelopedData, AuthEnvelopedData and CompressedData
// are Wharf's own code (cms.go) because that library's AES-GCM output is
// malformed and it has no AES-192 and no CompressedData.
//
// Memory: neither side holds a message whole. The endpoint spools the
// body and each layer it decodes, decrypts or decompresses (spool.go,
// cmsstream.go, gcmstream.go; layers up to 1 MiB stay in memory), and the
// client streams the payload through signing and encryption into the HTTP
// body (sendstream.go).
//
// Durability: the endpoint answers (a sync MDN or 200 for async) only after
// the raw request, the payload and the MDN are archived and the payload's
// processing is committed, through the Receiver and Books seams; a failure
// there answers 503 so the sender retries the same Message-ID, which the
// archive's idempotency keys make safe.
package as2

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// Transport names recorded with archived messages.
const (
	// TransportAS2 is a payload received or sent over AS2.
	TransportAS2 = "as2"
	// TransportRaw is the raw inbound request (headers and body): evidence,
	// never processed as a document.
	TransportRaw = "as2-raw"
	// TransportMDN is an MDN kept as evidence (sent synchronously, or
	// received): never processed, never delivered.
	TransportMDN = "as2-mdn"
	// TransportMDNAsync is an MDN Wharf owes a partner asynchronously: the
	// deliverer POSTs it to the partner's Receipt-Delivery-Option URL.
	TransportMDNAsync = "as2-mdn-async"
	// TransportMDNIn is an MDN a partner returned for what Wharf sent:
	// evidence, linked to the payload by its ParentID.
	TransportMDNIn = "as2-mdn-in"
)

// Identity is Wharf's own AS2 name, certificate and key (signing MDNs and
// messages, decrypting what partners encrypt to it).
type Identity struct {
	AS2ID string
	Cert  *x509.Certificate
	Key   crypto.Signer // an RSA private key; it must also be a crypto.Decrypter
}

// MDNMode is how a partner wants receipts for what Wharf sends.
type MDNMode string

// MDN modes.
const (
	MDNSync  MDNMode = "sync"
	MDNAsync MDNMode = "async"
	MDNNone  MDNMode = "none"
)

// Partner is what the AS2 code needs to know about a trading partner.
type Partner struct {
	ID    string // Wharf's partner ID
	AS2ID string // the partner's AS2 name (AS2-From of what it sends)
	// Certs verify the partner's signatures and encrypt to it. Several may be
	// valid during a rotation; Wharf encrypts to the newest valid one.
	Certs []*x509.Certificate

	// Receiving policy.
	RequireSigned    bool // unsigned messages get insufficient-message-security
	RequireEncrypted bool // unencrypted messages get insufficient-message-security
	// AllowUnsignedCompressed accepts compressed content that no verified
	// signature covers (RFC 5402 allows compression without signing). By
	// default it is refused (insufficient-message-security), so that only
	// the partner's own key can make Wharf inflate anything: compressed
	// content must be inside the signature (compressed, then signed), or
	// hold a signed entity (signed, then compressed).
	AllowUnsignedCompressed bool

	// Receiving limits; 0 takes the Server's (MaxBody, MaxDecompressed,
	// MaxExpansion).
	//
	// MaxBody bounds the request body: it is spooled up to this many bytes
	// and answered 413 past them.
	MaxBody int64
	// MaxDecompressed bounds what one CompressedData layer expands to;
	// decompression stops there (decompression-failed).
	MaxDecompressed int64
	// MaxExpansion bounds the expansion ratio (output bytes per compressed
	// byte) of compressed content that no verified signature covers yet
	// (signed, then compressed; or unsigned when allowed). Content inside a
	// verified signature is bounded by MaxDecompressed only.
	MaxExpansion int

	// Sending.
	URL      string  // the partner's AS2 endpoint
	Sign     bool    // sign with SHA-256
	Cipher   Cipher  // "" sends unencrypted
	KeyWrap  KeyWrap // RSA PKCS#1 v1.5 (default) or OAEP
	Compress bool    // compress before signing
	// Base64 sends the payload entity and an encrypted body base64-encoded
	// (CRLF lines) instead of binary, for receivers whose MIME parsers
	// rewrite line ends before checking a signature (OpenSSL's) or read
	// bodies as text (npm libas2's).
	Base64    bool
	MDN       MDNMode // sync (default), async, none
	SignedMDN bool    // ask for a signed MDN (and require it)
	// AsyncMDNURL is Wharf's own public /as2 URL the partner posts async MDNs to.
	AsyncMDNURL string
	// MDNTimeout: an async MDN not received by then is an exception.
	MDNTimeout time.Duration
}

// ErrUnknownPartner: no partner has this AS2 name.
var ErrUnknownPartner = errors.New("unknown AS2 partner")

// ErrPartnerDisabled: the partner is known but its operators disabled it;
// the endpoint refuses its messages as it does an unknown partner's.
var ErrPartnerDisabled = errors.New("AS2 partner disabled")

// Directory finds partners by AS2 name.
type Directory interface {
	// ByAS2ID returns the partner whose AS2 name is id, ErrUnknownPartner,
	// or ErrPartnerDisabled (wrapped) for a partner that may not send now.
	ByAS2ID(ctx context.Context, id string) (*Partner, error)
}

// Directions of a Record.
const (
	Inbound  = "in"
	Outbound = "out"
)

// StatusPending is the Record.Status of an outbound record sent and
// waiting for its async MDN. An MDN then settles it as delivered (positive
// MDN with a matching MIC, or no MDN asked) or failed (negative MDN, MIC
// mismatch, bad signature, timeout): the same words as the payload's
// message status, lifecycle.StatusDelivered and lifecycle.StatusFailed.
const StatusPending = "pending"

// Record is the bookkeeping of one AS2 message (either direction): which
// archived messages hold its raw bytes, payload and MDN, and its outcome.
type Record struct {
	PartnerID    string
	AS2MessageID string
	Direction    string // Inbound or Outbound
	MessageID    string // the archived payload
	RawID        string // the archived raw request (inbound) or sent body (outbound)
	MDNID        string // the archived MDN (sent for inbound, received for outbound)
	MIC          string // "base64, alg": computed (inbound) or expected (outbound)
	Disposition  string // "processed" or the error modifier
	MDNMode      MDNMode
	MDNURL       string // async: where the MDN goes
	Status       string
	Deadline     time.Time // async MDN expected by then (outbound)
	SignedMDN    bool      // outbound: only a signed MDN settles it
}

// RecordKey identifies a Record, for Books.Lookup.
type RecordKey struct {
	// PartnerID is the partner's ID (Record.PartnerID).
	PartnerID string
	// AS2MessageID is the AS2 Message-ID as sent, angle brackets included.
	AS2MessageID string
	// Direction is Inbound or Outbound.
	Direction string
}

// MDNEvidenceParams is an MDN received for an outbound message, for
// Books.MDNEvidence.
type MDNEvidenceParams struct {
	// PartnerID is the partner that sent the MDN.
	PartnerID string
	// AS2MessageID is the Message-ID of the outbound AS2 message the MDN
	// answers (its original message ID).
	AS2MessageID string
	// ParentID is the archived outbound payload the MDN settles.
	ParentID string
	// MDN is the MDN's evidence bytes (MDN.Evidence).
	MDN []byte
}

// Books is where the AS2 code keeps evidence and bookkeeping. Wharf wires
// it to the archive and the store; tests use a map.
type Books interface {
	// Evidence archives raw AS2 bytes (a request or an MDN) for the partner
	// under an idempotency key derived from the AS2 Message-ID and kind, and
	// returns the archived message's ID.
	Evidence(ctx context.Context, partner string, outbound bool, transport, as2MessageID string, b []byte) (string, error)
	// OpenEvidence returns archived bytes.
	OpenEvidence(ctx context.Context, id string) ([]byte, error)
	// Lookup returns the record, or nil and no error when there is none.
	Lookup(ctx context.Context, k *RecordKey) (*Record, error)
	// Record creates or replaces a record.
	Record(ctx context.Context, r *Record) error
	// Event appends to an archived message's history.
	Event(ctx context.Context, messageID string, kind lifecycle.EventKind, detail string) error

	// Sending (Client). MDNEvidence archives an MDN received for the
	// outbound payload p.ParentID, linked to it, once per AS2 Message-ID, and
	// returns the archived message's ID.
	MDNEvidence(ctx context.Context, p *MDNEvidenceParams) (string, error)
	// Await durably records that r (outbound, async MDN) waits for its MDN
	// until r.Deadline, and sets the payload's status to lifecycle.StatusAwaitingMDN
	// with detail in its history, in one transaction.
	Await(ctx context.Context, r *Record, detail string) error
	// Awaited returns the waiting entry of an outbound message (MessageID,
	// MIC, SignedMDN, Deadline), or nil and no error when none waits.
	Awaited(ctx context.Context, partner, as2MessageID string) (*Record, error)
	// Settle records an outbound message's outcome in one transaction: r
	// (its MDN, disposition and status) and the payload's status
	// (lifecycle.StatusDelivered or StatusFailed) with detail in its history
	// (an event of the same kind). With
	// async, it first takes the waiting entry and returns ErrNotAwaited
	// when none is left (a repeated MDN, or the timeout came first).
	Settle(ctx context.Context, r *Record, async bool, status lifecycle.Status, detail string) error
}

// EvidenceStreamer is implemented by Books that archive evidence from a
// stream in constant memory (Wharf's archive does). The receiving endpoint
// archives raw requests through it; Books without it get the request in
// memory through Evidence.
type EvidenceStreamer interface {
	// EvidenceFrom is Evidence with the bytes read from r.
	EvidenceFrom(ctx context.Context, partner string, outbound bool, transport, as2MessageID string, r io.Reader) (string, error)
}

// EvidenceSettler is implemented by Books that give archived evidence its
// final status once what it proves is settled (Wharf's do; see package
// lifecycle): a raw request becomes processed when its payload is archived
// (rejected when the endpoint refused it), an MDN Wharf returned
// synchronously delivered once the response carrying it is written, an MDN
// a partner returned processed once it is matched to what Wharf sent.
// Books without it keep evidence as it was archived; the event is still
// appended (Books.Event).
type EvidenceSettler interface {
	// SettleEvidence moves the archived evidence id to status and appends
	// an event of kind with detail, in one transaction.
	SettleEvidence(ctx context.Context, id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error
}

// Writes are bookkeeping writes that a Batcher commits together.
type Writes interface {
	// Record is Books.Record.
	Record(r *Record) error
	// Event is Books.Event.
	Event(messageID string, kind lifecycle.EventKind, detail string) error
	// SettleEvidence is settleEvidence: the evidence's final status where
	// the Books keep statuses, and the event.
	SettleEvidence(id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error
}

// Batcher is implemented by Books that commit several bookkeeping writes
// in one transaction (Wharf's do). The receiving endpoint records what it
// made of a request (the payload's event, the raw request's outcome, the
// record the MDN is sent under) in one batch: a synchronous MDN waits for
// each commit in turn, so three of them were three waits for the store.
type Batcher interface {
	// Batch runs fn and commits the writes it made when fn returns nil;
	// none of them when it fails.
	Batch(ctx context.Context, fn func(Writes) error) error
}

// batch runs fn with b's Batcher, or with b's own calls, each committing
// by itself, for Books without one.
func batch(ctx context.Context, b Books, fn func(Writes) error) error {
	if bt, ok := b.(Batcher); ok {
		return bt.Batch(ctx, fn)
	}
	return fn(booksWrites{ctx, b})
}

// booksWrites are a Books' own calls as Writes.
type booksWrites struct {
	ctx context.Context
	b   Books
}

func (w booksWrites) Record(r *Record) error { return w.b.Record(w.ctx, r) }
func (w booksWrites) Event(id string, kind lifecycle.EventKind, detail string) error {
	return w.b.Event(w.ctx, id, kind, detail)
}
func (w booksWrites) SettleEvidence(id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error {
	return settleEvidence(w.ctx, w.b, id, status, kind, detail)
}

// settleEvidence records what became of evidence: its final status where
// the Books keep statuses, else only the event.
func settleEvidence(ctx context.Context, b Books, id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error {
	if id == "" {
		return nil
	}
	if es, ok := b.(EvidenceSettler); ok {
		return es.SettleEvidence(ctx, id, status, kind, detail)
	}
	return b.Event(ctx, id, kind, detail)
}

// Alerter is implemented by Books that raise an exception for an operator
// (Wharf's do: the exceptions queue). The receiving endpoint raises one
// when it refuses a message on a limit or on policy that an operator may
// have to change (a decompression bound, unsigned compressed content).
type Alerter interface {
	Alert(ctx context.Context, a *Alert) error
}

// Alert is an exception raised by the AS2 endpoint.
type Alert struct {
	Reason    string // "as2_limit" (a size or ratio bound) or "as2_policy"
	PartnerID string
	// MessageID is the archived evidence the alert is about (the raw request).
	MessageID string
	Detail    string // what happened, which partner, which limit, what to change
	// DedupeKey: while an alert with this key is open, another is a repeat.
	DedupeKey string
}

// ErrNotAwaited: no async MDN is awaited for this partner and Message-ID.
var ErrNotAwaited = errors.New("no MDN is awaited for this message")
