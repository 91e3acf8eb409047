package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

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
// are handed on by Emit (the sync stage, when it lands).
//
// It returns what is to be recorded (nil when there is no profile), for the
// caller to write in the transaction that records the message's status.
func (p *Processor) mapToCanonical(ctx context.Context, m *store.Message) (func(store.Tx) error, error) {
	if p.Profile == nil {
		return nil, nil
	}
	return p.mapRun(ctx, m, nil, mapping.FromX12)
}

// mapRun runs one of the mapping's readers over the message's bytes (r, or
// the archived bytes read again when r is nil), handing each document to
// Emit, and returns the writes that record the outcome (keys, the "mapped"
// event, documents set aside) for the caller's transaction.
func (p *Processor) mapRun(ctx context.Context, m *store.Message, r io.Reader, from func(context.Context, io.Reader, mapping.Options) (*mapping.Outcome, error)) (func(store.Tx) error, error) {
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
	out, err := from(ctx, r, mapping.Options{
		Profile: prof,
		Emit: func(d canonical.Document) error {
			seq++ // the same bytes map to the same documents in the same order
			h := d.Head()
			types[h.Type]++
			for _, r := range canonical.Keys(d) { // references and the document's own identifiers
				if r.Type != canonical.RefOther && len(keys) < 10000 {
					keys = append(keys, store.Key{Kind: r.Type, Value: r.Value})
				}
			}
			if p.Emit != nil {
				return p.Emit(ctx, m, seq, d)
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("process %s: map: %w", m.ID, err)
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
	if out.Rejected {
		summary = fmt.Sprintf("mapping rejected the file (policy %s): %d error(s); no documents passed on", out.Policy, out.Errors)
	}
	keys = dedupe(keys)
	return func(tx store.Tx) error {
		if len(keys) > 0 {
			if err := tx.AddMessageKeys(ctx, m.ID, keys); err != nil {
				return err
			}
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventMapped, Detail: summary}); err != nil {
			return err
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
	}, nil
}

// mapRecords maps a CSV or fixed-width file from a partner whose
// configuration names its layout (an ERP's order export). The message is
// processed once its documents are handed on, in one transaction with what
// mapping found.
func (p *Processor) mapRecords(ctx context.Context, m *store.Message, r io.Reader, l *mapping.RecordLayout) error {
	record, err := p.mapRun(ctx, m, r, func(ctx context.Context, r io.Reader, o mapping.Options) (*mapping.Outcome, error) {
		return mapping.FromRecords(ctx, r, l, o)
	})
	if err != nil {
		return err
	}
	return p.finishWith(ctx, m, "records", lifecycle.StatusProcessed, map[string]bool{l.Document(): true}, nil, lifecycle.EventParsed,
		fmt.Sprintf("read with layout %s (%s documents)", l.Name(), l.Document()), record, last(ctx))
}

// looksCanonical tells whether the content starts with a canonical JSON document.
func looksCanonical(head []byte) bool {
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	return bytes.HasPrefix(head, []byte("{")) && bytes.Contains(head, []byte(`"type"`))
}

// mapJSON reads canonical JSON Lines (or one JSON document), as internal
// systems post them over HTTP.
func (p *Processor) mapJSON(ctx context.Context, m *store.Message, r io.Reader) error {
	record, err := p.mapRun(ctx, m, r, func(ctx context.Context, r io.Reader, o mapping.Options) (*mapping.Outcome, error) {
		return fromJSONLines(r, m.PartnerID, o)
	})
	if err != nil {
		return err
	}
	return p.finishWith(ctx, m, "json", lifecycle.StatusProcessed, nil, nil, lifecycle.EventParsed, "canonical JSON", record, last(ctx))
}

// fromJSONLines is the mapping reader of canonical JSON Lines: a line that
// is not a canonical document is set aside like any document mapping sets
// aside; a line that is not JSON stops the file.
func fromJSONLines(r io.Reader, partner string, o mapping.Options) (*mapping.Outcome, error) {
	out := &mapping.Outcome{Partner: partner}
	if o.Profile != nil {
		out.Policy = o.Profile.Policy.String()
	}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("document %d: %w (send one canonical JSON document per line)", n, err)
		}
		d, err := canonical.Decode(raw)
		if err != nil {
			out.Errors++
			doc := fmt.Sprintf("line %d", n)
			out.Quarantined = append(out.Quarantined, mapping.Quarantined{Document: doc, Pos: mapping.Position{Line: n},
				Errors: []*mapping.Error{{Partner: partner, Document: doc, Pos: mapping.Position{Line: n}, Err: err}}})
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
	br := bufio.NewReaderSize(rc, 64<<10)
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
