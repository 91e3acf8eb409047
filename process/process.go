// Package process is the "understand" stage of the flow: for an archived
// inbound message it detects the format, validates X12 envelopes and
// syntax, records control numbers and business keys in the index, and
// archives the acknowledgments (TA1, 997 or 999) as outbound documents for
// the partner. It reads the archived bytes, never the transport's copy.
// Mapping to canonical documents and routing plug in after it.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/iobuf"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// Policy is how a partner's X12 is checked and acknowledged.
type Policy struct {
	Ack    string // "997" (default), "999" or "none"
	Strict bool
	// AckTimeout: X12 groups sent to the partner expect its 997/999 within
	// this long, else an exception is raised (0: no expectation).
	AckTimeout time.Duration
}

// Processor processes archived inbound messages.
type Processor struct {
	Archive *archive.Archive
	Store   Store
	Policy  func(partner string) Policy
	// DuplicateWindow: a repeated ISA13 from a sender within it is a duplicate (default 30 days).
	DuplicateWindow time.Duration
	Logger          *slog.Logger
	Now             func() time.Time
	// Profile returns the partner's mapping dialect; nil skips mapping.
	Profile func(partner string) *mapping.Profile
	// Layout returns the CSV or fixed-width layout of the partner's files
	// (nil: the partner sends X12 or canonical JSON).
	Layout func(partner string) *mapping.RecordLayout
	// SendNow, when set, delivers the acknowledgments of messages that came
	// in on the transports it names (Inline) before their outcome is
	// recorded, and returns the writes that record "delivered" for that
	// transaction: a 997 to a folder needs no delivery job of its own. A
	// crash before the outcome's commit runs processing again, which finds
	// the acknowledgment archived and sends the same bytes under the same
	// name again. When it fails, Enqueue hands the acknowledgment to an
	// ordinary delivery job in the same transaction (retries, dead letter).
	SendNow func(ctx context.Context, m *store.Message, body []byte) (func(store.Tx) error, error)
	Inline  func(transport string) bool
	Enqueue func(ctx context.Context, tx store.Tx, messageID string) error
	// Emit receives each canonical document mapped from an accepted
	// message with its position in the message (1, 2, ...), the same on
	// every retry.
	Emit func(ctx context.Context, m *store.Message, seq int, d canonical.Document) error
	// Test reports whether a partner is marked test: its files are test
	// traffic, like interchanges with ISA15 T (nil: none is).
	Test func(partner string) bool
}

// Process runs the stage for one message. It is idempotent: a retry
// re-validates and finds its acknowledgment already archived.
//
// When ctx carries a completion (store.WithFinal: the processing job's),
// it commits in the stage's last transaction, with the outcome, so a crash
// can neither lose the outcome of a completed job nor repeat the history of
// one whose outcome committed.
func (p *Processor) Process(ctx context.Context, id string) error {
	f := &final{fn: store.Final(ctx)}
	if err := p.process(context.WithValue(ctx, finalKey{}, f), id); err != nil {
		return err
	}
	if f.fn != nil && !f.ran { // the path's last writes were not in one transaction
		return p.Store.WithTx(ctx, f.step(ctx))
	}
	return nil
}

// final is a Process call's completion, run at most once.
type final struct {
	fn  func(context.Context, store.Tx) error
	ran bool
}

type finalKey struct{}

// step is the completion as a write of a transaction (nothing without one).
func (f *final) step(ctx context.Context) func(store.Tx) error {
	return func(tx store.Tx) error {
		if f == nil || f.fn == nil || f.ran {
			return nil
		}
		if err := f.fn(ctx, tx); err != nil {
			return err
		}
		f.ran = true
		return nil
	}
}

// last is the step of the completion for the transaction that records a
// path's outcome when nothing is written after it.
func last(ctx context.Context) func(store.Tx) error {
	f, _ := ctx.Value(finalKey{}).(*final)
	return f.step(ctx)
}

