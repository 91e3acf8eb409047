// Package lifecycle is the one place that names the states of a message
// and the events of its history: every message status Wharf writes to
// messages.status, the transitions between them, every event kind appended
// to a message's history (message_events.kind), the acknowledgment states
// of the X12 groups Wharf sends, and the one marker for failures that
// retrying cannot fix (ErrPermanent).
//
// It is a leaf: it imports only the standard library, so every stage
// (archive, process, delivery, gateway, transports, store, web, jobs) can
// use it.
//
// # The flow
//
// Every message starts in the archive (archive.Put) as StatusReceived, or
// as StatusWaiting for documents Wharf generates for a partner.
//
//	inbound:  received ──process──▶ processed | rejected | unrecognized
//	                                 └──replay (re-process)──┘
//
//	outbound: received | waiting ──▶ delivered    (delivery engine, partner fetch, SFTP push, AS2 MDN)
//	                             ──▶ removed      (partner deleted it unfetched)
//	                             ──▶ dead_letter  (no attempts left, or a permanent failure) ──replay──▶ received
//	                             ──▶ awaiting_mdn ──▶ delivered | failed | dead_letter
//	                             ──▶ failed       (negative or unusable AS2 MDN)
//
// Replaying a dead letter re-runs its delivery on the same message (back
// to StatusReceived, same idempotency key): a route still broken
// dead-letters it again under the same exception, so repeated replays add
// no messages, exceptions or stuck documents. Replaying any other outbound
// message does not move it: delivery.Replay archives a new outbound message
// (StatusReceived, ParentID = the original), which goes through the flow
// again. Replaying an inbound message re-runs its processing on the same
// message, which is the only way out of the inbound terminal statuses.
//
// AS2 evidence is archived as StatusReceived, never processed as a
// document nor delivered by a job, and settled by the AS2 code once what it
// proves is settled:
//
//	raw request (as2-raw, inbound):   received ──▶ processed (payload archived) | rejected (refused; a negative MDN said why)
//	sync MDN Wharf returned (as2-mdn): received ──▶ delivered (the HTTP response carrying it was written)
//	MDN a partner returned (as2-mdn-in): received ──▶ processed (matched to the message Wharf sent)
//
// An async MDN Wharf owes a partner (as2-mdn-async) is not evidence in that
// sense: it is delivered like any outbound message. Evidence still
// received (archived before evidence was settled, or its settlement failed)
// is never a stuck document: nothing waits on it.
//
// CanTransition describes the flow the code implements; the store does not
// (yet) refuse other moves, but it refuses statuses not listed here.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"
)

// Status is a message's status (messages.status, store.Message.Status).
type Status string

