// Package storetest is the conformance suite every store driver passes.
// A driver's test calls Exercise with a function that returns the DSN of a
// fresh, empty database for each test.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Test keys (not secrets: public halves of throwaway test keys).
const (
	KeyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9zzgc16E+9TDf6d0Y+6VZ4t3dgMWQpniUXbQs1DdqW test-a"
	KeyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpObXfa9wJYJ2/2JMYLN81mhGrOcjy4MLjPD83oZygz test-b"
)

// Exercise runs the conformance suite. fresh returns the DSN of a new empty database.
func Exercise(t *testing.T, fresh func(t *testing.T) string) {
	open := func(t *testing.T) (store.Store, string) {
		t.Helper()
		dsn := fresh(t)
		s, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s, dsn
	}
	// openClocked opens a fresh store whose clock reads *clock.
	openClocked := func(t *testing.T, clock *time.Time) store.Store {
		t.Helper()
		s, err := store.Open(context.Background(), fresh(t), store.WithClock(func() time.Time { return *clock }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := context.Background()

	t.Run("Partners", func(t *testing.T) {
		s, _ := open(t)
		p := &store.Partner{ID: "acme", Name: "ACME Freight", X12IDs: []store.X12ID{x12("ZZ", "ACME"), x12("01", "123456789")}, SSHKeys: []string{KeyA}}
		if err := s.UpsertPartner(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.CreatedAt.IsZero() || p.Source != "cli" {
			t.Fatalf("upsert did not fill CreatedAt/Source: %+v", p)
		}
		got, err := s.GetPartner(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "ACME Freight" || len(got.X12IDs) != 2 || len(got.SSHKeys) != 1 || got.Source != "cli" {
			t.Fatalf("got %+v", got)
		}
		if got.X12IDs[0] != (x12("01", "123456789")) {
			t.Fatalf("x12 ids not sorted by qualifier: %v", got.X12IDs)
		}
		// Update replaces the lists and keeps CreatedAt.
		created := got.CreatedAt
		time.Sleep(2 * time.Millisecond)
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "acme", Name: "ACME", X12IDs: []store.X12ID{x12("ZZ", "ACME2")}, SSHKeys: []string{KeyB}, Source: "config"}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetPartner(ctx, "acme")
		if got.Name != "ACME" || len(got.X12IDs) != 1 || got.X12IDs[0].ID != "ACME2" || got.Source != "config" || !got.CreatedAt.Equal(created) || !got.UpdatedAt.After(created) {
			t.Fatalf("after update got %+v (created %v)", got, created)
		}
		if _, err := s.PartnerByX12ID(ctx, x12("ZZ", "ACME")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old x12 id still resolves: %v", err)
		}
		byX, err := s.PartnerByX12ID(ctx, x12("ZZ", "ACME2"))
		if err != nil || byX.ID != "acme" {
			t.Fatalf("by x12 id: %v %v", byX, err)
		}
		fp, _, err := store.ParseSSHKey(KeyB)
		if err != nil {
			t.Fatal(err)
		}
		byK, err := s.PartnerBySSHKey(ctx, fp)
		if err != nil || byK.ID != "acme" {
			t.Fatalf("by ssh key: %v %v", byK, err)
		}
		// Another partner cannot claim acme's X12 ID or key, and the failed
		// upsert leaves nothing behind.
		err = s.UpsertPartner(ctx, &store.Partner{ID: "beta", X12IDs: []store.X12ID{x12("ZZ", "ACME2")}})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate x12 id: want ErrConflict, got %v", err)
		}
		if _, err := s.GetPartner(ctx, "beta"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("failed upsert left partner beta: %v", err)
		}
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "beta", SSHKeys: []string{KeyB}}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate ssh key: want ErrConflict, got %v", err)
		}
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "beta"}); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListPartners(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "acme" || list[1].ID != "beta" || len(list[0].SSHKeys) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		if _, err := s.GetPartner(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing partner: want ErrNotFound, got %v", err)
		}
		for _, bad := range []string{"", "../x", "a b", "-x", string(make([]byte, 65))} {
			if err := s.UpsertPartner(ctx, &store.Partner{ID: bad}); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("id %q: want ErrInvalid, got %v", bad, err)
			}
		}
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "gamma", SSHKeys: []string{"not a key"}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("bad ssh key: want ErrInvalid, got %v", err)
		}
	})

	t.Run("SchedulePauses", func(t *testing.T) {
		at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
		clock := at
		s := openClocked(t, &clock)
		if ps, err := s.SchedulePauses(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("pauses of a new store: %v %v", ps, err)
		}
		if err := s.PauseSchedule(ctx, "nightly", "user:olga"); err != nil {
			t.Fatal(err)
		}
		clock = at.Add(time.Hour)
		if err := s.PauseSchedule(ctx, "nightly", "user:bob"); err != nil { // again: the first pause stays
			t.Fatal(err)
		}
		ps, err := s.SchedulePauses(ctx)
		if err != nil || len(ps) != 1 || !ps["nightly"].At.Equal(at) || ps["nightly"].By != "user:olga" {
			t.Fatalf("pauses: %+v %v", ps, err)
		}
		if err := s.ResumeSchedule(ctx, "nightly"); err != nil {
			t.Fatal(err)
		}
		if err := s.ResumeSchedule(ctx, "nightly"); err != nil {
			t.Fatalf("resuming a running schedule: %v", err)
		}
		if ps, _ := s.SchedulePauses(ctx); len(ps) != 0 {
			t.Fatalf("resumed, still paused: %+v", ps)
		}
		if err := s.PauseSchedule(ctx, " ", ""); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a nameless pause: %v", err)
		}
	})

	t.Run("PartnerDisabled", func(t *testing.T) {
		at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
		clock := at
		s := openClocked(t, &clock)
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "acme", SSHKeys: []string{KeyA}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetPartner(ctx, "acme"); got.Disabled() {
			t.Fatalf("a new partner is disabled: %+v", got)
		}
		if err := s.SetPartnerDisabled(ctx, "acme", true); err != nil {
			t.Fatal(err)
		}
		clock = at.Add(time.Hour)
		if err := s.SetPartnerDisabled(ctx, "acme", true); err != nil { // again: keeps the first time
			t.Fatal(err)
		}
		fp, _, _ := store.ParseSSHKey(KeyA)
		byKey, err := s.PartnerBySSHKey(ctx, fp)
		if err != nil || !byKey.DisabledAt.Equal(at) {
			t.Fatalf("by key after disabling: %+v %v (want disabled at %v)", byKey, err, at)
		}
		// The configuration's partners applied at start keep the flag.
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "acme", Name: "ACME", SSHKeys: []string{KeyA}, Source: "config"}); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.ListPartners(ctx); len(ps) != 1 || !ps[0].Disabled() || ps[0].Name != "ACME" {
			t.Fatalf("an upsert enabled the partner: %+v", ps[0])
		}
		if err := s.SetPartnerDisabled(ctx, "acme", false); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetPartner(ctx, "acme"); got.Disabled() {
			t.Fatalf("enabled, still disabled: %+v", got)
		}
		if err := s.SetPartnerDisabled(ctx, "nope", true); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown partner: want ErrNotFound, got %v", err)
		}
	})

	t.Run("WritesInTx", func(t *testing.T) {
		// On PostgreSQL a transaction holds back writes whose answer
		// nobody needs and sends them with its next statement or before
		// its commit. Whatever the database: a statement sees the writes
		// before it, and a write that fails fails the transaction, named,
		// with nothing of it committed.
		s, _ := open(t)
		err := s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AddSyncRefs(ctx, []store.SyncRef{{Value: "PO-77", Type: "po", Kind: "order", Key: "PO-77"}}); err != nil {
				return err
			}
			if err := tx.PutSyncApplied(ctx, &store.SyncApplied{MessageID: "m1", Seq: 1, Kind: "order", Key: "PO-77", Events: []string{"order.created"}}); err != nil {
				return err
			}
			if a, err := tx.GetSyncApplied(ctx, "m1", 1); err != nil || a.Key != "PO-77" { // a row, after the waiting writes
				t.Errorf("applied record in its transaction: %+v %v", a, err)
			}
			if err := tx.AddSyncRefs(ctx, []store.SyncRef{{Value: "PO-77", Type: "bol", Kind: "order", Key: "PO-77"}}); err != nil {
				return err
			}
			if refs, err := tx.SyncRefsByValue(ctx, "PO-77"); err != nil || len(refs) != 2 { // rows, after the waiting write
				t.Errorf("references in their transaction: %+v %v", refs, err)
			}
			return tx.AddSyncRefs(ctx, []store.SyncRef{{Value: "BOL-1", Type: "bol", Kind: "order", Key: "PO-77"}}) // sent before the commit
		})
		if err != nil {
			t.Fatal(err)
		}
		if refs, err := s.SyncRefsByValue(ctx, "BOL-1"); err != nil || len(refs) != 1 {
			t.Fatalf("a write last in its transaction: %+v %v", refs, err)
		}

		// History, keys and outbox events wait longer: those of one table go
		// as one INSERT, before the first statement that names the table, or
		// at the end (PostgreSQL: with the COMMIT; SQLite: when the function
		// returns, in its savepoint of the group commit). Each is seen where
		// it should be.
		m := &store.Message{PartnerID: "acme", Direction: store.Inbound}
		if err := s.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		err = s.WithTx(ctx, func(tx store.Tx) error {
			for _, kind := range []lifecycle.EventKind{"one", "two"} {
				if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: kind}); err != nil {
					return err
				}
			}
			if err := tx.AddMessageKeys(ctx, m.ID, []store.Key{{Kind: "po", Value: "PO-1"}}); err != nil {
				return err
			}
			if err := tx.AppendOutbox(ctx, &store.OutboxEvent{Type: "message.test", MessageID: m.ID}); err != nil {
				return err
			}
			if _, err := tx.NextCounter(ctx, "acme", "rows"); err != nil { // names none of them
				return err
			}
			if evs, err := tx.Events(ctx, m.ID); err != nil || len(evs) != 2 || evs[0].Kind != "one" || evs[1].Kind != "two" {
				t.Errorf("events in their transaction: %+v %v, want one and two", evs, err)
			}
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: "three"}); err != nil {
				return err
			}
			if keys, err := tx.MessageKeys(ctx, m.ID); err != nil || len(keys) != 1 {
				t.Errorf("keys in their transaction: %+v %v", keys, err)
			}
			return tx.AddMessageKeys(ctx, m.ID, []store.Key{{Kind: "bol", Value: "B-1"}, {Kind: "po", Value: "PO-1"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, m.ID)
		if kinds := eventKinds(evs); err != nil || !slices.Equal(kinds, []lifecycle.EventKind{"one", "two", "three"}) {
			t.Fatalf("events after the commit: %v %v", kinds, err)
		}
		if keys, err := s.MessageKeys(ctx, m.ID); err != nil || len(keys) != 2 {
			t.Fatalf("keys after the commit: %+v %v, want bol and po once each", keys, err)
		}
		err = s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: "rolled-back"}); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: "no-such-message", Kind: "x"}); err != nil {
				return err
			}
			return nil // it fails at the end, in one INSERT with the first
		})
		if err == nil || !strings.Contains(err.Error(), "append event to message") {
			t.Fatalf("an event of no message: %v, want the failed write named", err)
		}
		if evs, err := s.Events(ctx, m.ID); err != nil || len(evs) != 3 {
			t.Fatalf("events after a failed transaction: %v %v, want the three committed before", eventKinds(evs), err)
		}

		// A function that goes past a failed statement's error still fails:
		// its transaction does not commit the rest as if nothing happened.
		err = s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: "lost"}); err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, &store.Event{MessageID: "no-such-message", Kind: "x"}); err != nil {
				return err
			}
			_, _ = tx.Events(ctx, m.ID) // the waiting rows fail here, and the error is not acted on
			return nil
		})
		if err == nil {
			t.Fatal("a transaction whose statement failed, its error ignored: committed without an error")
		}
		if evs, err := s.Events(ctx, m.ID); err != nil || len(evs) != 3 {
			t.Fatalf("events after a failed transaction whose error was ignored: %v %v, want the three committed before", eventKinds(evs), err)
		}

		err = s.WithTx(ctx, func(tx store.Tx) error {
			if _, err := tx.NextCounter(ctx, "acme", "rolled-back"); err != nil {
				return err
			}
			if err := tx.AddMessageKeys(ctx, "no-such-message", []store.Key{{Kind: "po", Value: "1"}}); err != nil {
				return err
			}
			_, err := tx.NextCounter(ctx, "acme", "rolled-back") // the keys fail at the end
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "add keys to message no-such-message") {
			t.Fatalf("a failing write in a transaction: %v, want its error named", err)
		}
		if v, err := s.NextCounter(ctx, "acme", "rolled-back"); err != nil || v != 1 {
			t.Fatalf("the failed transaction's counter: next is %d (%v), want 1: nothing of it committed", v, err)
		}

		// The last write fails: on PostgreSQL it goes with the COMMIT, in
		// one batch. Again nothing commits, and the connections serve the
		// next transactions (more of them than the pool holds).
		for i := range 12 {
			err = s.WithTx(ctx, func(tx store.Tx) error {
				if _, err := tx.NextCounter(ctx, "acme", "rolled-back-last"); err != nil {
					return err
				}
				return tx.AddMessageKeys(ctx, "no-such-message", []store.Key{{Kind: "po", Value: fmt.Sprint(i)}})
			})
			if err == nil || !strings.Contains(err.Error(), "add keys to message no-such-message") {
				t.Fatalf("a failing last write in a transaction: %v, want its error named", err)
			}
		}
		if v, err := s.NextCounter(ctx, "acme", "rolled-back-last"); err != nil || v != 1 {
			t.Fatalf("the failed transactions' counter: next is %d (%v), want 1: nothing of them committed", v, err)
		}

		// A transaction that writes and reads nothing (on PostgreSQL its
		// BEGIN never went) and one that only reads.
		if err := s.WithTx(ctx, func(store.Tx) error { return nil }); err != nil {
			t.Fatalf("an empty transaction: %v", err)
		}
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			refs, err := tx.SyncRefsByValue(ctx, "BOL-1")
			if err == nil && len(refs) != 1 {
				err = fmt.Errorf("%d refs", len(refs))
			}
			return err
		}); err != nil {
			t.Fatalf("a transaction that only reads: %v", err)
		}

		// The transaction's raw handle (the job runtime's statements) runs
		// in it, after what waits; on PostgreSQL a savepoint begun on it
		// rolls back alone. Everything rolls back with the transaction.
		boom := errors.New("boom")
		err = s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.AddSyncRefs(ctx, []store.SyncRef{{Value: "RAW-1", Type: "po", Kind: "order", Key: "RAW"}}); err != nil {
				return err
			}
			if n, err := rawCount(ctx, tx, "SELECT count(*) FROM sync_refs WHERE value = 'RAW-1'"); err != nil || n != 1 {
				t.Errorf("the raw handle sees the waiting write: %d %v", n, err)
			}
			if ptx, ok := tx.Raw().(pgx.Tx); ok {
				sp, err := ptx.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := sp.Exec(ctx, "INSERT INTO sync_refs (value, ref_type, kind, key) VALUES ('RAW-2', 'po', 'order', 'RAW')"); err != nil {
					return err
				}
				if err := sp.Rollback(ctx); err != nil {
					return err
				}
				if n, err := rawCount(ctx, tx, "SELECT count(*) FROM sync_refs WHERE key = 'RAW'"); err != nil || n != 1 {
					t.Errorf("after the savepoint's rollback: %d refs (%v), want RAW-1 alone", n, err)
				}
				if err := ptx.Commit(ctx); err == nil {
					t.Errorf("the raw handle committed the store's transaction")
				}
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("raw handle: %v", err)
		}
		if refs, err := s.SyncRefsByValue(ctx, "RAW-1"); err != nil || len(refs) != 0 {
			t.Fatalf("a rolled-back transaction's writes, raw or not: %+v %v", refs, err)
		}
	})

	t.Run("Counters", func(t *testing.T) {
		s, _ := open(t)
		for want := int64(1); want <= 3; want++ {
			got, err := s.NextCounter(ctx, "acme", "isa13")
			if err != nil || got != want {
				t.Fatalf("NextCounter = %d, %v; want %d", got, err, want)
			}
		}
		if got, _ := s.NextCounter(ctx, "acme", "gs06"); got != 1 {
			t.Fatalf("independent counter started at %d", got)
		}
		if got, _ := s.NextCounter(ctx, "beta", "isa13"); got != 1 {
			t.Fatalf("per-partner counter started at %d", got)
		}
		// Concurrent callers never get the same value.
		const workers, each = 8, 25
		uniq := drawConcurrently(t, workers, each, "counter value", func(int, int) (int64, error) {
			return s.NextCounter(ctx, "acme", "st02")
		})
		if len(uniq) != workers*each {
			t.Fatalf("got %d values, want %d", len(uniq), workers*each)
		}
		// Several at once, in the order asked, from the same sequences.
		v, err := s.NextCounters(ctx, "acme", "st02", "isa13", "new")
		if err != nil || len(v) != 3 || v[0] != workers*each+1 || v[1] != 4 || v[2] != 1 {
			t.Fatalf("NextCounters = %v, %v; want [%d 4 1]", v, err, workers*each+1)
		}
		if got, _ := s.NextCounter(ctx, "acme", "isa13"); got != 5 {
			t.Fatalf("NextCounter after NextCounters = %d, want 5", got)
		}
		if _, err := s.NextCounters(ctx, "acme", "gs06", "gs06"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a counter named twice: want ErrInvalid, got %v", err)
		}
		// Concurrent draws of several never share a value either.
		drawConcurrently(t, workers, each, "isa13", func(int, int) (int64, error) {
			v, err := s.NextCounters(ctx, "beta", "isa13", "gs06")
			if err != nil || v[0] != v[1]+1 { // beta's isa13 started one ahead
				return 0, fmt.Errorf("NextCounters = %v, %v", v, err)
			}
			return v[0], nil
		})

		// One and several at a time, concurrently: no value twice.
		drawn := drawConcurrently(t, workers, each, "gamma's isa13", func(w, i int) (int64, error) {
			if (w+i)%2 == 0 {
				return s.NextCounter(ctx, "gamma", "isa13")
			}
			v, err := s.NextCounters(ctx, "gamma", "isa13", "gs06")
			if err != nil {
				return 0, err
			}
			return v[0], nil
		})
		for v := range drawn {
			if v < 1 || v > workers*each {
				t.Fatalf("gamma's isa13 %d out of 1..%d", v, workers*each)
			}
		}
	})

	t.Run("Messages", func(t *testing.T) {
		s, _ := open(t)
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var ids []string
		for i := range 5 {
			partner := "acme"
			if i%2 == 1 {
				partner = "beta"
			}
			m := &store.Message{PartnerID: partner, Direction: store.Inbound, Transport: "sftp", RemoteName: fmt.Sprintf("f%d.edi", i),
				Size: int64(100 + i), SHA256: fmt.Sprintf("%064d", i), Status: "received", Format: "x12", DocTypes: []string{"204", "214"},
				ReceivedAt: base.Add(time.Duration(i) * time.Minute)}
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		got, err := s.GetMessage(ctx, ids[2])
		if err != nil {
			t.Fatal(err)
		}
		if got.RemoteName != "f2.edi" || got.Size != 102 || !got.ReceivedAt.Equal(base.Add(2*time.Minute)) || len(got.DocTypes) != 2 || got.Direction != store.Inbound {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.GetMessage(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
		if err := s.InsertMessage(ctx, &store.Message{ID: ids[0], PartnerID: "x", Direction: store.Inbound}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate id: want ErrConflict, got %v", err)
		}
		if err := s.InsertMessage(ctx, &store.Message{PartnerID: "x", Direction: "sideways"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad direction: want ErrInvalid, got %v", err)
		}
		if err := s.SetMessageStatus(ctx, ids[2], "processed"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, ids[2]); got.Status != "processed" {
			t.Fatalf("status %q", got.Status)
		}
		if err := s.SetMessageFormat(ctx, ids[2], "x12", []string{"204", "990"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, ids[2]); got.Format != "x12" || fmt.Sprint(got.DocTypes) != "[204 990]" {
			t.Fatalf("format %q %v", got.Format, got.DocTypes)
		}
		if err := s.SetMessageStatus(ctx, "missing", lifecycle.StatusDelivered); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
		// Status and format at once; again with the same status (a retry).
		if err := s.SetMessageOutcome(ctx, ids[2], lifecycle.StatusRejected, "csv", nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, ids[2]); got.Status != lifecycle.StatusRejected || got.Format != "csv" || len(got.DocTypes) != 0 {
			t.Fatalf("outcome: %q %q %v", got.Status, got.Format, got.DocTypes)
		}
		if err := s.SetMessageOutcome(ctx, ids[2], lifecycle.StatusRejected, "x12", []string{"204"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetMessage(ctx, ids[2]); got.Status != lifecycle.StatusRejected || got.Format != "x12" || fmt.Sprint(got.DocTypes) != "[204]" {
			t.Fatalf("outcome with the same status: %q %q %v", got.Status, got.Format, got.DocTypes)
		}
		if err := s.SetMessageOutcome(ctx, "missing", lifecycle.StatusProcessed, "x12", nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("outcome of a missing message: want ErrNotFound, got %v", err)
		}
		if err := s.SetMessageOutcome(ctx, ids[2], "done", "x12", nil); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("outcome with an unknown status: want ErrInvalid, got %v", err)
		}
		if err := s.SetMessageOutcome(ctx, ids[2], lifecycle.StatusProcessed, "x12", []string{"204", "990"}); err != nil { // as before
			t.Fatal(err)
		}
		// Only the statuses lifecycle names are stored.
		if err := s.SetMessageStatus(ctx, ids[2], "done"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("unknown status: want ErrInvalid, got %v", err)
		}
		if err := s.InsertMessage(ctx, &store.Message{PartnerID: "x", Direction: store.Inbound, Status: "new"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("unknown first status: want ErrInvalid, got %v", err)
		}
		if got, _ := s.GetMessage(ctx, ids[2]); got.Status != "processed" {
			t.Fatalf("status %q after refused updates", got.Status)
		}

		all, err := s.SearchMessages(ctx, store.MessageFilter{})
		if err != nil || len(all) != 5 || all[0].ID != ids[4] || all[4].ID != ids[0] {
			t.Fatalf("search all (newest first): %v %v", msgIDs(all), err)
		}
		acme, _ := s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme"})
		if len(acme) != 3 {
			t.Fatalf("partner filter: %d", len(acme))
		}
		win, _ := s.SearchMessages(ctx, store.MessageFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)})
		if len(win) != 2 || win[0].ID != ids[2] || win[1].ID != ids[1] {
			t.Fatalf("time window: %v", msgIDs(win))
		}
		// Paging: two at a time walks all five exactly once.
		var paged []string
		f := store.MessageFilter{Limit: 2}
		for {
			page, err := s.SearchMessages(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, msgIDs(page)...)
			last := page[len(page)-1]
			f.Before, f.BeforeID = last.ReceivedAt, last.ID
		}
		if fmt.Sprint(paged) != fmt.Sprint(msgIDs(all)) {
			t.Fatalf("paging %v != %v", paged, msgIDs(all))
		}
		// Keys.
		if err := s.AddMessageKeys(ctx, ids[1], []store.Key{key("bol", "BOL123"), key("isa13", "000000042"), key("bol", "BOL123")}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMessageKeys(ctx, ids[3], []store.Key{key("po", "BOL123")}); err != nil {
			t.Fatal(err)
		}
		byKey, _ := s.SearchMessages(ctx, store.MessageFilter{Key: "BOL123"})
		if len(byKey) != 2 || byKey[0].ID != ids[3] || byKey[1].ID != ids[1] {
			t.Fatalf("by key: %v", msgIDs(byKey))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{Transport: "sftp", Statuses: []lifecycle.Status{lifecycle.StatusProcessed, "nope"}}); len(got) != 1 || got[0].ID != ids[2] {
			t.Fatalf("transport+statuses filter: %v", msgIDs(got))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{Transport: "as2"}); len(got) != 0 {
			t.Fatalf("transport filter: %v", msgIDs(got))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{NotTransports: []string{"sftp", "as2"}}); len(got) != 0 {
			t.Fatalf("not-transports filter: %v", msgIDs(got))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{NotTransports: []string{"as2"}, Key: "BOL123"}); len(got) != 2 {
			t.Fatalf("not-transports filter left out other transports: %v", msgIDs(got))
		}
		// Test traffic: a message carrying store.KeyTest, and one whose
		// key only looks like it (kind "po", value "test") stays production.
		if err := s.AddMessageKeys(ctx, ids[2], []store.Key{store.KeyTest}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMessageKeys(ctx, ids[0], []store.Key{key("po", "test")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{Traffic: store.TrafficTest}); len(got) != 1 || got[0].ID != ids[2] {
			t.Fatalf("test traffic filter: %v", msgIDs(got))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{Traffic: store.TrafficProduction}); len(got) != len(all)-1 || slices.Contains(msgIDs(got), ids[2]) {
			t.Fatalf("production traffic filter: %v", msgIDs(got))
		}
		byKey, _ = s.SearchMessages(ctx, store.MessageFilter{Key: "BOL123", PartnerID: "beta", Direction: store.Outbound})
		if len(byKey) != 0 {
			t.Fatalf("key+direction filter: %v", msgIDs(byKey))
		}
		keys, _ := s.MessageKeys(ctx, ids[1])
		if len(keys) != 2 || keys[0] != (key("bol", "BOL123")) {
			t.Fatalf("keys %v", keys)
		}
	})

	t.Run("MessagesByName", func(t *testing.T) {
		s, _ := open(t)
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		insert := func(i int, partner, remote string, status lifecycle.Status) string {
			t.Helper()
			m := &store.Message{PartnerID: partner, Direction: store.Outbound, Transport: "sftp", RemoteName: remote,
				Status: status, ReceivedAt: base.Add(time.Duration(i) * time.Minute)}
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		a0 := insert(0, "acme", "997_X.edi", "waiting")
		a1 := insert(1, "acme", "outbound/997_X.edi", "waiting")
		a2 := insert(2, "acme", "a/b/997_X.edi", "delivered")
		insert(3, "acme", "997_X.edi.bak", "waiting")
		insert(4, "acme", "x997_X.edi", "waiting")
		insert(5, "acme", "997_X.edi/", "waiting") // base name "": a folder, not 997_X.edi
		insert(6, "beta", "997_X.edi", "waiting")
		ü := insert(7, "acme", "in/ü/Lieferschein ä.edi", "waiting")
		pct := insert(8, "acme", "50%_off.edi", "waiting")

		got, err := s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Name: "997_X.edi"})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(msgIDs(got)) != fmt.Sprint([]string{a2, a1, a0}) {
			t.Fatalf("by name, newest first: got %v, want %v", msgIDs(got), []string{a2, a1, a0})
		}
		got, _ = s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Direction: store.Outbound, Transport: "sftp",
			Name: "997_X.edi", Statuses: []lifecycle.Status{lifecycle.StatusReceived, lifecycle.StatusWaiting}, Limit: 1})
		if len(got) != 1 || got[0].ID != a1 {
			t.Fatalf("newest waiting by name: %v, want %s", msgIDs(got), a1)
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Name: "Lieferschein ä.edi"}); len(got) != 1 || got[0].ID != ü {
			t.Fatalf("non-ASCII name: %v", msgIDs(got))
		}
		if got, _ := s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Name: "50%_off.edi"}); len(got) != 1 || got[0].ID != pct {
			t.Fatalf("name with LIKE characters: %v", msgIDs(got))
		}
		for _, name := range []string{"997_%.edi", "997_X", "X.edi", "b/997_X.edi"} {
			if got, _ := s.SearchMessages(ctx, store.MessageFilter{PartnerID: "acme", Name: name}); len(got) != 0 {
				t.Fatalf("name %q matched %v", name, msgIDs(got))
			}
		}
	})

	t.Run("EventsAppendOnly", func(t *testing.T) {
		s, _ := open(t)
		m := &store.Message{PartnerID: "acme", Direction: store.Outbound}
		if err := s.InsertMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []lifecycle.EventKind{"received", "parsed", "acknowledged"} {
			if err := s.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: k, Detail: "d-" + string(k)}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.Events(ctx, m.ID)
		if err != nil || len(evs) != 3 || evs[0].Kind != "received" || evs[2].Kind != "acknowledged" || evs[1].Detail != "d-parsed" || evs[0].At.IsZero() {
			t.Fatalf("events %v %v", evs, err)
		}
		if err := s.AppendEvent(ctx, &store.Event{MessageID: "missing", Kind: "x"}); err == nil {
			t.Fatal("event for a missing message was accepted")
		}
		// The database itself refuses to rewrite history.
		for _, stmt := range []string{"UPDATE message_events SET kind = 'forged'", "DELETE FROM message_events"} {
			err := s.WithTx(ctx, func(tx store.Tx) error { return rawExec(ctx, tx, stmt) })
			if err == nil {
				t.Errorf("%s: succeeded on an append-only table", stmt)
			}
		}
		evs, _ = s.Events(ctx, m.ID)
		if len(evs) != 3 || evs[0].Kind != "received" {
			t.Fatalf("history changed: %v", evs)
		}
	})

	t.Run("TxRollback", func(t *testing.T) {
		s, _ := open(t)
		var id string
		boom := errors.New("boom")
		err := s.WithTx(ctx, func(tx store.Tx) error {
			m := &store.Message{PartnerID: "acme", Direction: store.Inbound}
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			id = m.ID
			if _, err := tx.NextCounter(ctx, "acme", "isa13"); err != nil {
				return err
			}
			if _, err := tx.GetMessage(ctx, id); err != nil {
				return fmt.Errorf("own write not visible inside tx: %w", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx returned %v", err)
		}
		if _, err := s.GetMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled-back message exists: %v", err)
		}
		if v, _ := s.NextCounter(ctx, "acme", "isa13"); v != 1 {
			t.Fatalf("rolled-back counter increment kept: %d", v)
		}
		// Multi-statement operations called on a Tx use that Tx.
		err = s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.UpsertPartner(ctx, &store.Partner{ID: "acme", X12IDs: []store.X12ID{x12("ZZ", "A")}}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := s.GetPartner(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled-back partner exists: %v", err)
		}
	})

	t.Run("Interchanges", func(t *testing.T) {
		s, _ := open(t)
		if dup, err := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "ZZ", SenderID: "ACME", Control: "000000001", MessageID: "m1", Within: time.Hour}); dup != "" || err != nil {
			t.Fatalf("first: %q %v", dup, err)
		}
		if dup, _ := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "ZZ", SenderID: "ACME", Control: "000000001", MessageID: "m1", Within: time.Hour}); dup != "" {
			t.Fatalf("the same message again is not a duplicate: %q", dup)
		}
		if dup, _ := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "ZZ", SenderID: "ACME", Control: "000000001", MessageID: "m2", Within: time.Hour}); dup != "m1" {
			t.Fatalf("repeat from the same sender: %q, want m1", dup)
		}
		if dup, _ := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "ZZ", SenderID: "OTHER", Control: "000000001", MessageID: "m3", Within: time.Hour}); dup != "" {
			t.Fatalf("another sender's number is not a duplicate: %q", dup)
		}
		if dup, _ := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "ZZ", SenderID: "ACME", Control: "000000001", MessageID: "m4", Within: time.Nanosecond}); dup != "" {
			t.Fatalf("outside the window: %q", dup)
		}
	})

	t.Run("SentGroups", func(t *testing.T) {
		s, _ := open(t)
		t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		for _, g := range []*store.SentGroup{
			{MessageID: "m1", PartnerID: "acme", ISA13: "000000007", GS06: "7", FunctionalID: "SM", Sets: 2, SentAt: t0, DueAt: t0.Add(4 * time.Hour)},
			{MessageID: "m2", PartnerID: "acme", ISA13: "000000008", GS06: "8", FunctionalID: "IM", Sets: 1, SentAt: t0.Add(time.Minute)},
			{MessageID: "m3", PartnerID: "beta", ISA13: "000000007", GS06: "7", FunctionalID: "SM", Sets: 1, SentAt: t0, DueAt: t0.Add(time.Hour)},
		} {
			if err := s.RecordSentGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordSentGroup(ctx, g); err != nil { // again: no change, no error
				t.Fatal(err)
			}
		}
		gs, err := s.SentGroupsByGS06(ctx, "acme", "7")
		if err != nil || len(gs) != 1 || gs[0].MessageID != "m1" || gs[0].Sets != 2 || !gs[0].DueAt.Equal(t0.Add(4*time.Hour)) {
			t.Fatalf("by gs06: %+v %v", gs, err)
		}
		if gs, _ := s.SentGroupsByISA13(ctx, "acme", "000000008"); len(gs) != 1 || !gs[0].DueAt.IsZero() {
			t.Fatalf("by isa13: %+v", gs)
		}
		over, _ := s.OverdueSentGroups(ctx, t0.Add(2*time.Hour))
		if len(over) != 1 || over[0].MessageID != "m3" {
			t.Fatalf("overdue at +2h: %+v", over)
		}
		if err := s.SetSentGroupAck(ctx, &store.SetSentGroupAckParams{MessageID: "m3", GS06: "7", Status: lifecycle.AckAccepted, AckMessageID: "ack1"}); err != nil {
			t.Fatal(err)
		}
		if over, _ := s.OverdueSentGroups(ctx, t0.Add(5*time.Hour)); len(over) != 1 || over[0].MessageID != "m1" {
			t.Fatalf("overdue at +5h after m3 was acknowledged: %+v", over)
		}
		// m1 is dead-lettered: its group is no longer waited for; m3's
		// verdict is left alone.
		if err := s.ExpectNoAcks(ctx, "m1"); err != nil {
			t.Fatal(err)
		}
		if err := s.ExpectNoAcks(ctx, "m3"); err != nil {
			t.Fatal(err)
		}
		if over, _ := s.OverdueSentGroups(ctx, t0.Add(5*time.Hour)); len(over) != 0 {
			t.Fatalf("overdue after m1 was dead-lettered: %+v", over)
		}
		if gs, _ := s.SentGroupsByGS06(ctx, "acme", "7"); len(gs) != 1 || gs[0].AckStatus != lifecycle.AckNotSent {
			t.Fatalf("m1's group: %+v", gs)
		}
		if gs, _ := s.SentGroupsByGS06(ctx, "beta", "7"); len(gs) != 1 || gs[0].AckStatus != lifecycle.AckAccepted {
			t.Fatalf("m3's group: %+v", gs)
		}
	})

	t.Run("SentGroupsRearmed", func(t *testing.T) {
		// m1 was dead-lettered at t0, then its replay was delivered at
		// t0+10h: its group is awaited again, due 4 hours after that; m3's
		// verdict is left alone.
		t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		clock := t0
		s := openClocked(t, &clock)
		for _, g := range []*store.SentGroup{
			{MessageID: "m1", PartnerID: "acme", ISA13: "000000007", GS06: "7", FunctionalID: "SM", Sets: 1, SentAt: t0, DueAt: t0.Add(4 * time.Hour)},
			{MessageID: "m1", PartnerID: "acme", ISA13: "000000007", GS06: "8", FunctionalID: "IN", Sets: 1, SentAt: t0},
			{MessageID: "m3", PartnerID: "acme", ISA13: "000000009", GS06: "9", FunctionalID: "SM", Sets: 1, SentAt: t0, DueAt: t0.Add(time.Hour)},
		} {
			if err := s.RecordSentGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ExpectNoAcks(ctx, "m1"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSentGroupAck(ctx, &store.SetSentGroupAckParams{MessageID: "m3", GS06: "9", Status: lifecycle.AckAccepted, AckMessageID: "a"}); err != nil {
			t.Fatal(err)
		}
		clock = t0.Add(10 * time.Hour)
		for _, id := range []string{"m1", "m1", "m3"} { // again: no change
			if err := s.RearmSentGroups(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if gs, _ := s.SentGroupsByGS06(ctx, "acme", "7"); len(gs) != 1 || gs[0].AckStatus != lifecycle.AckNone || !gs[0].SentAt.Equal(clock) || !gs[0].DueAt.Equal(clock.Add(4*time.Hour)) {
			t.Fatalf("m1's group 7 after its replay: %+v", gs)
		}
		if gs, _ := s.SentGroupsByGS06(ctx, "acme", "8"); len(gs) != 1 || gs[0].AckStatus != lifecycle.AckNone || !gs[0].DueAt.IsZero() {
			t.Fatalf("m1's group 8 (no acknowledgment expected) after its replay: %+v", gs)
		}
		if gs, _ := s.SentGroupsByGS06(ctx, "acme", "9"); len(gs) != 1 || gs[0].AckStatus != lifecycle.AckAccepted || !gs[0].SentAt.Equal(t0) {
			t.Fatalf("m3's group: %+v", gs)
		}
		if over, _ := s.OverdueSentGroups(ctx, clock.Add(3*time.Hour)); len(over) != 0 {
			t.Fatalf("overdue 3 hours after the replay: %+v", over)
		}
		if over, _ := s.OverdueSentGroups(ctx, clock.Add(5*time.Hour)); len(over) != 1 || over[0].GS06 != "7" {
			t.Fatalf("overdue 5 hours after the replay: %+v", over)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		s, _ := open(t)
		for _, k := range []string{"login", "logout"} {
			if err := s.AppendAudit(ctx, &store.AuditEvent{Actor: "acme", Kind: k, Remote: "127.0.0.1:5555", Detail: "d"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(ctx, &store.AuditEvent{Actor: "beta", Kind: "login_refused"}); err != nil {
			t.Fatal(err)
		}
		evs, err := s.AuditEvents(ctx, "acme", 0)
		if err != nil || len(evs) != 2 || evs[0].Kind != "logout" || evs[1].Remote != "127.0.0.1:5555" || evs[0].At.IsZero() {
			t.Fatalf("audit: %+v %v", evs, err)
		}
		if all, _ := s.AuditEvents(ctx, "", 0); len(all) != 3 {
			t.Fatalf("all audit events: %d", len(all))
		}
		if err := s.WithTx(ctx, func(tx store.Tx) error { return rawExec(ctx, tx, "UPDATE audit_events SET kind = 'forged'") }); err == nil {
			t.Fatal("audit events were rewritten")
		}
	})

	t.Run("ScheduleRuns", func(t *testing.T) {
		s, _ := open(t)
		if _, ok, err := s.ScheduleLastRun(ctx, "nightly"); ok || err != nil {
			t.Fatalf("fresh schedule: %v %v", ok, err)
		}
		t1 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
		if err := s.RecordScheduleRun(ctx, "nightly", t1); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordScheduleRun(ctx, "nightly", t1.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.ScheduleLastRun(ctx, "nightly")
		if !ok || err != nil || !got.Equal(t1) {
			t.Fatalf("last run moved backwards or lost: %v %v %v", got, ok, err)
		}
		if err := s.RecordScheduleRun(ctx, "nightly", t1.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := s.ScheduleLastRun(ctx, "nightly"); !got.Equal(t1.Add(24 * time.Hour)) {
			t.Fatalf("last run did not move forward: %v", got)
		}
		if err := s.Maintain(ctx); err != nil {
			t.Fatalf("maintain: %v", err)
		}
	})

	exerciseArchive(t, open)
	exerciseAS2(t, open)
	exerciseSync(t, open)
	exerciseAccess(t, open)
	exerciseObjects(t, open)
	exerciseX12(t, open)
	exerciseInstances(t, open)
	exerciseRateLimits(t, open)
	exerciseIDs(t, open)
	exerciseOutbox(t, open)
	exerciseProcessing(t, open)
	exerciseMaster(t, open)

	t.Run("SecondProcess", func(t *testing.T) {
		// Two independent opens of one database (the server and the CLI)
		// write concurrently without errors, and migrations run once.
		s1, dsn := open(t)
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer s2.Close()
		var wg sync.WaitGroup
		for i, s := range []store.Store{s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 20 {
					if err := s.UpsertPartner(ctx, &store.Partner{ID: fmt.Sprintf("p%d-%d", i, j)}); err != nil {
						t.Error(err)
						return
					}
					if _, err := s.NextCounter(ctx, "shared", "isa13"); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		list, _ := s2.ListPartners(ctx)
		if len(list) != 40 {
			t.Fatalf("partners seen by the second process: %d", len(list))
		}
		if v, _ := s1.NextCounter(ctx, "shared", "isa13"); v != 41 {
			t.Fatalf("counter after 40 shared increments: %d", v)
		}
	})
}

func msgIDs(ms []*store.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func rawCount(ctx context.Context, tx store.Tx, query string) (int64, error) {
	var n int64
	switch r := tx.Raw().(type) {
	case *sql.Tx:
		return n, r.QueryRowContext(ctx, query).Scan(&n)
	case pgx.Tx:
		return n, r.QueryRow(ctx, query).Scan(&n)
	}
	return 0, fmt.Errorf("unknown tx type %T", tx.Raw())
}

func rawExec(ctx context.Context, tx store.Tx, stmt string) error {
	switch r := tx.Raw().(type) {
	case *sql.Tx:
		_, err := r.ExecContext(ctx, stmt)
		return err
	case pgx.Tx:
		_, err := r.Exec(ctx, stmt)
		return err
	}
	return fmt.Errorf("unknown tx type %T", tx.Raw())
}

func x12(q, id string) store.X12ID { return store.X12ID{Qualifier: q, ID: id} }

func key(kind, value string) store.Key { return store.Key{Kind: kind, Value: value} }

// drawConcurrently runs draw each times on each of workers goroutines at
// once (draw gets the worker's and the draw's index) and returns the values
// drawn, failing the test on an error or a value drawn twice.
func drawConcurrently(t *testing.T, workers, each int, what string, draw func(w, i int) (int64, error)) map[int64]bool {
	t.Helper()
	drawn := make(chan int64, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				v, err := draw(w, i)
				if err != nil {
					t.Error(err)
					return
				}
				drawn <- v
			}
		})
	}
	wg.Wait()
	close(drawn)
	uniq := map[int64]bool{}
	for v := range drawn {
		if uniq[v] {
			t.Fatalf("%s %d handed out twice", what, v)
		}
		uniq[v] = true
	}
	return uniq
}

// eventKinds are the kinds of evs, in order.
func eventKinds(evs []*store.Event) []lifecycle.EventKind {
	kinds := make([]lifecycle.EventKind, len(evs))
	for i, e := range evs {
		kinds[i] = e.Kind
	}
	return kinds
}
