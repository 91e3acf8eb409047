package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/wharfedi/wharf/internal/iobuf"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// mapToCanonical maps an accepted X12 message to canonical documents: their
// references become business keys of the message (so `archive search
// --key` and traces find it by PO, BOL, PRO, shipment ID, ...), a "mapped"
// event counts them by type, and each document set aside is an "exception"
// event naming the document, field path and position. Documents themselves
// are handed on by Emit (the sync stage).
//
// It returns what mapping came to (nil when there is no profile), for the
// caller to record in the transaction that records the message's status.
func (p *Processor) mapToCanonical(ctx context.Context, m *store.Message) (*mapped, error) {
	if p.Profile == nil {
		return nil, nil
	}
	return p.mapRun(ctx, m, nil, mapping.FromX12)
}

// mapped is what mapping a message came to.
type mapped struct {
	// record writes the outcome (keys, the "mapped" event, documents set
	// aside or the file's rejection) in the caller's transaction.
	record func(store.Tx) error
	// rejected: the file is rejected (the partner's policy is reject and a
	// document could not be mapped, or the input could not be read to its
	// end); no document of it is passed on (but those a quarantine policy
	// passed on before an unreadable line).
	rejected bool
	// reasons are the mapping errors, as the "mapped" event lists them.
	reasons *issueList
}

// mapRun runs one of the mapping's readers over the message's bytes (r, or
// the archived bytes read again when r is nil), handing each document to
// Emit, and returns the writes that record the outcome (keys, the "mapped"
// event, documents set aside) for the caller's transaction.
//
// With the reject policy the documents are handed on only once the whole
// file mapped (the policy rejects the file at its first bad document:
// nothing of it may reach the sync stage); with quarantine, as they come.
func (p *Processor) mapRun(ctx context.Context, m *store.Message, r io.Reader, from func(context.Context, io.Reader, mapping.Options) (*mapping.Outcome, error)) (*mapped, error) {
	var prof *mapping.Profile
	if p.Profile != nil {
		prof = p.Profile(m.PartnerID)
	}
	if prof == nil {
		prof = mapping.DefaultProfile()
	}
	if r == nil {
		rc, err := p.open(ctx, m)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		r = rc
	}
	var keys []store.Key
	types := map[string]int{}
	seq := 0
	emit := func(d canonical.Document) error {
		seq++ // the same bytes map to the same documents in the same order
		if p.Emit != nil {
			return p.Emit(ctx, m, seq, d)
		}
		return nil
	}
	hold := prof.Policy == mapping.Reject
	var held []canonical.Document
	reasons := &issueList{max: maxIssueLines}
	out, err := from(ctx, r, mapping.Options{
		Profile: prof,
		Emit: func(d canonical.Document) error {
			h := d.Head()
			types[h.Type]++
			for _, r := range canonical.Keys(d) { // references and the document's own identifiers
				if r.Type != canonical.RefOther && len(keys) < 10000 {
					keys = append(keys, store.Key{Kind: r.Type, Value: r.Value})
				}
			}
			if hold {
				held = append(held, d)
				return nil
			}
			return emit(d)
		},
		OnError: func(e *mapping.Error) { reasons.add(false, "error: "+mappingReason(e)) },
	})
	if err != nil {
		return nil, fmt.Errorf("process %s: map: %w", m.ID, err)
	}
	if !out.Rejected {
		for _, d := range held {
			if err := emit(d); err != nil {
				return nil, fmt.Errorf("process %s: map: %w", m.ID, err)
			}
		}
	}
	var parts []string
	for t, n := range types {
		parts = append(parts, fmt.Sprintf("%d %s", n, t))
	}
	sort.Strings(parts)
	summary := fmt.Sprintf("mapped to canonical documents (policy %s): %s", out.Policy, strings.Join(parts, ", "))
	if len(parts) == 0 {
		summary = fmt.Sprintf("mapped (policy %s): no documents", out.Policy)
	}
	switch {
	case out.Rejected && seq > 0:
		summary = fmt.Sprintf("mapping rejected the file (policy %s): %d error(s); the %d document(s) before the first were passed on, none after", out.Policy, out.Errors, seq)
	case out.Rejected:
		summary = fmt.Sprintf("mapping rejected the file (policy %s): %d error(s); no documents passed on", out.Policy, out.Errors)
	case out.Errors > 0:
		summary += fmt.Sprintf("; %d error(s), %d document(s) set aside", out.Errors, len(out.Quarantined))
	}
	if lines := reasons.lines(); len(lines) > 0 {
		summary += "\n" + strings.Join(lines, "\n")
	}
	keys = dedupe(keys)
	res := &mapped{rejected: out.Rejected, reasons: reasons}
	res.record = func(tx store.Tx) error {
		if len(keys) > 0 {
			if err := tx.AddMessageKeys(ctx, m.ID, keys); err != nil {
				return err
			}
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventMapped, Detail: summary}); err != nil {
			return err
		}
		if out.Rejected { // one exception for the file, not one per document
			return p.raiseFileException(ctx, tx, m, "rejected", store.OwnerIT,
				fmt.Sprintf("was rejected by mapping (policy %s, %d error(s))", out.Policy, out.Errors), reasons,
				"Fix the partner's data (have it resend) or its mapping profile, then replay the message")
		}
		for _, q := range out.Quarantined {
			b, _ := json.Marshal(q)
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventException, Detail: "mapping: document set aside: " + string(b)}); err != nil {
				return err
			}
			if _, err := tx.RaiseException(ctx, &store.Exception{Reason: "mapping", Owner: store.OwnerIT, ObjectKind: "message", ObjectKey: m.ID,
				DedupeKey: "mapping/" + m.ID + "/" + q.Document + "/" + q.Pos.String(),
				PartnerID: m.PartnerID, MessageID: m.ID, Detail: fmt.Sprintf("partner %s, file %s: a document was set aside by mapping: %s; "+
					"fix the partner's data or its mapping profile, then replay the message", m.PartnerID, m.RemoteName, b)}); err != nil {
				return err
			}
		}
		return nil
	}
	return res, nil
}