func (p *Processor) process(ctx context.Context, id string) error {
	// The message and its archive entry come in one query, and its bytes
	// are opened from them (a Get would read both again).
	e, err := p.Archive.Entry(ctx, id)
	if errors.Is(err, store.ErrNotFound) { // only a message that is gone: retrying cannot help
		return fmt.Errorf("%w: %w", lifecycle.ErrPermanent, err)
	}
	if err != nil { // the database is down or busy: the job is retried
		return fmt.Errorf("process %s: %w", id, err)
	}
	m := e.Message
	rc, err := p.Archive.Open(ctx, e)
	if err != nil {
		return fmt.Errorf("process %s: %w", m.ID, err)
	}
	defer rc.Close()
	if m.Size <= maxHeld {
		// Small messages (most EDI) are read once: validation, mapping and
		// reconciling then share the bytes instead of each reading the
		// archive again (each Get is two queries, a file and a hash).
		// Sized from the index (io.ReadAll would grow from 512 bytes).
		buf := bytes.NewBuffer(make([]byte, 0, m.Size+bytes.MinRead))
		if _, err := buf.ReadFrom(rc); err != nil {
			return fmt.Errorf("process %s: read: %w", m.ID, err)
		}
		b := buf.Bytes()
		ctx = context.WithValue(ctx, heldKey{}, &held{id: m.ID, b: b})
		rc = heldReader{bytes.NewReader(b)}
	}
	br := iobuf.NewReader(rc, 4096, 64<<10)
	// A short message ends before 4096 bytes (io.EOF); any other error is
	// a failed read (an S3 connection reset mid-stream), not content: on
	// what little was read the message would be judged "unrecognized" for
	// good and never acknowledged. Retry the job instead.
	head, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("process %s: read: %w", id, err)
	}
	if m.Direction == store.Outbound {
		if !looksX12(head) {
			return nil
		}
		rep, err := (&x12.Checker{}).Check(ctx, x12.NewReader(br))
		if err != nil {
			return fmt.Errorf("process %s: read: %w", m.ID, err)
		}
		return p.recordSent(ctx, m, rep)
	}
	if !looksX12(head) {
		if l := p.layout(m.PartnerID); l != nil {
			return p.mapRecords(ctx, m, br, l)
		}
		if looksCanonical(head) {
			return p.mapJSON(ctx, m, br)
		}
		return p.unrecognized(ctx, m, head)
	}
	return p.x12(ctx, m, br)
}

// maxHeld is the largest message processing keeps in memory to read it
// more than once.
const maxHeld = 1 << 20

// held is a message's bytes, read once by Process.
type held struct {
	id string
	b  []byte
}

type heldKey struct{}

// heldReader reads held bytes. Unlike io.NopCloser it keeps the
// *bytes.Reader's Len, by which the readers over it (bufio, x12) size
// their buffers to the message instead of to the largest one.
type heldReader struct{ *bytes.Reader }

func (heldReader) Close() error { return nil }

// open returns the message's archived bytes: those Process holds, or the
// archive's.
func (p *Processor) open(ctx context.Context, m *store.Message) (io.ReadCloser, error) {
	if h, ok := ctx.Value(heldKey{}).(*held); ok && h.id == m.ID {
		return heldReader{bytes.NewReader(h.b)}, nil
	}
	rc, _, err := p.Archive.Get(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("process %s: %w", m.ID, err)
	}
	return rc, nil
}

