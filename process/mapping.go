package process

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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
func (p *Processor) mapToCanonical(ctx context.Context, m *store.Message) error {
	if p.Profile == nil {
		return nil
	}
	prof := p.Profile(m.PartnerID)
	rc, _, err := p.Archive.Get(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("process %s: %w", m.ID, err)
	}
	defer rc.Close()
	var keys []store.Key
	types := map[string]int{}
	out, err := mapping.FromX12(ctx, rc, mapping.Options{
		Profile: prof,
		Emit: func(d canonical.Document) error {
			h := d.Head()
			types[h.Type]++
			for _, r := range h.References {
				if r.Value != "" && r.Type != "other" && len(keys) < 10000 {
					keys = append(keys, store.Key{Kind: r.Type, Value: r.Value})
				}
			}
			if p.Emit != nil {
				return p.Emit(ctx, m, d)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("process %s: map: %w", m.ID, err)
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
	return p.Store.WithTx(ctx, func(tx store.Tx) error {
		if len(keys) > 0 {
			if err := tx.AddMessageKeys(ctx, m.ID, keys); err != nil {
				return err
			}
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: "mapped", Detail: summary}); err != nil {
			return err
		}
		for _, q := range out.Quarantined {
			b, _ := json.Marshal(q)
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: "exception", Detail: "mapping: document set aside: " + string(b)}); err != nil {
				return err
			}
			if _, err := tx.RaiseException(ctx, &store.Exception{Reason: "mapping", Owner: store.OwnerIT, ObjectKind: "message", ObjectKey: m.ID,
				PartnerID: m.PartnerID, MessageID: m.ID, Detail: fmt.Sprintf("partner %s, file %s: a document was set aside by mapping: %s; "+
					"fix the partner's data or its mapping profile, then replay the message", m.PartnerID, m.RemoteName, b)}); err != nil {
				return err
			}
		}
		return nil
	})
}
