package sync

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
)

// TraceResult is everything Wharf knows about a business key: the objects
// it names, every message that carried it or was sent for it, their
// events, the exceptions about them (not those about other objects that
// share a file with them), and one timeline of it all.
type TraceResult struct {
	Key        string             `json:"key"`
	Objects    []*TraceObject     `json:"objects"`
	Messages   []*TraceMessage    `json:"messages"`
	Exceptions []*store.Exception `json:"exceptions"`
	Timeline   []TimelineEntry    `json:"timeline"`
	Systems    []string           `json:"systems"` // partners and systems involved, sorted
}

// TraceObject is a business object with its history.
type TraceObject struct {
	Kind   string             `json:"kind"`
	Key    string             `json:"key"`
	State  string             `json:"state"`
	Data   string             `json:"data"`
	Refs   []store.SyncRef    `json:"refs"`
	Events []*store.SyncEvent `json:"events"`
	Timers []*store.SyncTimer `json:"timers"`
}

// TraceMessage is a message with its keys and history, and the canonical
// documents in it that concern the traced objects (with TraceOptions.Documents).
type TraceMessage struct {
	*store.Message
	Keys      []store.Key          `json:"keys"`
	Events    []*store.Event       `json:"events"`
	Documents []canonical.Document `json:"documents,omitempty"`
	// Test: the message is test traffic (store.KeyTest), which changed
	// none of the traced objects.
	Test bool `json:"test,omitempty"`
}

// TraceOptions add to a trace what the store alone cannot tell.
type TraceOptions struct {
	// Documents maps an archived message to its canonical documents (the
	// caller knows partners' dialects and layouts); nil leaves them out.
	Documents func(ctx context.Context, m *store.Message) ([]canonical.Document, error)
}

// TimelineEntry is one line of the timeline.
type TimelineEntry struct {
	At      time.Time `json:"at"`
	Source  string    `json:"source"` // message, object, exception
	ID      string    `json:"id"`     // message ID, KIND/KEY or exception ID
	System  string    `json:"system"` // partner or system
	What    string    `json:"what"`
	Details string    `json:"details,omitempty"`
}

// Trace finds everything about key in one call: the business objects whose
// references include it (and the objects those point to: an order's
// shipment and invoices), the messages indexed by it or linked to those
// objects, and the exceptions about any of them.
func Trace(ctx context.Context, st TraceStore, key string) (*TraceResult, error) {
	return TraceWith(ctx, st, key, TraceOptions{})
}