// unrecognized records a file Wharf cannot read: what it is not, how it
// starts, an exception (reason unrecognized, owner it: a layout or the
// partner's format is the fix) and one WARN line.
func (p *Processor) unrecognized(ctx context.Context, m *store.Message, head []byte) error {
	start := bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	if len(start) > 40 {
		start = start[:40]
	}
	why := fmt.Sprintf("not X12 (no ISA segment at the start), not canonical JSON, and partner %s has no mapping.layout for CSV or fixed-width files; it starts with %q",
		m.PartnerID, start)
	if len(head) == 0 {
		why = "the file is empty"
	}
	reasons := &issueList{max: maxIssueLines}
	reasons.add(false, "error: "+why)
	raise := func(tx store.Tx) error {
		return p.raiseFileException(ctx, tx, m, "unrecognized", store.OwnerIT, "is not a format Wharf reads", reasons,
			"Ask the partner for X12 or canonical JSON, or configure the partner's mapping.layout (CSV or fixed-width), then replay the message")
	}
	if err := p.finishWith(ctx, m, "unknown", lifecycle.StatusUnrecognized, nil, nil, lifecycle.EventParsed,
		why+"; kept in the archive, no acknowledgment sent", raise, p.settleFileExceptions(ctx, m, lifecycle.StatusUnrecognized, "unrecognized"), last(ctx)); err != nil {
		return err
	}
	if p.Logger != nil {
		p.Logger.Warn("process: file not recognized", "partner", m.PartnerID, "file", m.RemoteName, "message", m.ID, "reason", why)
	}
	return nil
}

// looksX12 tells whether the content starts (after a BOM, blanks or a few
// lines of prose) with an ISA segment.
func looksX12(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	i := bytes.Index(head, []byte("ISA"))
	return i >= 0 && i+4 <= len(head) && !isAlnum(head[i+3])
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

// layout returns the partner's CSV or fixed-width layout, nil when it has none.
func (p *Processor) layout(partner string) *mapping.RecordLayout {
	if p.Layout == nil {
		return nil
	}
	return p.Layout(partner)
}

func (p *Processor) policy(partner string) Policy {
	if p.Policy == nil {
		return Policy{}
	}
	return p.Policy(partner)
}

// seen adapts the store to x12.InterchangeSeen for one message. Senders
// are scoped by partner: the same ISA sender ID and control number from two
// trading partners (two VAN mailboxes, say) is not a duplicate.
type seen struct {
	st      interchangeRecorder
	partner string
	message string
	dupOf   map[string]string
}

var _ x12.InterchangeSeen = (*seen)(nil)

func (s *seen) SeenInterchange(ctx context.Context, p *x12.SeenInterchangeParams) (bool, error) {
	dup, err := s.st.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: s.partner + "/" + p.SenderQual,
		SenderID: p.SenderID, Control: p.Control, MessageID: s.message, Within: p.Within})
	if dup != "" {
		s.dupOf[p.Control] = dup
	}
	return dup != "", err
}

// Counters are the store's persistent per-partner X12 control numbers
// (isa13, gs06, st02), shared by everything Wharf sends a partner:
// acknowledgments, routed documents, `wharf render --partner`. An ISA13,
// the GS06 of its first group and the ST02 of its first set are allocated in
// one statement (an interchange without a set leaves that ST02 unused: a
// gap, never a repeat). A Counters is
// used for one interchange at a time (it holds the GS06 drawn with the
// last ISA13); make one per rendering.
type Counters struct {
	st        CounterStore
	gs, st02  int64 // allocated with the last ISA13, not yet used
	gsPartner string
}

// NewCounters returns control numbers from the store.
func NewCounters(st CounterStore) *Counters { return &Counters{st: st} }

// Counter names in the store, by X12 control number kind.
var counterNames = map[string]string{"isa": "isa13", "gs": "gs06", "st": "st02"}

// Next allocates the partner's next ISA, GS or ST control number.
func (c *Counters) Next(ctx context.Context, partner, kind string) (int64, error) {
	kind = strings.ToLower(kind)
	switch kind {
	case "isa":
		// The interchange's first GS06 and ST02 come in the same
		// statement: an acknowledgment is one of each, and every
		// transaction of its own is a commit on SQLite's one writer (and
		// on PostgreSQL a BEGIN and a COMMIT more).
		v, err := c.st.NextCounters(ctx, partner, "isa13", "gs06", "st02")
		if err != nil {
			return 0, err
		}
		c.gs, c.st02, c.gsPartner = v[1], v[2], partner
		return v[0], nil
	case "gs":
		if c.gs != 0 && c.gsPartner == partner {
			n := c.gs
			c.gs = 0
			return n, nil
		}
	case "st":
		if c.st02 != 0 && c.gsPartner == partner {
			n := c.st02
			c.st02 = 0
			return n, nil
		}
	}
	if name, ok := counterNames[kind]; ok {
		kind = name
	}
	return c.st.NextCounter(ctx, partner, kind)
}