// Message statuses. The direction says which messages can have it.
const (
	// StatusReceived: archived, nothing else done yet. The initial status
	// of every message archive.Put records (its default). Inbound: the
	// processing job has not finished. Outbound: the delivery job has not
	// finished, or (transports the partner fetches from) the partner has
	// not fetched it; the gateway lists it as waiting. AS2 evidence: not
	// settled yet (see the package documentation). Not terminal. Set by:
	// archive.Put.
	StatusReceived Status = "received"

	// StatusWaiting (outbound): a document Wharf generated that waits for
	// the partner to fetch it, or for its delivery job (acknowledgments
	// archived by process, documents the sync stage renders). Initial, not
	// terminal. Set by: archive.Put with Meta.Status.
	StatusWaiting Status = "waiting"

	// StatusProcessed (inbound): read and accepted, possibly with
	// warnings; its acknowledgment is archived and its documents mapped.
	// AS2 evidence: a raw request whose payload is archived, an MDN matched
	// to what Wharf sent. Terminal (a replay re-processes it). Set by:
	// process, the AS2 code (as2.EvidenceSettler).
	StatusProcessed Status = "processed"

	// StatusRejected (inbound): something in it was rejected: by X12
	// validation (its EventValidated lists the checker's messages and
	// positions, an exception with reason x12_rejected is raised, and the
	// acknowledgments tell the partner), or by mapping under the partner's
	// reject policy, or its content could not be read to its end (its
	// EventMapped lists each error's document, position and text, an
	// exception with reason rejected is raised, and no document of it is
	// passed on). One WARN line names the partner and the file. AS2
	// evidence: a raw request the AS2 endpoint refused. Terminal (a replay
	// re-processes it, and resolves the exception once it is processed);
	// counted as an error. Set by: process, the AS2 code.
	StatusRejected Status = "rejected"

	// StatusUnrecognized (inbound): not a format Wharf reads (not X12, not
	// canonical JSON, and the partner has no CSV or fixed-width layout);
	// kept in the archive, not acknowledged. Its EventParsed says so and
	// how the file starts, an exception with reason unrecognized is raised
	// and one WARN line names the partner and the file. Terminal (a replay
	// re-processes it, e.g. after a layout was configured, and resolves the
	// exception). Set by: process.
	StatusUnrecognized Status = "unrecognized"

	// StatusDelivered (outbound): the partner has it: sent by the delivery
	// engine, fetched by the partner (gateway), pushed over SFTP, an async
	// MDN Wharf owed posted, or an AS2 message settled by a positive MDN
	// (or sent without asking for one); a synchronous MDN Wharf returned
	// in its HTTP response. Terminal. Set by: delivery, gateway, the
	// application's SFTP push and async-MDN senders, AS2 Books.Settle and
	// the AS2 endpoint (as2.EvidenceSettler).
	StatusDelivered Status = "delivered"

	// StatusRemoved (outbound): the partner deleted the document from its
	// outbound folder without fetching it; the archived copy is kept.
	// Terminal. Set by: gateway.
	StatusRemoved Status = "removed"

	// StatusDeadLetter (outbound): delivery gave up (a permanent failure,
	// or no attempts left); an exception says why. Terminal: 'wharf
	// replay' re-runs its delivery (back to received; delivered, it
	// resolves the exception). Outside evidence moves it too: an async AS2
	// MDN for a post that the partner did receive settles it. Counted as an
	// error. Set by: delivery.
	StatusDeadLetter Status = "dead_letter"

	// StatusAwaitingMDN (outbound, AS2 with async MDNs): posted, the
	// partner's MDN is awaited until a deadline. Not terminal. Set by: AS2
	// Books.Await.
	StatusAwaitingMDN Status = "awaiting_mdn"

	// StatusFailed (outbound, AS2): the partner's MDN refused the message,
	// did not prove receipt (MIC mismatch, unsigned although asked), or
	// never came (overdue); an exception says why. Terminal: 'wharf
	// replay' sends a new message. Counted as an error. Set by: AS2
	// Books.Settle and the AS2 MDN-overdue job.
	StatusFailed Status = "failed"
)

// statuses lists every status, in flow order.
var statuses = []Status{
	StatusReceived, StatusWaiting,
	StatusProcessed, StatusRejected, StatusUnrecognized,
	StatusAwaitingMDN, StatusDelivered, StatusRemoved, StatusDeadLetter, StatusFailed,
}

// Statuses returns every message status, in flow order.
func Statuses() []Status { return slices.Clone(statuses) }