// mappingReason is one mapping error as the "mapped" event lists it: the
// document, the canonical field, where in the source (X12 interchange,
// group, set, segment and element; or line and column) and what is wrong.
func mappingReason(e *mapping.Error) string {
	s, pos := e.Document, e.Pos.String()
	if e.Field != "" && !strings.Contains(pos, "("+e.Field+")") {
		s += ", field " + e.Field
	}
	if pos != "" {
		s += " (" + pos + ")"
	}
	return s + ": " + e.Message()
}

// mapRecords maps a CSV or fixed-width file from a partner whose
// configuration names its layout (an ERP's order export). The message is
// processed once its documents are handed on, in one transaction with what
// mapping found; rejected when mapping rejected it.
func (p *Processor) mapRecords(ctx context.Context, m *store.Message, r io.Reader, l *mapping.RecordLayout) error {
	res, err := p.mapRun(ctx, m, r, func(ctx context.Context, r io.Reader, o mapping.Options) (*mapping.Outcome, error) {
		return mapping.FromRecords(ctx, r, l, o)
	})
	if err != nil {
		return err
	}
	if err := p.finishWith(ctx, m, "records", res.status(), map[string]bool{l.Document(): true}, nil, lifecycle.EventParsed,
		fmt.Sprintf("read with layout %s (%s documents)", l.Name(), l.Document()), res.record,
		p.settleFileExceptions(ctx, m, res.status(), fileExceptionOf(res.status(), "rejected")...), last(ctx)); err != nil {
		return err
	}
	p.warnRejected(m, "mapping", res)
	return nil
}

// status is the message's status after mapping: rejected or processed.
func (res *mapped) status() lifecycle.Status {
	if res.rejected {
		return lifecycle.StatusRejected
	}
	return lifecycle.StatusProcessed
}

// warnRejected logs one WARN line for a file mapping rejected.
func (p *Processor) warnRejected(m *store.Message, by string, res *mapped) {
	if res == nil || !res.rejected || p.Logger == nil {
		return
	}
	p.Logger.Warn("process: file rejected by "+by, "partner", m.PartnerID, "file", m.RemoteName, "message", m.ID,
		"reason", res.reasons.firstReason(), "errors", res.reasons.nErrs)
}