func (p *Processor) x12(ctx context.Context, m *store.Message, r io.Reader) error {
	pol := p.policy(m.PartnerID)
	sn := &seen{st: p.Store, partner: m.PartnerID, message: m.ID, dupOf: map[string]string{}}
	chk := &x12.Checker{Strict: pol.Strict, Seen: sn, DuplicateWindow: p.DuplicateWindow}
	rep, err := chk.Check(ctx, x12.NewReader(r))
	if err != nil {
		// Not a syntax problem (those are in the report): an I/O or
		// archive failure. Retry.
		return fmt.Errorf("process %s: read: %w", m.ID, err)
	}

	var keys []store.Key
	docTypes := map[string]bool{}
	var accepted, rejected, sets int
	test := false
	for _, ic := range rep.Interchanges {
		test = test || ic.Usage == "T"
		keys = append(keys, store.Key{Kind: "isa13", Value: ic.Control})
		for _, g := range ic.Groups {
			keys = append(keys, store.Key{Kind: "gs06", Value: g.Control})
			for _, s := range g.Sets {
				sets++
				docTypes[s.ID] = true
				keys = append(keys, store.Key{Kind: "st02", Value: s.Control})
				if s.Key != "" {
					keys = append(keys, store.Key{Kind: strings.ToLower(s.KeyRef), Value: s.Key})
				}
				// A set in a rejected group or interchange is not taken,
				// whatever its own check said.
				if s.Status == x12.Rejected || g.Status == x12.Rejected || ic.Status == x12.Rejected {
					rejected++
				} else {
					accepted++
				}
			}
		}
	}
	if len(keys) > 10000 {
		keys = keys[:10000]
	}
	keys = dedupe(keys)
	summary := fmt.Sprintf("X12: %d interchange(s), %d group(s), %d set(s): %d accepted, %d rejected",
		rep.Count.Interchanges, rep.Count.Groups, sets, accepted, rejected)
	if rep.Warnings {
		summary += "; with warnings"
	}
	for ctl, dup := range sn.dupOf {
		summary += fmt.Sprintf("; interchange %s repeats message %s", ctl, dup)
	}
	if test {
		keys = append(keys, store.KeyTest)
		summary += "; test traffic (ISA15 T): changes no business object, takes only test routes"
	}
	status := lifecycle.StatusProcessed
	if rep.Rejected {
		status = lifecycle.StatusRejected
	}
	issues := reportIssues(rep, maxIssueLines)
	if lines := issues.lines(); len(lines) > 0 {
		summary += "\n" + strings.Join(lines, "\n")
	}

	// One transaction records the outcome: the status, keys, "validated",
	// "acknowledged" and (for files that carry no acknowledgments) the
	// mapping's outcome. On SQLite every commit is an fsync of the WAL, so
	// the acknowledgment and the mapping no longer commit on their own. A
	// crash before that commit re-runs the stage: the 997 is found by its
	// idempotency key, and Emit is idempotent.
	var record []func(store.Tx) error
	acked := false
	if pol.Ack != "none" {
		ev, sent, err := p.acknowledge(ctx, m, rep, pol)
		if err != nil {
			return err
		}
		if ev != nil {
			acked = true
			record = append(record, func(tx store.Tx) error { return tx.AppendEvent(ctx, ev) })
		}
		if sent != nil {
			record = append(record, sent)
		}
	}
	acks := carriesAcks(rep)
	mapIt := accepted > 0 && !rep.Rejected
	var mres *mapped
	if mapIt && !acks {
		if mres, err = p.mapToCanonical(ctx, m); err != nil {
			return err
		}
		if mres != nil {
			record = append(record, mres.record)
			if mres.rejected {
				status = lifecycle.StatusRejected
			}
		}
	}
	if rep.Rejected {
		record = append(record, p.raiseRejected(ctx, m, issues, acked, accepted, rejected))
	}
	if !acks || !mapIt { // the file's outcome is known: the file exceptions it clears are resolved
		var keep []string
		if rep.Rejected {
			keep = append(keep, "x12_rejected")
		}
		if mres != nil && mres.rejected {
			keep = append(keep, "rejected")
		}
		record = append(record, p.settleFileExceptions(ctx, m, status, keep...))
	}
	if !acks { // nothing is written after this transaction
		record = append(record, last(ctx))
	}
	if err := p.finishWith(ctx, m, "x12", status, docTypes, keys, lifecycle.EventValidated, summary, record...); err != nil {
		return err
	}
	if rep.Rejected && p.Logger != nil {
		p.Logger.Warn("x12: file rejected by validation", "partner", m.PartnerID, "file", m.RemoteName, "message", m.ID,
			"reason", issues.firstReason(), "errors", issues.nErrs, "accepted_sets", accepted, "rejected_sets", rejected)
	}
	p.warnRejected(m, "mapping", mres)
	if acks {
		// Reconciling records on the messages it matches; its events on this
		// one come after "validated", and the mapping's after those.
		rejectedICs := map[string]bool{}
		for _, ic := range rep.Interchanges {
			if ic.Status == x12.Rejected {
				rejectedICs[ic.Control] = true
			}
		}
		if err := p.reconcile(ctx, m, rejectedICs); err != nil {
			return err
		}
		if mapIt {
			mres, err := p.mapToCanonical(ctx, m)
			if err != nil {
				return err
			}
			status := lifecycle.StatusProcessed
			if mres != nil && mres.rejected {
				status = lifecycle.StatusRejected
			}
			if err := p.Store.WithTx(ctx, func(tx store.Tx) error {
				if mres != nil {
					if err := mres.record(tx); err != nil {
						return err
					}
				}
				if status == lifecycle.StatusRejected {
					if err := tx.SetMessageStatus(ctx, m.ID, status); err != nil {
						return err
					}
				}
				if err := p.settleFileExceptions(ctx, m, status, fileExceptionOf(status, "rejected")...)(tx); err != nil {
					return err
				}
				return last(ctx)(tx)
			}); err != nil {
				return err
			}
			p.warnRejected(m, "mapping", mres)
		}
	}
	return nil
}

