package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// latency prints, from the store's records, how long each stage took for
// every object of the demo: from the arrival of the message that caused a
// business event to the event (understand and decide), and from that
// arrival to the delivery of what a route sent (render, archive, deliver).
// End to end: from the ERP's drop to each order's invoice posted to the ERP.
func (d *demo) latency(ctx context.Context) error {
	msgs := map[string]*store.Message{}
	msg := func(id string) *store.Message {
		if m, ok := msgs[id]; ok {
			return m
		}
		m, err := d.st.GetMessage(ctx, id)
		if err != nil {
			m = nil
		}
		msgs[id] = m
		return m
	}
	delivered := func(id string) (time.Time, bool) {
		evs, err := d.st.Events(ctx, id)
		if err != nil {
			return time.Time{}, false
		}
		for _, e := range evs {
			if e.Kind == lifecycle.EventDelivered {
				return e.At, true
			}
		}
		return time.Time{}, false
	}
	stages := map[string][]time.Duration{}
	var e2e []time.Duration
	drop := d.marks["erp drop"]
	for _, kind := range []string{"order", "shipment", "invoice"} {
		objs, err := d.st.ListSyncObjects(ctx, kind, "", 0)
		if err != nil {
			return err
		}
		for _, o := range objs {
			evs, err := d.st.SyncEvents(ctx, o.Kind, o.Key)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if ev.MessageID == "" {
					continue
				}
				if ev.Event != "sent" {
					if m := msg(ev.MessageID); m != nil && m.Direction == store.Inbound && !strings.HasPrefix(ev.Detail, "via ") {
						stages["event "+ev.Event] = append(stages["event "+ev.Event], ev.At.Sub(m.ReceivedAt))
					}
					continue
				}
				out := msg(ev.MessageID)
				if out == nil || out.ParentID == "" {
					continue
				}
				src := msg(out.ParentID)
				if src == nil {
					continue
				}
				route, _, _ := strings.Cut(strings.TrimPrefix(ev.Detail, "route "), ":")
				stages["queued "+route] = append(stages["queued "+route], out.ReceivedAt.Sub(src.ReceivedAt))
				if at, ok := delivered(out.ID); ok {
					stages["delivered "+route] = append(stages["delivered "+route], at.Sub(src.ReceivedAt))
					if route == "invoice-posting" && !drop.IsZero() {
						e2e = append(e2e, at.Sub(drop))
					}
				}
			}
		}
	}
	names := make([]string, 0, len(stages))
	for k := range stages {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(d.out, "\nLatency per stage (%d orders; from the arrival of the message that caused it):\n\n", d.orders)
	fmt.Fprintf(d.out, "| stage | n | p50 | p99 | max |\n|---|---|---|---|---|\n")
	for _, k := range names {
		p50, p99, mx := percentiles(stages[k])
		fmt.Fprintf(d.out, "| %s | %d | %s | %s | %s |\n", k, len(stages[k]), p50, p99, mx)
	}
	if len(e2e) > 0 {
		p50, p99, mx := percentiles(e2e)
		fmt.Fprintf(d.out, "| ERP drop → invoice posted to the ERP (includes the simulated systems' own pace) | %d | %s | %s | %s |\n", len(e2e), p50, p99, mx)
	}
	if t := d.marks["invoices posted"]; !t.IsZero() && !drop.IsZero() {
		fmt.Fprintf(d.out, "\nWhole run: %s from the ERP's drop to the last invoice posted.\n", t.Sub(drop).Round(time.Millisecond))
	}
	return nil
}

func percentiles(ds []time.Duration) (p50, p99, max time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Millisecond) }
	return at(0.50), at(0.99), s[len(s)-1].Round(time.Millisecond)
}