// looksCanonical tells whether the content starts with a canonical JSON document.
func looksCanonical(head []byte) bool {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	return bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(`"type"`))
}

// mapJSON reads canonical JSON Lines (or one JSON document), as internal
// systems post them over HTTP.
func (p *Processor) mapJSON(ctx context.Context, m *store.Message, r io.Reader) error {
	res, err := p.mapRun(ctx, m, r, func(ctx context.Context, r io.Reader, o mapping.Options) (*mapping.Outcome, error) {
		return fromJSONLines(r, m.PartnerID, o)
	})
	if err != nil {
		return err
	}
	if err := p.finishWith(ctx, m, "json", res.status(), nil, nil, lifecycle.EventParsed, "canonical JSON", res.record,
		p.settleFileExceptions(ctx, m, res.status(), fileExceptionOf(res.status(), "rejected")...), last(ctx)); err != nil {
		return err
	}
	p.warnRejected(m, "mapping", res)
	return nil
}

// fromJSONLines is the mapping reader of canonical JSON Lines: a line that
// is not a canonical document is set aside like any document mapping sets
// aside (with the reject policy it rejects the file); a document that is
// not JSON stops the file and rejects it: what follows cannot be read.
// Errors go to o.OnError; the error returned is Emit's only.
func fromJSONLines(r io.Reader, partner string, o mapping.Options) (*mapping.Outcome, error) {
	out := &mapping.Outcome{Partner: partner}
	reject := false
	if o.Profile != nil {
		out.Policy, reject = o.Profile.Policy.String(), o.Profile.Policy == mapping.Reject
	}
	fail := func(n int, err error) {
		out.Errors++
		doc := fmt.Sprintf("document %d", n)
		e := &mapping.Error{Partner: partner, Document: doc, Pos: mapping.Position{Line: n}, Err: err}
		if o.OnError != nil {
			o.OnError(e)
		}
		out.Quarantined = append(out.Quarantined, mapping.Quarantined{Document: doc, Pos: e.Pos, Errors: []*mapping.Error{e}})
	}
	dec := json.NewDecoder(iobuf.NewReader(r, 0, 64<<10))
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			fail(n, fmt.Errorf("%w: not JSON: %w (send one canonical JSON document per line); nothing after it was read", mapping.ErrInput, err))
			out.Rejected = true
			return out, nil
		}
		d, err := canonical.Decode(raw)
		if err != nil {
			fail(n, err)
			if reject {
				out.Rejected = true
				return out, nil
			}
			continue
		}
		out.Documents++
		if err := o.Emit(d); err != nil {
			return out, err
		}
	}
}

// Documents maps an archived message again, without recording anything,
// and returns its canonical documents: what a trace shows of it. Inbound or
// outbound, X12, the partner's layout or canonical JSON; other content has none.
func (p *Processor) Documents(ctx context.Context, m *store.Message) ([]canonical.Document, error) {
	rc, _, err := p.Archive.Get(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	br := iobuf.NewReader(rc, 4096, 64<<10) // the archive's reader tells its size
	head, _ := br.Peek(4096)
	var prof *mapping.Profile
	if p.Profile != nil {
		prof = p.Profile(m.PartnerID)
	}
	if prof == nil {
		prof = mapping.DefaultProfile()
	}
	var docs []canonical.Document
	o := mapping.Options{Profile: prof, Emit: func(d canonical.Document) error {
		if len(docs) < 10000 {
			docs = append(docs, d)
		}
		return nil
	}}
	switch {
	case looksX12(head):
		_, err = mapping.FromX12(ctx, br, o)
	case m.Direction == store.Inbound && p.layout(m.PartnerID) != nil:
		_, err = mapping.FromRecords(ctx, br, p.layout(m.PartnerID), o)
	case looksCanonical(head):
		_, err = fromJSONLines(br, m.PartnerID, o)
	}
	return docs, err
}