// carriesAcks tells whether the input holds 997/999 groups or may hold a
// TA1 (an interchange without groups).
func carriesAcks(rep *x12.Report) bool {
	for _, ic := range rep.Interchanges {
		if len(ic.Groups) == 0 {
			return true
		}
		for _, g := range ic.Groups {
			if g.IsAck() {
				return true
			}
		}
	}
	return false
}

// maxIssueLines is how many of the checker's issues the "validated" event
// lists (errors first); the rest are counted.
const maxIssueLines = 10

// issueList is the checker's issues as text, errors and warnings apart,
// the first max of each kept and all counted.
type issueList struct {
	max           int
	errs, warns   []string
	nErrs, nWarns int
}

func (l *issueList) add(warning bool, line string) {
	if warning {
		if l.nWarns++; len(l.warns) < l.max {
			l.warns = append(l.warns, line)
		}
		return
	}
	if l.nErrs++; len(l.errs) < l.max {
		l.errs = append(l.errs, line)
	}
}

// lines are the errors, then the warnings, at most max, then "... and N
// more" for the rest.
func (l *issueList) lines() []string {
	out := append([]string(nil), l.errs...)
	out = append(out, l.warns...)
	if len(out) > l.max {
		out = out[:l.max]
	}
	if rest := l.nErrs + l.nWarns - len(out); rest > 0 {
		out = append(out, fmt.Sprintf("... and %d more", rest))
	}
	return out
}