// TraceWith is Trace with options.
func TraceWith(ctx context.Context, st TraceStore, key string, o TraceOptions) (*TraceResult, error) {
	res := &TraceResult{Key: key}
	objs := map[[2]string]bool{}
	refs, err := st.SyncRefsByValue(ctx, key)
	if err != nil {
		return nil, err
	}
	// One hop further: the order's shipment, the shipment's invoice.
	for _, r := range refs {
		objs[[2]string{r.Kind, r.Key}] = true
	}
	for o := range clone(objs) {
		more, err := st.SyncRefsByValue(ctx, o[1])
		if err != nil {
			return nil, err
		}
		for _, r := range more {
			objs[[2]string{r.Kind, r.Key}] = true
		}
	}
	msgIDs := map[string]bool{}
	ms, err := st.SearchMessages(ctx, store.MessageFilter{Key: key, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		msgIDs[m.ID] = true
	}
	systems := map[string]bool{}
	for _, k := range sortedKeys(objs) {
		o, err := st.GetSyncObject(ctx, k[0], k[1])
		if err != nil {
			continue
		}
		to := &TraceObject{Kind: o.Kind, Key: o.Key, State: o.State, Data: o.Data}
		if to.Refs, err = st.SyncRefs(ctx, o.Kind, o.Key); err != nil {
			return nil, err
		}
		if to.Events, err = st.SyncEvents(ctx, o.Kind, o.Key); err != nil {
			return nil, err
		}
		if to.Timers, err = st.SyncTimers(ctx, o.Kind, o.Key); err != nil {
			return nil, err
		}
		for _, ev := range to.Events {
			if ev.MessageID != "" {
				msgIDs[ev.MessageID] = true
			}
			if ev.System != "" && ev.System != "wharf" {
				systems[ev.System] = true
			}
			res.Timeline = append(res.Timeline, TimelineEntry{At: ev.At, Source: "object", ID: o.Kind + "/" + o.Key, System: ev.System,
				What: fmt.Sprintf("%s %s: %s", o.Kind, o.Key, ev.Event), Details: ev.Detail})
		}
		for _, t := range to.Timers {
			if t.Status == "breached" {
				res.Timeline = append(res.Timeline, TimelineEntry{At: t.SettledAt, Source: "object", ID: o.Kind + "/" + o.Key, System: "wharf",
					What: fmt.Sprintf("SLA %s breached", t.Name), Details: t.Detail})
			}
		}
		res.Objects = append(res.Objects, to)
	}
	ids := make([]string, 0, len(msgIDs))
	for id := range msgIDs {
		ids = append(ids, id)
	}
	sort.Strings(ids) // IDs are time-ordered
	excSeen := map[string]bool{}
	addExc := func(list []*store.Exception) {
		for _, x := range list {
			if !excSeen[x.ID] {
				excSeen[x.ID] = true
				res.Exceptions = append(res.Exceptions, x)
				res.Timeline = append(res.Timeline, TimelineEntry{At: x.CreatedAt, Source: "exception", ID: x.ID, System: x.PartnerID,
					What: fmt.Sprintf("exception %s (%s, owner %s)", x.Reason, x.Status, x.Owner), Details: x.Detail})
			}
		}
	}
	for _, id := range ids {
		m, err := st.GetMessage(ctx, id)
		if err != nil {
			continue
		}
		tm := &TraceMessage{Message: m}
		if tm.Keys, err = st.MessageKeys(ctx, id); err != nil {
			return nil, err
		}
		if tm.Events, err = st.Events(ctx, id); err != nil {
			return nil, err
		}
		tm.Test = store.IsTest(tm.Keys)
		systems[m.PartnerID] = true
		dir := "from"
		if m.Direction == store.Outbound {
			dir = "to"
		}
		mark := ""
		if tm.Test {
			mark = "[test] "
		}
		for _, ev := range tm.Events {
			what := fmt.Sprintf("%s%s %s %s over %s: %s", mark, m.RemoteName, dir, m.PartnerID, m.Transport, ev.Kind)
			res.Timeline = append(res.Timeline, TimelineEntry{At: ev.At, Source: "message", ID: m.ID, System: m.PartnerID, What: what, Details: ev.Detail})
		}
		if o.Documents != nil {
			docs, err := o.Documents(ctx, m)
			if err != nil {
				tm.Events = append(tm.Events, &store.Event{MessageID: m.ID, Kind: lifecycle.EventTrace, Detail: "its documents cannot be shown: " + err.Error()})
			}
			for _, d := range docs {
				if concerns(d, key, objs) {
					tm.Documents = append(tm.Documents, d)
				}
			}
		}
		res.Messages = append(res.Messages, tm)
		ex, err := st.ListExceptions(ctx, store.ExceptionFilter{MessageID: id})
		if err != nil {
			return nil, err
		}
		// A file may be about other objects too (a 210 with the invoices of
		// several shipments): of its exceptions, those about the file
		// itself and those about the traced objects.
		addExc(slices.DeleteFunc(ex, func(x *store.Exception) bool {
			return x.ObjectKind != "" && x.ObjectKind != "message" && x.ObjectKey != key && !objs[[2]string{x.ObjectKind, x.ObjectKey}]
		}))
	}
	for _, k := range append([][2]string{{"", key}}, sortedKeys(objs)...) {
		ex, err := st.ListExceptions(ctx, store.ExceptionFilter{ObjectKey: k[1]})
		if err != nil {
			return nil, err
		}
		addExc(ex)
	}
	sort.SliceStable(res.Timeline, func(i, j int) bool { return res.Timeline[i].At.Before(res.Timeline[j].At) })
	for s := range systems {
		res.Systems = append(res.Systems, s)
	}
	sort.Strings(res.Systems)
	return res, nil
}

// Empty reports whether Wharf knows nothing about the key.
func (t *TraceResult) Empty() bool {
	return len(t.Objects) == 0 && len(t.Messages) == 0 && len(t.Exceptions) == 0
}

func clone(m map[[2]string]bool) map[[2]string]bool {
	out := make(map[[2]string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[[2]string]bool) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] || out[i][0] == out[j][0] && out[i][1] < out[j][1] })
	return out
}

// concerns reports whether a document carries the key or names one of the objects.
func concerns(d canonical.Document, key string, objs map[[2]string]bool) bool {
	c, _ := interpret(d, time.Time{}) // only the key and kind are read: no clock needed
	if c != nil && (c.key == key || objs[[2]string{c.kind, c.key}]) {
		return true
	}
	for _, r := range d.Head().References {
		if r.Value == key {
			return true
		}
	}
	return false
}
