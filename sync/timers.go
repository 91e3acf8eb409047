package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// CheckTimers turns every SLA timer past due into a breach: the timer is
// settled "breached", the object's history says so, and an exception with
// the SLA's owner joins the queue. It is the "sync.sla" job; it returns the
// number of breaches raised.
func (e *Engine) CheckTimers(ctx context.Context) (int, error) {
	due, err := e.Store.DueSyncTimers(ctx, e.now(), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range due {
		breached := false
		err := e.Store.WithTx(ctx, func(tx store.Tx) error {
			ok, err := tx.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: t.Name, Kind: t.Kind, Key: t.Key, Status: "breached"})
			if err != nil || !ok {
				return err // settled meanwhile
			}
			breached = true
			detail := fmt.Sprintf("SLA %s breached for %s %s: %s; it was due %s", t.Name, t.Kind, t.Key, t.Detail, t.DueAt.Format(time.RFC3339))
			if o, err := tx.GetSyncObject(ctx, t.Kind, t.Key); err == nil {
				detail += fmt.Sprintf(" (state now: %s)", o.State)
			}
			detail += "; " + slaAdvice(t.Name, t.Detail)
			if err := tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: t.Kind, Key: t.Key, Event: "sla.breached", System: "wharf", Detail: detail}); err != nil {
				return err
			}
			_, err = tx.RaiseException(ctx, &store.Exception{Reason: "sla." + t.Name, Owner: t.Owner, ObjectKind: t.Kind, ObjectKey: t.Key,
				DedupeKey: "sla/" + t.Name + "/" + t.Kind + "/" + t.Key, Detail: detail})
			return err
		})
		if err != nil {
			return n, err
		}
		if !breached {
			continue
		}
		n++
		e.log().Warn("SLA breached", "sla", t.Name, "object", t.Kind+" "+t.Key, "due", t.DueAt, "owner", t.Owner)
		breaches.WithLabelValues(t.Name, t.Owner).Inc()
	}
	return n, nil
}

func slaAdvice(name, detail string) string {
	switch {
	case strings.Contains(detail, "invoice"):
		return "check the invoicing platform's queue for this shipment"
	case strings.Contains(detail, "shipment.shipped"):
		return "ask the warehouse for the ship confirmation"
	case strings.Contains(detail, "tender"):
		return "call the carrier or tender the load to another one"
	case strings.Contains(detail, "delivered"), strings.Contains(detail, "pod"):
		return "ask the carrier for the delivery status and proof of delivery"
	}
	return "look at the trace of the object (wharf trace KEY)"
}

// Expectation is a file a system must have sent by a time of day: "the ERP
// export by 06:00". It is checked on its own cron schedule.
type Expectation struct {
	Name    string
	Partner string        // the system or partner expected to send
	Window  time.Duration // how far back a received message counts (default 24h)
	Owner   string
}

// CheckExpectation raises an exception when partner sent nothing within
// the window; it returns whether the expectation was met.
func (e *Engine) CheckExpectation(ctx context.Context, x Expectation) (bool, error) {
	w := x.Window
	if w <= 0 {
		w = 24 * time.Hour
	}
	now := e.now()
	ms, err := e.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: x.Partner, Direction: store.Inbound, Since: now.Add(-w), Limit: 1})
	if err != nil {
		return false, err
	}
	if len(ms) > 0 {
		return true, nil
	}
	owner := x.Owner
	if owner == "" {
		owner = store.OwnerIT
	}
	detail := fmt.Sprintf("expected file from %s not received: nothing arrived in the %s before %s; check that %s's export ran and can reach Wharf",
		x.Partner, w, now.Format(time.RFC3339), x.Partner)
	created, err := e.Store.RaiseException(ctx, &store.Exception{Reason: "sla." + x.Name, Owner: owner, ObjectKind: "partner", ObjectKey: x.Partner,
		PartnerID: x.Partner, DedupeKey: "expect/" + x.Name + "/" + now.Format("2006-01-02"), Detail: detail})
	if err == nil && created {
		breaches.WithLabelValues(x.Name, owner).Inc()
		e.log().Warn("expected file not received", "expectation", x.Name, "partner", x.Partner)
	}
	return false, err
}

// Reconcile raises an exception for each object stuck between systems:
// orders created (or changed) but not shipped, and shipments delivered but
// not invoiced, for longer than after, oldest first. An object whose
// exception is still open is left alone (no hourly "repeated" noise). It is
// the "sync.reconcile" job; it returns the number of exceptions raised.
func (e *Engine) Reconcile(ctx context.Context, after time.Duration) (int, error) {
	cut := e.now().Add(-after)
	n := 0
	for _, q := range []struct {
		kind         string
		states       []string
		reason, what string
	}{
		{KindOrder, []string{"created", "changed"}, "reconcile.unshipped", "order %s was created %s and has no ship confirmation; ask the warehouse"},
		{KindShipment, []string{"delivered"}, "reconcile.uninvoiced", "shipment %s was delivered (last change %s) and is not invoiced; check billing holds and the invoicing platform"},
	} {
		objs, err := e.Store.StaleSyncObjects(ctx, q.kind, q.states, cut, 0)
		if err != nil {
			return n, err
		}
		for _, o := range objs {
			open, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: q.reason, ObjectKey: o.Key, Limit: 1})
			if err != nil {
				return n, err
			}
			if len(open) > 0 {
				continue
			}
			created, err := e.Store.RaiseException(ctx, &store.Exception{Reason: q.reason, Owner: store.OwnerOperations, ObjectKind: o.Kind, ObjectKey: o.Key,
				DedupeKey: q.reason + "/" + o.Key, Detail: fmt.Sprintf(q.what, o.Key, o.UpdatedAt.Format(time.RFC3339))})
			if err != nil {
				return n, err
			}
			if created {
				n++
			}
		}
	}
	return n, nil
}