// firstReason is the first error, or "" when there is none.
func (l *issueList) firstReason() string {
	if len(l.errs) == 0 {
		return ""
	}
	return l.errs[0]
}

// reportIssues lists what the checker found, as `wharf x12 validate`
// prints it: the issues outside any interchange, each interchange's and
// group's, and those of every set not accepted as it is (its issues and
// its segment errors), each with its position (interchange, group, set,
// segment, element, offset) and the checker's message.
func reportIssues(rep *x12.Report, limit int) *issueList {
	l := &issueList{max: limit}
	for _, is := range rep.Issues {
		l.add(is.Warning, is.String())
	}
	for _, ic := range rep.Interchanges {
		for _, is := range ic.Issues {
			l.add(is.Warning, is.String())
		}
		for _, g := range ic.Groups {
			for _, is := range g.Issues {
				l.add(is.Warning, is.String())
			}
			for _, st := range g.Sets {
				if st.Status == x12.Accepted {
					continue
				}
				for _, is := range st.Issues {
					l.add(is.Warning, is.String())
				}
				for _, e := range st.Errors {
					l.add(e.Warning, st.Explain(e))
				}
			}
		}
	}
	return l
}

// raiseRejected returns the writes that put a file X12 validation
// rejected in the exceptions queue (raiseFileException, reason
// x12_rejected, owner operations: the partner has to correct and resend,
// which the operations team asks for).
func (p *Processor) raiseRejected(ctx context.Context, m *store.Message, issues *issueList, acked bool, accepted, rejected int) func(store.Tx) error {
	ack := ""
	if acked {
		ack = " The acknowledgment sent to the partner reports the same."
	}
	return func(tx store.Tx) error {
		return p.raiseFileException(ctx, tx, m, "x12_rejected", store.OwnerOperations,
			fmt.Sprintf("was rejected by X12 validation (%d set(s) accepted, %d rejected)", accepted, rejected), issues,
			"Have the partner correct and resend it, or replay the message after a configuration change."+ack)
	}
}

// fileExceptions are the reasons of the exceptions processing raises about
// a whole inbound file, one open per message (DedupeKey REASON/MESSAGE):
// X12 validation rejected it, mapping rejected it, Wharf does not read its
// format.
var fileExceptions = []string{"x12_rejected", "rejected", "unrecognized"}

// raiseFileException writes, in tx, the exception about a whole file:
// one open exception per message and reason (raised again, "repeated",
// when a replay comes to the same), saying which partner, file and
// message, what happened (what), the first reason and how many more, and
// what to do; and an "exception" event on the message that names it.
func (p *Processor) raiseFileException(ctx context.Context, tx store.Tx, m *store.Message, reason, owner, what string, reasons *issueList, todo string) error {
	why := reasons.firstReason()
	if why == "" {
		why = "see the message's history"
	}
	if reasons.nErrs > 1 {
		why += fmt.Sprintf(" (and %d more error(s): see the message's history)", reasons.nErrs-1)
	}
	x := &store.Exception{Reason: reason, Owner: owner, ObjectKind: "message", ObjectKey: m.ID, PartnerID: m.PartnerID, MessageID: m.ID,
		DedupeKey: reason + "/" + m.ID, Detail: fmt.Sprintf("partner %s, file %s (message %s) %s: %s. %s", m.PartnerID, m.RemoteName, m.ID, what, why, todo)}
	if _, err := tx.RaiseException(ctx, x); err != nil {
		return err
	}
	return tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventException,
		Detail: fmt.Sprintf("%s (exception %s): %s", reason, x.ID, why)})
}

