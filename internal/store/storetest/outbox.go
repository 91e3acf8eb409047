package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

func exerciseOutbox(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	// drain assigns positions and returns every event after pos.
	drain := func(t *testing.T, s store.Store, pos int64) []*store.OutboxEvent {
		t.Helper()
		for {
			n, err := s.AssignOutbox(ctx, 3) // small batches: several rounds
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		evs, err := s.OutboxAfter(ctx, pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	types := func(evs []*store.OutboxEvent) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Type+" "+e.ObjectKey)
		}
		return strings.Join(out, ", ")
	}

	t.Run("OutboxAppendAssign", func(t *testing.T) {
		s, _ := open(t)
		at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		for i := range 7 {
			e := &store.OutboxEvent{At: at.Add(time.Duration(i) * time.Second), Type: "shipment.shipped", ObjectKind: "shipment",
				ObjectKey: fmt.Sprintf("SH-%d", i), Subject: fmt.Sprintf("SH-%d", i), PartnerID: "wms", MessageID: "m1", CorrelationID: "c1",
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
			if err := s.AppendOutbox(ctx, e); err != nil {
				t.Fatal(err)
			}
			if e.ID == "" {
				t.Fatalf("append did not fill ID: %+v", e)
			}
		}
		if err := s.AppendOutbox(ctx, &store.OutboxEvent{Type: "x", Data: json.RawMessage(`{`)}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("data that is not JSON: want ErrInvalid, got %v", err)
		}
		if err := s.AppendOutbox(ctx, &store.OutboxEvent{}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("no type: want ErrInvalid, got %v", err)
		}
		// Nothing is visible to a cursor before it has a position.
		if evs, _ := s.OutboxAfter(ctx, 0, 100); len(evs) != 0 {
			t.Fatalf("events before AssignOutbox: %d", len(evs))
		}
		evs := drain(t, s, 0)
		if len(evs) != 7 {
			t.Fatalf("events: %d, want 7", len(evs))
		}
		for i, e := range evs {
			if e.Seq == 0 || i > 0 && e.Seq <= evs[i-1].Seq {
				t.Fatalf("event %d: seq %d, not in the order of writing", i, e.Seq)
			}
			if e.Pos != int64(i+1) || e.ObjectKey != fmt.Sprintf("SH-%d", i) || string(e.Data) != fmt.Sprintf(`{"n":%d}`, i) ||
				!e.At.Equal(at.Add(time.Duration(i)*time.Second)) || e.PartnerID != "wms" || e.CorrelationID != "c1" {
				t.Fatalf("event %d: %+v", i, e)
			}
		}
		if head, err := s.OutboxHead(ctx); err != nil || head != 7 {
			t.Fatalf("head %d %v", head, err)
		}
		if evs, _ := s.OutboxAfter(ctx, 5, 100); len(evs) != 2 || evs[0].Pos != 6 {
			t.Fatalf("after 5: %s", types(evs))
		}
		if evs, _ := s.OutboxSince(ctx, at.Add(4*time.Second), 0, 100); len(evs) != 3 || evs[0].ObjectKey != "SH-4" {
			t.Fatalf("since +4s: %s", types(evs))
		}
		oldest, n, err := s.OutboxPending(ctx, 3)
		if err != nil || n != 4 || !oldest.Equal(at.Add(3*time.Second)) {
			t.Fatalf("pending after 3: %v %d %v", oldest, n, err)
		}
		// Prune: old enough and past the cursor given.
		if n, err := s.PruneOutbox(ctx, at.Add(5*time.Second), 3, 100); err != nil || n != 3 {
			t.Fatalf("prune: %d %v, want 3", n, err)
		}
		if evs, _ := s.OutboxAfter(ctx, 0, 100); len(evs) != 4 || evs[0].Pos != 4 {
			t.Fatalf("after prune: %s", types(evs))
		}
		// With no sink configured, old events go whether positioned or not.
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			return tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "shipment.shipped", ObjectKind: "shipment", ObjectKey: "SH-9", At: at.Add(4 * time.Second)})
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneOutbox(ctx, at.Add(5*time.Second), -1, 100); err != nil || n != 3 {
			t.Fatalf("prune without sinks: %d %v, want 3 (positions 4 and 5, and the unpositioned one)", n, err)
		}
	})

	t.Run("OutboxRollback", func(t *testing.T) {
		s, _ := open(t)
		boom := errors.New("boom")
		err := s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "order.created", ObjectKey: "PO-1"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			return tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "order.created", ObjectKey: "PO-2"})
		}); err != nil {
			t.Fatal(err)
		}
		if evs := drain(t, s, 0); len(evs) != 1 || evs[0].ObjectKey != "PO-2" {
			t.Fatalf("an event of a rolled-back transaction was kept: %s", types(evs))
		}
	})

	t.Run("OutboxEmitters", func(t *testing.T) {
		// The store writes message and exception events itself, in the
		// transaction of the change.
		s, _ := open(t)
		m := &store.Message{PartnerID: "acme", Direction: store.Outbound, Transport: "folder", RemoteName: "out.edi", Status: lifecycle.StatusWaiting, CorrelationID: "corr-9"}
		if err := s.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, st := range []lifecycle.Status{lifecycle.StatusDelivered, lifecycle.StatusDelivered} { // the same status again: no event
			if err := s.SetMessageStatus(ctx, m.ID, st); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetMessageStatus(ctx, "missing", lifecycle.StatusDelivered); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("status of a missing message: want ErrNotFound, got %v", err)
		}
		ev := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "as2-raw", Status: lifecycle.StatusReceived}
		if err := s.InsertMessage(ctx, ev); err != nil { // AS2 evidence: no event
			t.Fatal(err)
		}
		if err := s.RecordSentGroup(ctx, &store.SentGroup{MessageID: m.ID, PartnerID: "acme", ISA13: "1", GS06: "1", FunctionalID: "SM", Sets: 1, SentAt: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		for _, a := range []lifecycle.AckStatus{lifecycle.AckOverdue, lifecycle.AckAccepted, lifecycle.AckAccepted} {
			if err := s.SetSentGroupAck(ctx, &store.SetSentGroupAckParams{MessageID: m.ID, GS06: "1", Status: a, AckMessageID: "ack-1"}); err != nil {
				t.Fatal(err)
			}
		}
		x := &store.Exception{Reason: "dispute", Owner: store.OwnerOperations, ObjectKind: "shipment", ObjectKey: "SH-7", PartnerID: "acme", DedupeKey: "d/SH-7"}
		if _, err := s.RaiseException(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RaiseException(ctx, &store.Exception{Reason: "dispute", DedupeKey: "d/SH-7"}); err != nil { // repeated: no event
			t.Fatal(err)
		}
		if err := s.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: x.ID, Status: store.ExceptionResolved, Actor: "ann", Comment: "paid"}); err != nil {
			t.Fatal(err)
		}
		evs := drain(t, s, 0)
		want := "message.waiting " + m.ID + ", message.delivered " + m.ID + ", message.ack_overdue " + m.ID + ", message.acknowledged " + m.ID +
			", exception.opened " + x.ID + ", exception.resolved " + x.ID
		if got := types(evs); got != want {
			t.Fatalf("events:\n got %s\nwant %s", got, want)
		}
		var d struct {
			Message store.Message     `json:"message"`
			Ack     map[string]string `json:"ack"`
		}
		if err := json.Unmarshal(evs[1].Data, &d); err != nil || d.Message.Status != lifecycle.StatusDelivered || d.Message.RemoteName != "out.edi" {
			t.Fatalf("message.delivered data %s: %v", evs[1].Data, err)
		}
		if evs[1].CorrelationID != "corr-9" || evs[1].PartnerID != "acme" || evs[1].MessageID != m.ID {
			t.Fatalf("message.delivered attributes: %+v", evs[1])
		}
		if err := json.Unmarshal(evs[3].Data, &d); err != nil || d.Ack["status"] != "accepted" || d.Ack["ack_message_id"] != "ack-1" {
			t.Fatalf("message.acknowledged data %s: %v", evs[3].Data, err)
		}
		var xd struct {
			Exception store.Exception `json:"exception"`
			Actor     string          `json:"actor"`
			Comment   string          `json:"comment"`
		}
		if err := json.Unmarshal(evs[5].Data, &xd); err != nil || xd.Exception.Status != store.ExceptionResolved || xd.Actor != "ann" || xd.Comment != "paid" || evs[5].Subject != "SH-7" {
			t.Fatalf("exception.resolved %+v data %s: %v", evs[5], evs[5].Data, err)
		}
		ids := map[string]bool{}
		for _, e := range evs {
			if ids[e.ID] {
				t.Fatalf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
		}
	})

	t.Run("OutboxStatusOf", func(t *testing.T) {
		// SetOutcomeOf and SetStatusOf build the event from the message the
		// caller holds, and read nothing back.
		s, _ := open(t)
		in := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "folder", RemoteName: "in.edi", Status: lifecycle.StatusReceived, CorrelationID: "corr-1"}
		out := &store.Message{PartnerID: "acme", Direction: store.Outbound, Transport: "folder", RemoteName: "997_in.edi", Status: lifecycle.StatusWaiting, ParentID: "p"}
		for _, m := range []*store.Message{in, out} {
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.SetOutcomeOf(ctx, in, lifecycle.StatusProcessed, "x12", []string{"204"}); err != nil {
				return err
			}
			return tx.SetStatusOf(ctx, out, lifecycle.StatusDelivered)
		}); err != nil {
			t.Fatal(err)
		}
		if in.Status != lifecycle.StatusReceived {
			t.Fatalf("the caller's message changed: %+v", in)
		}
		got, _ := s.GetMessage(ctx, in.ID)
		if got.Status != lifecycle.StatusProcessed || got.Format != "x12" || fmt.Sprint(got.DocTypes) != "[204]" {
			t.Fatalf("outcome: %+v", got)
		}
		if got, _ := s.GetMessage(ctx, out.ID); got.Status != lifecycle.StatusDelivered {
			t.Fatalf("status: %+v", got)
		}
		// A retry reads the message again: the same status makes no event,
		// and the outcome's columns are set.
		again, _ := s.GetMessage(ctx, in.ID)
		if err := s.SetOutcomeOf(ctx, again, lifecycle.StatusProcessed, "x12", []string{"204", "990"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, in.ID); got.Status != lifecycle.StatusProcessed || fmt.Sprint(got.DocTypes) != "[204 990]" {
			t.Fatalf("outcome again: %+v", got)
		}
		outAgain, _ := s.GetMessage(ctx, out.ID)
		if err := s.SetStatusOf(ctx, outAgain, lifecycle.StatusDelivered); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStatusOf(ctx, in, "done"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("unknown status: want ErrInvalid, got %v", err)
		}
		evs := drain(t, s, 0)
		want := "message.received " + in.ID + ", message.waiting " + out.ID + ", message.processed " + in.ID + ", message.delivered " + out.ID
		if got := types(evs); got != want {
			t.Fatalf("events:\n got %s\nwant %s", got, want)
		}
		var d struct {
			Message store.Message `json:"message"`
		}
		if err := json.Unmarshal(evs[2].Data, &d); err != nil || d.Message.Status != lifecycle.StatusProcessed || d.Message.Format != "x12" ||
			fmt.Sprint(d.Message.DocTypes) != "[204]" || d.Message.RemoteName != "in.edi" || evs[2].CorrelationID != "corr-1" {
			t.Fatalf("message.processed %+v data %s: %v", evs[2], evs[2].Data, err)
		}
		if err := json.Unmarshal(evs[3].Data, &d); err != nil || d.Message.Status != lifecycle.StatusDelivered || d.Message.ParentID != "p" {
			t.Fatalf("message.delivered data %s: %v", evs[3].Data, err)
		}
	})

	t.Run("OutboxSinkLease", func(t *testing.T) {
		s, _ := open(t)
		t0 := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
		for range 3 {
			if err := s.AppendOutbox(ctx, &store.OutboxEvent{Type: "order.created"}); err != nil {
				t.Fatal(err)
			}
		}
		drain(t, s, 0)
		// A new sink starts at the head: events written from now on.
		k, err := s.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: "tms", Owner: "a", Now: t0, Until: t0.Add(30 * time.Second)})
		if err != nil || k.Pos != 3 || k.Owner != "a" || !k.LeaseUntil.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("first claim: %+v %v", k, err)
		}
		// Another instance cannot take it while the lease runs.
		if _, err := s.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: "tms", Owner: "b", Now: t0.Add(10 * time.Second), Until: t0.Add(40 * time.Second)}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("claim of a held lease: want ErrConflict, got %v", err)
		}
		if err := s.AdvanceOutboxSink(ctx, &store.AdvanceOutboxSinkParams{Sink: "tms", Owner: "a", Pos: 5, Published: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.FailOutboxSink(ctx, "tms", "a", "nats: timeout", t0.Add(11*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The lease lapses (a stopped instance): b takes over where a left.
		k, err = s.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: "tms", Owner: "b", Now: t0.Add(31 * time.Second), Until: t0.Add(61 * time.Second)})
		if err != nil || k.Pos != 5 || k.Owner != "b" || k.Published != 2 || k.Failures != 1 || k.LastError != "nats: timeout" || !k.LastErrorAt.Equal(t0.Add(11*time.Second)) {
			t.Fatalf("takeover: %+v %v", k, err)
		}
		// a, back from a pause, cannot move the cursor any more.
		if err := s.AdvanceOutboxSink(ctx, &store.AdvanceOutboxSinkParams{Sink: "tms", Owner: "a", Pos: 6, Published: 1}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("advance after losing the lease: want ErrConflict, got %v", err)
		}
		// The cursor never moves back.
		if err := s.AdvanceOutboxSink(ctx, &store.AdvanceOutboxSinkParams{Sink: "tms", Owner: "b", Pos: 4}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("advance backwards: want ErrConflict, got %v", err)
		}
		if err := s.ReleaseOutboxSink(ctx, "tms", "b"); err != nil {
			t.Fatal(err)
		}
		if k, err := s.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: "tms", Owner: "c", Now: t0.Add(32 * time.Second), Until: t0.Add(62 * time.Second)}); err != nil || k.Owner != "c" {
			t.Fatalf("claim after release: %+v %v", k, err)
		}
		ks, err := s.OutboxSinks(ctx)
		if err != nil || len(ks) != 1 || ks[0].Name != "tms" || ks[0].Pos != 5 {
			t.Fatalf("sinks: %+v %v", ks, err)
		}
	})

	t.Run("OutboxCommitOrder", func(t *testing.T) {
		// An event whose transaction commits after a later-written one
		// has committed is still found by a cursor already past the
		// later one. SQLite runs one writer at a time, so the case only
		// arises on PostgreSQL.
		s, dsn := open(t)
		if s.Driver() != "postgres" {
			t.Skip("SQLite writers are serial: events commit in the order they are written")
		}
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		written, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- s.WithTx(ctx, func(tx store.Tx) error {
				if err := tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "order.created", ObjectKey: "early"}); err != nil {
					return err
				}
				close(written)
				<-release
				return nil
			})
		}()
		<-written
		if err := s2.AppendOutbox(ctx, &store.OutboxEvent{Type: "order.created", ObjectKey: "late"}); err != nil {
			t.Fatal(err)
		}
		evs := drain(t, s2, 0)
		if types(evs) != "order.created late" {
			t.Fatalf("before the early transaction commits: %s", types(evs))
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if evs := drain(t, s2, evs[0].Pos); types(evs) != "order.created early" {
			t.Fatalf("the early event after its commit: %s", types(evs))
		}
	})
}