// ParseStatus returns the status named s, or an error for a name that is
// not a message status.
func ParseStatus(s string) (Status, error) {
	if st := Status(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("lifecycle: %q is not a message status (known: %v)", s, statuses)
}

// Valid reports whether s is a known message status.
func (s Status) Valid() bool { return slices.Contains(statuses, s) }

func (s Status) String() string { return string(s) }

// Initial reports whether a message can start in s (archive.Put).
func (s Status) Initial() bool { return s == StatusReceived || s == StatusWaiting }

// Terminal reports whether nothing Wharf schedules moves a message on from
// s: only a replay (inbound) or outside evidence (a late async MDN) does;
// see CanTransition.
func (s Status) Terminal() bool {
	switch s {
	case StatusProcessed, StatusRejected, StatusUnrecognized,
		StatusDelivered, StatusRemoved, StatusDeadLetter, StatusFailed:
		return true
	}
	return false
}

// IsError reports whether s counts as an error (the console's error
// rates): someone has to act on the message.
func (s Status) IsError() bool {
	return s == StatusRejected || s == StatusDeadLetter || s == StatusFailed
}

// processed are the statuses processing ends an inbound message in.
var processed = []Status{StatusProcessed, StatusRejected, StatusUnrecognized}

// sent are the statuses an outbound message can reach from received or
// waiting, by whoever settles it.
var sent = []Status{
	StatusDelivered,   // delivery engine, gateway fetch, SFTP push, async MDN posted, AS2 positive MDN or none asked
	StatusRemoved,     // gateway: the partner deleted it unfetched
	StatusDeadLetter,  // delivery: permanent failure or no attempts left
	StatusAwaitingMDN, // AS2 Books.Await before posting
	StatusFailed,      // AS2 Books.Settle: a synchronous MDN refused it or proves nothing
}

// transitions is the flow: from a status, the statuses the code moves a
// message to. A status missing as a key has no way out.
var transitions = map[Status][]Status{
	// received is where both directions start: inbound messages get
	// processed, outbound ones settled.
	StatusReceived: concat(processed, sent),
	StatusWaiting:  sent,

	// Inbound terminal statuses: a replay (delivery.Replay) or a retried
	// processing job re-runs processing on the same message.
	StatusProcessed:    processed,
	StatusRejected:     processed,
	StatusUnrecognized: processed,

	StatusAwaitingMDN: {
		StatusDelivered,   // AS2 Books.Settle: positive async MDN
		StatusFailed,      // AS2 Books.Settle: negative async MDN; the MDN-overdue job
		StatusDeadLetter,  // delivery: the post failed on every attempt
		StatusAwaitingMDN, // delivery: a retried post awaits its MDN again
	},

	// A dead letter whose post did reach the partner: the async MDN still
	// awaited settles it (AS2 Books.Settle takes the awaited entry). A
	// replay re-runs its delivery (delivery.Replay).
	StatusDeadLetter: {StatusDelivered, StatusFailed, StatusReceived},

	// delivered, removed and failed are final: a replay is a new message.
}

func concat(a, b []Status) []Status { return append(slices.Clone(a), b...) }

// CanTransition reports whether the code moves a message from one status
// to another (including to the same status, where a retry or replay
// records it again).
func CanTransition(from, to Status) bool { return slices.Contains(transitions[from], to) }

// Next returns the statuses a message in from can move to.
func Next(from Status) []Status { return slices.Clone(transitions[from]) }

// EventKind is the kind of an entry in a message's history
// (message_events.kind, store.Event.Kind).
type EventKind string

// Event kinds, grouped by the stage that appends them.
const (
	// Archive.

	// EventReceived is every message's first event (archive.Put): its
	// detail is JSON with the transport, remote name, size, sha256, blob
	// and a note.
	EventReceived EventKind = "received"
	// EventDuplicate: the same content came from the same partner before
	// (archive.Put), or an AS2 Message-ID came again (on the original
	// payload; the AS2 server answers with the original MDN).
	EventDuplicate EventKind = "duplicate"
	// EventUploaded: the blob moved from the local spool to the blob store.
	EventUploaded EventKind = "uploaded"
	// EventPurged: retention purged the entry (a tombstone stays).
	EventPurged EventKind = "purged"
	// EventBlobKept: a purge could not delete the blob (Object Lock, or
	// the blob store failed).
	EventBlobKept EventKind = "blob_kept"
	// EventBlobDeleted: a blob kept under Object Lock was deleted after its
	// retention date.
	EventBlobDeleted EventKind = "blob_deleted"

	// Jobs.

	// EventQueued: the processing job ran without a processor registered.
	EventQueued EventKind = "queued"

	// Processing (inbound).

	// EventParsed: processing read a file that is not X12: unrecognized,
	// a CSV or fixed-width layout, or canonical JSON.
	EventParsed EventKind = "parsed"
	// EventValidated: X12 envelopes and syntax checked; the detail counts
	// accepted and rejected sets and lists the issues, errors first, each
	// with the checker's message and position (interchange, group, set,
	// segment, element): the first 10, then "... and N more".
	EventValidated EventKind = "validated"
	// EventAcknowledged: the TA1/997/999 for the message was archived as
	// an outbound message.
	EventAcknowledged EventKind = "acknowledged"
	// EventMapped: mapped to canonical documents (or rejected by mapping);
	// the detail counts them by type and lists the errors, each with the
	// document, its position (X12 set, segment and element; or line and
	// column) and what is wrong: the first 10, then "... and N more".
	EventMapped EventKind = "mapped"
	// EventException: something needs a person (a file rejected by X12
	// validation or by mapping, a file Wharf does not read, a document set
	// aside by mapping, an acknowledgment that matches nothing sent); an
	// exception is raised with it.
	EventException EventKind = "exception"
	// EventReconciled: the acknowledgments in an inbound message were
	// matched to the groups Wharf sent.
	EventReconciled EventKind = "reconciled"

	// Acknowledgment of what Wharf sent (outbound X12).

	// EventAwaitingAck: the functional groups of an outbound X12 message
	// were recorded; the partner's 997/999/TA1 is matched by GS06/ISA13.
	EventAwaitingAck EventKind = "awaiting_ack"
	// EventAckAccepted etc. record the partner's verdict on a sent group
	// (AckStatus.Event); ack_overdue when none came in time.
	EventAckAccepted           EventKind = "ack_accepted"
	EventAckAcceptedWithErrors EventKind = "ack_accepted_with_errors"
	EventAckPartiallyAccepted  EventKind = "ack_partially_accepted"
	EventAckRejected           EventKind = "ack_rejected"
	EventAckOverdue            EventKind = "ack_overdue"

	// Delivery (outbound).

	// EventAttemptFailed: a delivery attempt failed and will be retried.
	EventAttemptFailed EventKind = "attempt_failed"
	// EventDelivered: the partner has it (StatusDelivered).
	EventDelivered EventKind = "delivered"
	// EventRemoved: the partner deleted it unfetched (StatusRemoved).
	EventRemoved EventKind = "removed"
	// EventDeadLetter: delivery gave up (StatusDeadLetter).
	EventDeadLetter EventKind = "dead_letter"
	// EventFailed: a failure no retry fixes: an AS2 MDN that refused the
	// message (StatusFailed), an AS2 request refused (on its raw
	// evidence), a message Wharf cannot send (no route, no push folder).
	EventFailed EventKind = "failed"

	// Replay.

	// EventReplayed (on the original): processing re-run, or re-sent as a
	// new message ("re-sent as message ID").
	EventReplayed EventKind = "replayed"
	// EventReplay (on the new outbound message): it re-sends another.
	EventReplay EventKind = "replay"

	// AS2.

	// EventAS2: an inbound payload came over AS2 (Message-ID, security,
	// MDN, raw request).
	EventAS2 EventKind = "as2"
	// EventSent: posted over AS2; the async MDN is awaited.
	EventSent EventKind = "sent"
	// EventAwaitingMDN: an async MDN is awaited (StatusAwaitingMDN).
	EventAwaitingMDN EventKind = "awaiting_mdn"
	// EventMDNLate: an async MDN came again or after its message was
	// settled; the status is unchanged.
	EventMDNLate EventKind = "mdn_late"
	// EventMDNOverdue: no async MDN came by the deadline (StatusFailed).
	EventMDNOverdue EventKind = "mdn_overdue"

	// Display only.

	// EventTrace is never stored: the trace view adds it to a message
	// whose history cannot be shown.
	EventTrace EventKind = "trace"
)

var eventKinds = []EventKind{
	EventReceived, EventDuplicate, EventUploaded, EventPurged, EventBlobKept, EventBlobDeleted,
	EventQueued,
	EventParsed, EventValidated, EventAcknowledged, EventMapped, EventException, EventReconciled,
	EventAwaitingAck, EventAckAccepted, EventAckAcceptedWithErrors, EventAckPartiallyAccepted, EventAckRejected, EventAckOverdue,
	EventAttemptFailed, EventDelivered, EventRemoved, EventDeadLetter, EventFailed,
	EventReplayed, EventReplay,
	EventAS2, EventSent, EventAwaitingMDN, EventMDNLate, EventMDNOverdue,
	EventTrace,
}

// EventKinds returns every event kind.
func EventKinds() []EventKind { return slices.Clone(eventKinds) }

// ParseEventKind returns the event kind named s, or an error for a name
// that is not one.
func ParseEventKind(s string) (EventKind, error) {
	if k := EventKind(s); k.Valid() {
		return k, nil
	}
	return "", fmt.Errorf("lifecycle: %q is not a message event kind", s)
}

// Valid reports whether k is a known event kind.
func (k EventKind) Valid() bool { return slices.Contains(eventKinds, k) }

func (k EventKind) String() string { return string(k) }

// Problem reports whether the event records something going wrong.
func (k EventKind) Problem() bool {
	switch k {
	case EventAttemptFailed, EventDeadLetter, EventFailed, EventException, EventMDNOverdue, EventAckRejected, EventAckOverdue:
		return true
	}
	return false
}

// AckStatus is the partner's verdict on a functional group Wharf sent
// (x12_sent_groups.ack_status, store.SentGroup.AckStatus), set when its
// 997/999/TA1 is reconciled (process) or when none came in time.
type AckStatus string

// Acknowledgment states of a sent group.
const (
	// AckNone: no acknowledgment yet (the group was just recorded).
	AckNone AckStatus = ""
	// AckAccepted: the partner accepted the group.
	AckAccepted AckStatus = "accepted"
	// AckAcceptedWithErrors: accepted, with errors noted (or a TA1 that
	// noted errors in the envelope).
	AckAcceptedWithErrors AckStatus = "accepted_with_errors"
	// AckPartiallyAccepted: some sets accepted, some rejected.
	AckPartiallyAccepted AckStatus = "partially_accepted"
	// AckRejected: the partner rejected the group (or its interchange).
	AckRejected AckStatus = "rejected"
	// AckOverdue: no acknowledgment by the due time (the partner's
	// x12.ack_timeout); a late one still settles it.
	AckOverdue AckStatus = "overdue"
	// AckNotSent: the message carrying the group was dead-lettered, never
	// delivered: no acknowledgment is expected (until its replay is
	// delivered: the group is awaited again from then; a re-send as a new
	// message records its own groups).
	AckNotSent AckStatus = "not_sent"
)

// Awaited reports whether the acknowledgment has not come (yet):
// AckNone or AckOverdue.
func (a AckStatus) Awaited() bool { return a == AckNone || a == AckOverdue }

// Event is the event recorded on the sent message when its group reaches a.
func (a AckStatus) Event() EventKind {
	switch a {
	case AckAccepted:
		return EventAckAccepted
	case AckAcceptedWithErrors:
		return EventAckAcceptedWithErrors
	case AckPartiallyAccepted:
		return EventAckPartiallyAccepted
	case AckRejected:
		return EventAckRejected
	case AckOverdue:
		return EventAckOverdue
	}
	return ""
}

// ErrPermanent marks failures that retrying cannot fix (no route, no such
// message, a partner's refusal, bad configuration). Wrap it (Permanent, or
// fmt.Errorf("%w: ...", ErrPermanent)); errors.Is finds it. Every job
// worker cancels a job whose error is permanent instead of retrying it,
// and delivery dead-letters the message at once. It is the only
// permanent-failure marker in Wharf.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as permanent (nil stays nil). The message of the
// result is err's, prefixed with "permanent failure: ".
func Permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanent{err}
}

// IsPermanent reports whether err is marked permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// ErrWait marks work that cannot run on this instance yet and is not a
// failure: what it needs is on its way (a blob waiting in another
// instance's spool for its upload). Job workers snooze such a job (River
// does not count a snooze as an attempt) instead of failing it.
var ErrWait = errors.New("waiting")

// IsWait reports whether err says the work must wait (ErrWait).
func IsWait(err error) bool { return errors.Is(err, ErrWait) }

type permanent struct{ err error }

func (p *permanent) Error() string   { return ErrPermanent.Error() + ": " + p.err.Error() }
func (p *permanent) Unwrap() []error { return []error{ErrPermanent, p.err} }