// settleFileExceptions returns the write that resolves the open file
// exceptions of m (fileExceptions) that its new outcome, status, no longer
// bears out: all of them once it is processed (a replay after the
// partner's or the configuration's fix), the others when this run raised
// keep again (it stays open, "repeated").
func (p *Processor) settleFileExceptions(ctx context.Context, m *store.Message, status lifecycle.Status, keep ...string) func(store.Tx) error {
	if m.Status == lifecycle.StatusReceived {
		// Never processed to an outcome before (the file exceptions are
		// raised with it): nothing to settle, and no query on the
		// processing path of every new file.
		return func(store.Tx) error { return nil }
	}
	return func(tx store.Tx) error {
		open, err := tx.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, MessageID: m.ID, Limit: 100})
		if err != nil {
			return err
		}
		for _, x := range open {
			if !slices.Contains(fileExceptions, x.Reason) || x.DedupeKey != x.Reason+"/"+m.ID || slices.Contains(keep, x.Reason) {
				continue
			}
			if err := tx.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: x.ID, Status: store.ExceptionResolved, Actor: "wharf",
				Comment: fmt.Sprintf("message %s was processed again: it is %s now", m.ID, status)}); err != nil {
				return err
			}
		}
		return nil
	}
}

// fileExceptionOf is reason when status is rejected (the file exception
// the run raised), else none.
func fileExceptionOf(status lifecycle.Status, reason string) []string {
	if status == lifecycle.StatusRejected {
		return []string{reason}
	}
	return nil
}

