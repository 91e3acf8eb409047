package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

func exerciseProcessing(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	due := func(t *testing.T, s store.Store) int64 {
		t.Helper()
		n, err := s.ProcessingDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("ProcessingQueue", func(t *testing.T) {
		s, _ := open(t)
		beat(t, s, "a", "b", "c", "d")
		if ids, err := s.ClaimProcessing(ctx, "a", 10); err != nil || len(ids) != 0 {
			t.Fatalf("claim from an empty queue: %v %v", ids, err)
		}
		base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
		var queued []string
		for i := range 6 {
			m := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "folder", RemoteName: fmt.Sprintf("f%d", i),
				Status: "received", ReceivedAt: base.Add(time.Duration(i) * time.Second)}
			err := s.WithTx(ctx, func(tx store.Tx) error {
				if err := tx.InsertMessage(ctx, m); err != nil {
					return err
				}
				if i == 5 { // not queued: nothing claims it
					return nil
				}
				if err := tx.QueueProcessing(ctx, m.ID); err != nil {
					return err
				}
				return tx.QueueProcessing(ctx, m.ID) // twice is once
			})
			if err != nil {
				t.Fatal(err)
			}
			if i < 5 {
				queued = append(queued, m.ID)
			}
		}
		if err := s.QueueProcessing(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("queue a message that does not exist: want ErrNotFound, got %v", err)
		}
		if n := due(t, s); n != 5 {
			t.Fatalf("due %d, want 5", n)
		}
		if ids, err := s.ClaimProcessing(ctx, "stranger", 10); err != nil || len(ids) != 0 {
			t.Fatalf("an owner with no instance row claimed %v (%v)", ids, err)
		}
		// A claim never returned to the queue is a message's first.
		a, err := s.ClaimProcessing(ctx, "a", 2)
		if err != nil || !slices.Equal(a, claims(queued[:2], true)) {
			t.Fatalf("a claims %v (%v), want the two oldest %v", a, err, queued[:2])
		}
		b, err := s.ClaimProcessing(ctx, "b", 10)
		if err != nil || !slices.Equal(b, claims(queued[2:], true)) {
			t.Fatalf("b claims %v (%v), want the rest %v", b, err, queued[2:])
		}
		if c, _ := s.ClaimProcessing(ctx, "c", 10); len(c) != 0 {
			t.Fatalf("claimed twice: %v", c)
		}
		// The outcome's transaction ends a claim; a rolled back one does not.
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.ProcessingDone(ctx, a[0].MessageID, "a"); err != nil {
				return err
			}
			return errors.New("roll back")
		}); err == nil {
			t.Fatal("want the rollback")
		}
		if n := due(t, s); n != 5 {
			t.Fatalf("due %d after a rolled back outcome, want 5", n)
		}
		if err := s.ProcessingDone(ctx, a[0].MessageID, "b"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("b ends a's claim: want ErrConflict, got %v", err)
		}
		if owner, err := s.ProcessingOwner(ctx, a[0].MessageID); err != nil || owner != "a" {
			t.Fatalf("owner %q %v, want a", owner, err)
		}
		if err := s.ProcessingDone(ctx, a[0].MessageID, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ProcessingOwner(ctx, a[0].MessageID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("owner of a finished message: want ErrNotFound, got %v", err)
		}
		if n := due(t, s); n != 4 {
			t.Fatalf("due %d, want 4", n)
		}
		// b stops beating: its claims return (not first any more); a's
		// stays a's.
		if n, err := s.ReleaseProcessing(ctx, "b"); err != nil || n != 3 {
			t.Fatalf("release b: %d %v", n, err)
		}
		c, err := s.ClaimProcessing(ctx, "c", 10)
		if err != nil || !slices.Equal(c, claims(queued[2:], false)) {
			t.Fatalf("c claims %v (%v), want b's %v", c, err, queued[2:])
		}
		// c's row goes without a failover (it crashed before its first
		// heartbeat was recorded, say): a heartbeat returns its claims.
		if _, err := s.RemoveInstance(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.ReleaseOrphanedProcessing(ctx); err != nil || n != 3 {
			t.Fatalf("release orphans: %d %v", n, err)
		}
		if c, err = s.ClaimProcessing(ctx, "d", 10); err != nil || !slices.Equal(c, claims(queued[2:], false)) {
			t.Fatalf("d claims %v (%v), want c's %v", c, err, queued[2:])
		}
		// A lone server's start returns every claim.
		if n, err := s.ReleaseProcessing(ctx, ""); err != nil || n != 4 { // a's one, d's three
			t.Fatalf("release all: %d %v", n, err)
		}
		if n, err := s.ReleaseProcessing(ctx, ""); err != nil || n != 0 {
			t.Fatalf("release all again: %d %v", n, err)
		}
		all, err := s.ClaimProcessing(ctx, "d", 10)
		if err != nil || !slices.Equal(all, claims(queued[1:], false)) {
			t.Fatalf("d claims %v (%v), want %v", all, err, queued[1:])
		}
	})

	t.Run("ProcessingClaimsConcurrent", func(t *testing.T) {
		s, dsn := open(t)
		s2, err := store.Open(ctx, dsn) // a second process on the database
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		const n = 200
		for i := range n {
			m := &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "folder", RemoteName: fmt.Sprint(i), Status: "received"}
			if err := s.WithTx(ctx, func(tx store.Tx) error {
				if err := tx.InsertMessage(ctx, m); err != nil {
					return err
				}
				return tx.QueueProcessing(ctx, m.ID)
			}); err != nil {
				t.Fatal(err)
			}
		}
		beat(t, s, "w0", "w1", "w2", "w3", "w4", "w5")
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := range 6 {
			st := []store.Store{s, s2}[w%2]
			wg.Go(func() {
				owner := fmt.Sprint("w", w)
				for {
					ids, err := st.ClaimProcessing(ctx, owner, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ids) == 0 {
						return
					}
					mu.Lock()
					for _, c := range ids {
						if prev, ok := seen[c.MessageID]; ok {
							t.Errorf("%s claimed by %s and %s", c.MessageID, prev, owner)
						}
						seen[c.MessageID] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d of %d claimed", len(seen), n)
		}
	})
}

// beat registers instances, as their first heartbeat does.
func beat(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.BeatInstance(context.Background(), &store.Instance{ID: id, Host: "test"}); err != nil {
			t.Fatal(err)
		}
	}
}

// claims are the claims of the messages ids, first or not.
func claims(ids []string, first bool) []store.ProcessingClaim {
	cs := make([]store.ProcessingClaim, len(ids))
	for i, id := range ids {
		cs[i] = store.ProcessingClaim{MessageID: id, First: first}
	}
	return cs
}
