package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// exerciseSync covers the exceptions queue and the sync stage's tables:
// business objects, their append-only history, references and timers.
func exerciseSync(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()

	t.Run("Exceptions", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.RaiseException(ctx, &store.Exception{}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("no reason: %v, want ErrInvalid", err)
		}
		a := &store.Exception{Reason: "dispute", Detail: "charge 1,250.00 vs tendered 1,000.00", Owner: store.OwnerOperations,
			ObjectKind: "shipment", ObjectKey: "SH1", PartnerID: "acme", DedupeKey: "dispute/SH1"}
		created, err := s.RaiseException(ctx, a)
		if err != nil || !created || a.ID == "" || a.Status != store.ExceptionOpen {
			t.Fatalf("raise: created=%v err=%v %+v", created, err, a)
		}
		// The same dedupe key while open: one entry, a "repeated" event.
		again := &store.Exception{Reason: "dispute", DedupeKey: "dispute/SH1"}
		created, err = s.RaiseException(ctx, again)
		if err != nil || created || again.ID != a.ID || again.Detail != a.Detail {
			t.Fatalf("raise again: created=%v err=%v %+v", created, err, again)
		}
		b := &store.Exception{Reason: "sla.pod", Owner: store.OwnerIT, ObjectKind: "shipment", ObjectKey: "SH2"}
		if _, err := s.RaiseException(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RaiseException(ctx, &store.Exception{Reason: "x", Owner: "nobody"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad owner: %v", err)
		}
		list, err := s.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}})
		if err != nil || len(list) != 2 || list[0].ID != b.ID {
			t.Fatalf("list open newest first: %v %v", err, list)
		}
		if l, _ := s.ListExceptions(ctx, store.ExceptionFilter{Reason: "sla."}); len(l) != 1 || l[0].ID != b.ID {
			t.Fatalf("reason prefix: %v", l)
		}
		if l, _ := s.ListExceptions(ctx, store.ExceptionFilter{Owner: store.OwnerIT}); len(l) != 1 {
			t.Fatalf("owner filter: %v", l)
		}
		if l, _ := s.ListExceptions(ctx, store.ExceptionFilter{ObjectKey: "SH1"}); len(l) != 1 || l[0].ID != a.ID {
			t.Fatalf("object filter: %v", l)
		}
		if l, _ := s.ListExceptions(ctx, store.ExceptionFilter{Limit: 1}); len(l) != 1 {
			t.Fatalf("limit: %v", l)
		} else if next, _ := s.ListExceptions(ctx, store.ExceptionFilter{Before: l[0].CreatedAt, BeforeID: l[0].ID}); len(next) != 1 || next[0].ID != a.ID {
			t.Fatalf("page 2: %v", next)
		}
		if err := s.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: a.ID, Status: store.ExceptionResolved, Actor: "ops-anna", Comment: "carrier re-billed"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: a.ID, Status: store.ExceptionResolved, Actor: "ops-anna", Comment: ""}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("resolve twice: %v", err)
		}
		if err := s.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: "nope", Status: store.ExceptionResolved, Actor: "x", Comment: ""}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		// Closed: the dedupe key is free again.
		c := &store.Exception{Reason: "dispute", DedupeKey: "dispute/SH1"}
		if created, err := s.RaiseException(ctx, c); err != nil || !created || c.ID == a.ID {
			t.Fatalf("raise after resolve: %v %v", created, err)
		}
		// Reopening a that would clash with c's open dedupe key is a conflict.
		if err := s.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: a.ID, Status: store.ExceptionOpen, Actor: "ops", Comment: ""}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("reopen with an open duplicate: %v, want ErrConflict", err)
		}
		if err := s.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: a.ID, Kind: "commented", Actor: "auditor", Comment: "checked"}); err != nil {
			t.Fatal(err)
		}
		evs, err := s.ExceptionEvents(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		if got := join(kinds); got != "raised,repeated,resolved,commented" {
			t.Fatalf("history %s", got)
		}
		if evs[2].Actor != "ops-anna" || evs[2].Comment != "carrier re-billed" {
			t.Fatalf("resolution event %+v", evs[2])
		}
		got, err := s.GetException(ctx, a.ID)
		if err != nil || got.Status != store.ExceptionResolved || got.PartnerID != "acme" || !got.UpdatedAt.After(got.CreatedAt) {
			t.Fatalf("get: %v %+v", err, got)
		}
		counts, err := s.CountOpenExceptions(ctx)
		if err != nil || counts[[2]string{"dispute", "operations"}] != 1 || counts[[2]string{"sla.pod", "it"}] != 1 {
			t.Fatalf("counts %v %v", err, counts)
		}
		// History is append-only at the database.
		err = s.WithTx(ctx, func(tx store.Tx) error {
			return rawExec(ctx, tx, "UPDATE exception_events SET comment = 'x'")
		})
		if err == nil {
			t.Fatal("exception_events accepted an UPDATE")
		}
	})

	t.Run("SyncObjects", func(t *testing.T) {
		s, _ := open(t)
		if _, err := s.GetSyncObject(ctx, "order", "PO1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		o := &store.SyncObject{Kind: "order", Key: "PO1", State: "created", Data: `{"system":"erp"}`}
		if err := s.PutSyncObject(ctx, o); err != nil {
			t.Fatal(err)
		}
		o2 := &store.SyncObject{Kind: "order", Key: "PO1", State: "tendered", Data: `{"system":"erp","carrier":"acme"}`}
		if err := s.PutSyncObject(ctx, o2); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSyncObject(ctx, "order", "PO1")
		if err != nil || got.State != "tendered" || got.Data != o2.Data || !got.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("get %v %+v (created %v)", err, got, o.CreatedAt)
		}
		if err := s.PutSyncObject(ctx, &store.SyncObject{Kind: "shipment", Key: "SH1", State: "delivered"}); err != nil {
			t.Fatal(err)
		}
		// Ensure creates an empty object once, never changes an existing
		// one, and returns it as it is.
		for range 2 {
			if o, err := s.EnsureSyncObject(ctx, "invoice", "INV1"); err != nil || o.Kind != "invoice" || o.Key != "INV1" || o.State != "" || o.Data != "{}" {
				t.Fatalf("ensured object: %v %+v", err, o)
			}
		}
		if o, err := s.EnsureSyncObject(ctx, "order", "PO1"); err != nil || o.State != "tendered" || o.Data != o2.Data || !o.CreatedAt.Equal(got.CreatedAt) || !o.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("ensure of an existing object: %v %+v, want %+v", err, o, got)
		}
		if o, _ := s.GetSyncObject(ctx, "order", "PO1"); o.State != "tendered" || !o.UpdatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("ensure changed an existing object: %+v", o)
		}
		if l, err := s.ListSyncObjects(ctx, "order", "tendered", 0); err != nil || len(l) != 1 {
			t.Fatalf("list %v %v", err, l)
		}
		if c, _ := s.CountSyncObjects(ctx); c[[2]string{"order", "tendered"}] != 1 || c[[2]string{"shipment", "delivered"}] != 1 {
			t.Fatalf("count %v", c)
		}
		for _, ev := range []string{"created", "tendered"} {
			if err := s.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "order", Key: "PO1", Event: ev, System: "erp", MessageID: "m1"}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.SyncEvents(ctx, "order", "PO1")
		if err != nil || len(evs) != 2 || evs[0].Event != "created" || evs[1].System != "erp" {
			t.Fatalf("events %v %v", err, evs)
		}
		if byMsg, _ := s.SyncEventsByMessage(ctx, "m1"); len(byMsg) != 2 {
			t.Fatalf("by message %v", byMsg)
		}
		if n, err := s.CountSyncEvents(ctx, "order", "tendered"); err != nil || n != 1 {
			t.Fatalf("count sync events: %d %v", n, err)
		}
		err = s.WithTx(ctx, func(tx store.Tx) error { return rawExec(ctx, tx, "DELETE FROM sync_events") })
		if err == nil {
			t.Fatal("sync_events accepted a DELETE")
		}
		refs := []store.SyncRef{{Value: "PO1", Type: "po", Kind: "order", Key: "PO1"}, {Value: "BOL9", Type: "bol", Kind: "order", Key: "PO1"},
			{Value: "BOL9", Type: "bol", Kind: "shipment", Key: "SH1"}}
		if err := s.AddSyncRefs(ctx, append(refs, refs[0])); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.SyncRefsByValue(ctx, "BOL9"); len(r) != 2 || r[0].Kind != "order" || r[1].Key != "SH1" {
			t.Fatalf("by value %v", r)
		}
		if r, _ := s.SyncRefs(ctx, "order", "PO1"); len(r) != 2 {
			t.Fatalf("refs %v", r)
		}
		// An object and the references by a value, in one query.
		if ok, r, err := s.SyncObjectOrRefs(ctx, "order", "PO1"); err != nil || !ok || len(r) != 1 || r[0].Type != "po" {
			t.Fatalf("order PO1 and its value's refs: %v %v %v", ok, r, err)
		}
		if ok, r, err := s.SyncObjectOrRefs(ctx, "shipment", "BOL9"); err != nil || ok || len(r) != 2 || r[0].Kind != "order" || r[1].Key != "SH1" {
			t.Fatalf("no shipment BOL9, the value's refs: %v %v %v", ok, r, err)
		}
		if ok, r, err := s.SyncObjectOrRefs(ctx, "shipment", "SH1"); err != nil || !ok || len(r) != 0 {
			t.Fatalf("shipment SH1, no refs by its key: %v %v %v", ok, r, err)
		}
		// A message gets the keys of what it changed: each once, not
		// "other", the first ones by type and value; in a transaction, the
		// references it added included.
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound}
		if err := s.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		err = s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AddSyncRefs(ctx, []store.SyncRef{{Value: "X-1", Type: "other", Kind: "order", Key: "PO1"},
				{Value: "PRO-5", Type: "pro", Kind: "shipment", Key: "SH1"}}); err != nil {
				return err
			}
			return tx.AddObjectKeys(ctx, m.ID, [][2]string{{"order", "PO1"}, {"shipment", "SH1"}, {"invoice", "none"}}, 10)
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Key{{Kind: "bol", Value: "BOL9"}, {Kind: "po", Value: "PO1"}, {Kind: "pro", Value: "PRO-5"}}
		if keys, err := s.MessageKeys(ctx, m.ID); err != nil || !slices.Equal(keys, want) {
			t.Fatalf("object keys %v %v, want %v", keys, err, want)
		}
		m2 := &store.Message{PartnerID: "acme", Direction: store.Inbound}
		if err := s.InsertMessage(ctx, m2); err != nil {
			t.Fatal(err)
		}
		if err := s.AddObjectKeys(ctx, m2.ID, [][2]string{{"order", "PO1"}, {"shipment", "SH1"}}, 2); err != nil {
			t.Fatal(err)
		}
		if keys, err := s.MessageKeys(ctx, m2.ID); err != nil || !slices.Equal(keys, want[:2]) {
			t.Fatalf("object keys, two at most: %v %v, want %v", keys, err, want[:2])
		}
	})

	t.Run("SyncObjectLock", func(t *testing.T) {
		s, _ := open(t)
		if s.Driver() != "postgres" {
			t.Skip("SQLite serialises write transactions; row locks are PostgreSQL's")
		}
		if err := s.PutSyncObject(ctx, &store.SyncObject{Kind: "shipment", Key: "SH1", State: "planned"}); err != nil {
			t.Fatal(err)
		}
		locked := make(chan struct{})
		release := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- s.WithTx(ctx, func(tx store.Tx) error {
				if _, err := tx.GetSyncObjectForUpdate(ctx, "shipment", "SH1"); err != nil {
					return err
				}
				if _, err := tx.EnsureSyncObject(ctx, "shipment", "SH-NEW"); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		// A second transaction that changes the same shipment waits for the
		// first; with a lock timeout it gives up instead of reading stale data.
		err := s.WithTx(ctx, func(tx store.Tx) error {
			if err := rawExec(ctx, tx, "SET LOCAL lock_timeout = '100ms'"); err != nil {
				return err
			}
			_, err := tx.GetSyncObjectForUpdate(ctx, "shipment", "SH1")
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "lock") {
			close(release)
			t.Fatalf("second transaction read a locked object: %v", err)
		}
		// Ensure locks and waits as well, for an object there already and
		// for one the first transaction is creating.
		for _, key := range []string{"SH1", "SH-NEW"} {
			err = s.WithTx(ctx, func(tx store.Tx) error {
				if err := rawExec(ctx, tx, "SET LOCAL lock_timeout = '100ms'"); err != nil {
					return err
				}
				_, err := tx.EnsureSyncObject(ctx, "shipment", key)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "lock") {
				close(release)
				t.Fatalf("ensure of %s read a locked object: %v", key, err)
			}
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSyncObjectForUpdate(ctx, "shipment", "SH1"); err != nil {
			t.Fatalf("after the first committed: %v", err)
		}
	})

	t.Run("SyncTimers", func(t *testing.T) {
		s, _ := open(t)
		due := time.Now().Add(-time.Minute)
		t1 := &store.SyncTimer{Name: "invoice_after_delivery", Kind: "shipment", Key: "SH1", DueAt: due, Owner: store.OwnerOperations, Detail: "invoice within 24h"}
		if ok, err := s.StartSyncTimer(ctx, t1); err != nil || !ok {
			t.Fatalf("start %v %v", ok, err)
		}
		if ok, err := s.StartSyncTimer(ctx, &store.SyncTimer{Name: "invoice_after_delivery", Kind: "shipment", Key: "SH1", DueAt: due.Add(time.Hour)}); err != nil || ok {
			t.Fatalf("start twice %v %v", ok, err)
		}
		if _, err := s.StartSyncTimer(ctx, &store.SyncTimer{Name: "later", Kind: "shipment", Key: "SH1", DueAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		dueNow, err := s.DueSyncTimers(ctx, time.Now(), 0)
		if err != nil || len(dueNow) != 1 || dueNow[0].Name != "invoice_after_delivery" || !dueNow[0].SettledAt.IsZero() {
			t.Fatalf("due %v %v", err, dueNow)
		}
		if ok, err := s.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: "invoice_after_delivery", Kind: "shipment", Key: "SH1", Status: "breached"}); err != nil || !ok {
			t.Fatalf("settle %v %v", ok, err)
		}
		if ok, _ := s.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: "invoice_after_delivery", Kind: "shipment", Key: "SH1", Status: "met"}); ok {
			t.Fatal("settled a timer twice")
		}
		if _, err := s.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: "later", Kind: "shipment", Key: "SH1", Status: "done"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad status %v", err)
		}
		if d, _ := s.DueSyncTimers(ctx, time.Now(), 0); len(d) != 0 {
			t.Fatalf("still due %v", d)
		}
		all, err := s.SyncTimers(ctx, "shipment", "SH1")
		if err != nil || len(all) != 2 || all[0].Status != "breached" || all[0].SettledAt.IsZero() || all[1].Status != "pending" {
			t.Fatalf("timers %v %+v", err, all)
		}
	})

	t.Run("SyncBatches", func(t *testing.T) {
		s, _ := open(t)
		item := func(key string) *store.BatchItem {
			return &store.BatchItem{Route: "erp-nightly", Kind: "invoice", Key: key, Event: "invoice.approved", SourceID: "m-" + key,
				Doc: `{"type":"invoice","version":"1","invoice_number":"` + key + `"}`, Idem: "route:erp-nightly:" + key}
		}
		for _, k := range []string{"INV1", "INV2", "INV1"} {
			if _, err := s.QueueBatchItem(ctx, item(k)); err != nil {
				t.Fatal(err)
			}
		}
		if ok, _ := s.QueueBatchItem(ctx, item("INV1")); ok {
			t.Fatal("the same send queued twice")
		}
		if _, err := s.QueueBatchItem(ctx, &store.BatchItem{Route: "x"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("empty item: %v", err)
		}
		claim, items, err := s.ClaimBatch(ctx, "erp-nightly", 0)
		if err != nil || len(items) != 2 || items[0].Key != "INV1" || items[1].Key != "INV2" || items[0].Batch != claim {
			t.Fatalf("claim: %v %q %+v", err, claim, items)
		}
		// Arriving after the claim: waits for the next run.
		if _, err := s.QueueBatchItem(ctx, item("INV3")); err != nil {
			t.Fatal(err)
		}
		// A run that crashed after claiming gets the same items under the same claim.
		again, items2, err := s.ClaimBatch(ctx, "erp-nightly", 0)
		if err != nil || again != claim || len(items2) != 2 {
			t.Fatalf("re-claim: %v %q %d", err, again, len(items2))
		}
		// A claim that could not be sent goes back to waiting, whole.
		if err := s.ReleaseBatch(ctx, claim); err != nil {
			t.Fatal(err)
		}
		claim, items2, err = s.ClaimBatch(ctx, "erp-nightly", 0)
		if err != nil || len(items2) != 3 {
			t.Fatalf("claim after release: %v %d (want INV1, INV2 and INV3)", err, len(items2))
		}
		if err := s.ReleaseBatch(ctx, claim); err != nil {
			t.Fatal(err)
		}
		claim, _, _ = s.ClaimBatch(ctx, "erp-nightly", 2)
		if err := s.SettleBatch(ctx, claim, "msg-batch-1"); err != nil {
			t.Fatal(err)
		}
		next, items3, err := s.ClaimBatch(ctx, "erp-nightly", 0)
		if err != nil || next == claim || len(items3) != 1 || items3[0].Key != "INV3" {
			t.Fatalf("next run: %v %q %+v", err, next, items3)
		}
		if err := s.SettleBatch(ctx, next, "msg-batch-2"); err != nil {
			t.Fatal(err)
		}
		if _, items4, err := s.ClaimBatch(ctx, "erp-nightly", 0); err != nil || len(items4) != 0 {
			t.Fatalf("nothing left: %v %+v", err, items4)
		}
		if _, other, _ := s.ClaimBatch(ctx, "other-route", 0); len(other) != 0 {
			t.Fatalf("another route's items: %+v", other)
		}
	})
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