func dedupe(keys []store.Key) []store.Key {
	seen := map[store.Key]bool{}
	out := keys[:0]
	for _, k := range keys {
		if k.Value == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}

// acknowledge archives the TA1/997/999 for the partner as one outbound
// document on the transport the message came in on (for SFTP partners it
// appears in outbound/). The idempotency key makes a retried job find it.
//
// It returns the "acknowledged" event for the caller to record with the
// message's status (nil when there is nothing to acknowledge), and, when
// the acknowledgment was sent at once (SendNow) or handed to a delivery
// job, the writes that record that in the same transaction.
func (p *Processor) acknowledge(ctx context.Context, m *store.Message, rep *x12.Report, pol Policy) (*store.Event, func(store.Tx) error, error) {
	var buf bytes.Buffer
	opt := x12.AckOptions{Kind: pol.Ack, Numbers: NewCounters(p.Store), Partner: m.PartnerID, Newline: true, Now: p.Now}
	if err := x12.WriteAcks(ctx, &buf, rep, opt); err != nil {
		return nil, nil, fmt.Errorf("process %s: acknowledgments: %w", m.ID, err)
	}
	if buf.Len() == 0 {
		return nil, nil, nil // nothing to acknowledge (an FA group, or no groups)
	}
	kind := ackKind(rep, pol)
	name, err := p.ackName(ctx, m, kind)
	if err != nil {
		return nil, nil, fmt.Errorf("process %s: name the acknowledgment: %w", m.ID, err)
	}
	inline := p.SendNow != nil && p.Enqueue != nil && p.Inline != nil && p.Inline(m.Transport)
	body := buf.Bytes()
	e, err := p.Archive.Put(ctx, bytes.NewReader(body), archive.Meta{
		Partner: m.PartnerID, Direction: store.Outbound, Transport: m.Transport, RemoteName: name,
		CorrelationID: m.CorrelationID, ParentID: m.ID, IdempotencyKey: "ack:" + m.ID, Status: lifecycle.StatusWaiting, Generated: true,
		// A first processing archived no acknowledgment before: no lookup.
		// (Were one there, the key's unique index would still find it.)
		KeyLookedUp:  store.FirstRun(ctx),
		SentByCaller: inline,
		Note:         fmt.Sprintf("acknowledgment (%s) of message %s, generated by Wharf", kind, m.ID),
		Keys:         ackKeys(m.ID, p.isTest(m.PartnerID, rep)),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("process %s: archive acknowledgment: %w", m.ID, err)
	}
	if e.Existing {
		name = e.RemoteName // a retry: named when first archived
		body = nil          // the archived bytes, not these (the same, unless the first run's clock differed)
	}
	ev := &store.Event{MessageID: m.ID, Kind: lifecycle.EventAcknowledged,
		Detail: fmt.Sprintf("acknowledgment %s archived as message %s (%s, %d bytes)", kind, e.ID, name, e.Size)}
	if !inline || e.Status != lifecycle.StatusWaiting {
		// Delivered by a job (or, after a retry, delivered or dead already).
		return ev, nil, nil
	}
	sent, err := p.SendNow(ctx, e.Message, body)
	if err == nil {
		return ev, sent, nil
	}
	if p.Logger != nil {
		p.Logger.Warn("acknowledgment not delivered with its file's outcome; a delivery job retries it", "partner", m.PartnerID,
			"file", m.RemoteName, "message", m.ID, "acknowledgment", e.ID, "transport", e.Transport, "err", err)
	}
	id := e.ID
	return ev, func(tx store.Tx) error { return p.Enqueue(ctx, tx, id) }, nil
}

// ackKind is what the acknowledgment holds: the policy's 997 or 999 when it
// acknowledges at least one functional group, else "TA1" (an interchange
// rejected as a whole, a duplicate among them, or only a TA1 asked for).
func ackKind(rep *x12.Report, pol Policy) string {
	kind := pol.Ack
	if kind == "" {
		kind = "997"
	}
	for _, ic := range rep.Interchanges {
		if ic.Status == x12.Rejected {
			continue // WriteAcks writes no group acknowledgment for it
		}
		for _, g := range ic.Groups {
			if !g.IsAck() {
				return kind
			}
		}
	}
	return "TA1"
}

// ackName names the acknowledgment after what it acknowledges and what it
// holds: KIND_FILE (997_ORDERS.edi, 999_ORDERS.edi, TA1_ORDERS.edi). A
// file name the partner already used on this transport for an earlier
// message would repeat, so the acknowledgments of every later message with
// that name carry the message's short ID (shortID) before the extension:
// 997_ORDERS.0a1b2c3d.edi. Earlier is the archive's order (received time,
// then ID), so concurrent processing and retries choose the same names.
func (p *Processor) ackName(ctx context.Context, m *store.Message, kind string) (string, error) {
	base := path.Base(m.RemoteName)
	if base == "." || base == "/" || base == "" {
		return kind + "_" + m.ID, nil // the message ID is unique already
	}
	earlier, err := p.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: m.PartnerID, Direction: store.Inbound,
		Transport: m.Transport, Name: base, Before: m.ReceivedAt, BeforeID: m.ID, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(earlier) == 0 {
		return kind + "_" + base, nil
	}
	ext := path.Ext(base)
	if ext == base { // ".edi": all extension, no stem
		ext = ""
	}
	return kind + "_" + strings.TrimSuffix(base, ext) + "." + shortID(m.ID) + ext, nil
}

// shortID is the last 8 hex digits of a message ID: the random end of
// its UUIDv7 (the start is a timestamp, shared by messages close in time).
func shortID(id string) string {
	h := strings.ReplaceAll(id, "-", "")
	if len(h) > 8 {
		h = h[len(h)-8:]
	}
	return h
}

// finishWith records, in one transaction, the message's status, format,
// types, keys, the event that says what happened, and more writes (later
// events, exceptions, the job's completion).
func (p *Processor) finishWith(ctx context.Context, m *store.Message, format string, status lifecycle.Status, docTypes map[string]bool, keys []store.Key, kind lifecycle.EventKind, detail string, more ...func(store.Tx) error) error {
	var types []string
	for t := range docTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	if p.isTest(m.PartnerID, nil) && !store.IsTest(keys) {
		keys = append(keys, store.KeyTest) // a partner marked test sends test traffic only
	}
	return p.Store.WithTx(ctx, func(tx store.Tx) error {
		// m is as processing read it: its claim keeps others from moving it.
		if err := tx.SetOutcomeOf(ctx, m, status, format, types); err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := tx.AddMessageKeys(ctx, m.ID, keys); err != nil {
				return err
			}
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: kind, Detail: detail}); err != nil {
			return err
		}
		for _, f := range more {
			if err := f(tx); err != nil {
				return err
			}
		}
		return nil
	})
}
