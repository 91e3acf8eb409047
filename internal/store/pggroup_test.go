package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

// openPGGroupStore opens a PostgreSQL store in a fresh schema, closed
// when the test ends.
func openPGGroupStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// syncEventKeys lists the keys of the sync events of kind "t", in order.
func syncEventKeys(t *testing.T, s store.Store) string {
	t.Helper()
	var keys []string
	for _, k := range []string{"a", "b", "c", "f", "g", "h"} {
		evs, err := s.SyncEvents(context.Background(), "t", k)
		if err != nil {
			t.Fatal(err)
		}
		for range evs {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, " ")
}

// TestPGGroupCommit runs calls in one shared transaction of a lane and
// checks what each caller is promised: its own outcome; a failing or
// panicking function rolled back alone, whether it sent statements or only
// left writes waiting, the rows that waited before it kept although its
// statements sent them; a caller whose context ended before its turn never
// run; one whose context ends during its function not taking the
// transaction with it; and everything else committed once, together.
func TestPGGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openPGGroupStore(t)
	errFail := errors.New("refused")
	ev := func(tx store.Tx, key string) error {
		return tx.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "t", Key: key, Event: "e"})
	}
	var ids []int64
	id := func(tx store.Tx) error {
		n, err := store.TxID(ctx, tx)
		ids = append(ids, n)
		return err
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	ending, endNow := context.WithCancel(ctx)
	fns := []struct {
		name string
		ctx  context.Context
		fn   func(store.Tx) error
	}{
		{"a", ctx, func(tx store.Tx) error { // a: succeeds, a row waits
			if err := ev(tx, "a"); err != nil {
				return err
			}
			_, err := tx.NextCounter(ctx, "p", "ok")
			return err
		}},
		{"g", ctx, func(tx store.Tx) error { // g: a statement that fails (a unique key), its error returned; the
			// first call to roll back, in a transaction the server aborted
			if err := id(tx); err != nil {
				return err
			}
			return store.TxExec(ctx, tx, `INSERT INTO processing_queue (message_id) VALUES ('nope'), ('nope')`)
		}},
		{"b", ctx, func(tx store.Tx) error { // b: only waiting writes, then fails
			if err := ev(tx, "b"); err != nil {
				return err
			}
			return fmt.Errorf("b: %w", errFail)
		}},
		{"c", ctx, func(tx store.Tx) error { // c: its read sends a's row and its own, then it fails
			if err := ev(tx, "c"); err != nil {
				return err
			}
			if got, err := tx.SyncEvents(ctx, "t", "a"); err != nil || len(got) != 1 {
				return fmt.Errorf("c sees a's row: %d, %v", len(got), err)
			}
			if _, err := tx.NextCounter(ctx, "p", "all"); err != nil {
				return err
			}
			return fmt.Errorf("c: %w", errFail)
		}},
		{"d", ctx, func(tx store.Tx) error { // d: panics after a write
			if _, err := tx.NextCounter(ctx, "p", "all"); err != nil {
				return err
			}
			panic("d panics")
		}},
		{"e", ended, func(tx store.Tx) error { // e: its context ended before its turn
			t.Error("e ran although its context had ended")
			return nil
		}},
		{"f", ending, func(tx store.Tx) error { // f: its context ends during its function
			if err := id(tx); err != nil {
				return err
			}
			endNow()
			if err := ev(tx, "f"); err != nil {
				return err
			}
			_, err := tx.NextCounter(ending, "p", "ok")
			return err
		}},
		{"h", ctx, func(tx store.Tx) error { // h: succeeds after all that
			if err := id(tx); err != nil {
				return err
			}
			if err := ev(tx, "h"); err != nil {
				return err
			}
			_, err := tx.NextCounter(ctx, "p", "all")
			return err
		}},
	}
	var batch []*store.PGGroupCall
	for _, f := range fns {
		batch = append(batch, &store.PGGroupCall{Ctx: f.ctx, Fn: f.fn})
	}
	store.PGGroupRun(s, batch)
	for i, c := range batch {
		name := fns[i].name
		switch name {
		case "b", "c":
			if !errors.Is(c.Err, errFail) {
				t.Errorf("%s: %v, want its own error", name, c.Err)
			}
		case "d":
			if c.Panic != "d panics" {
				t.Errorf("d: panic %v, want its own", c.Panic)
			}
		case "e":
			if !errors.Is(c.Err, context.Canceled) {
				t.Errorf("e: %v, want context.Canceled", c.Err)
			}
		case "g":
			if c.Err == nil || !strings.Contains(c.Err.Error(), "duplicate key") {
				t.Errorf("g: %v, want its unique key's error", c.Err)
			}
		default:
			if c.Err != nil || c.Panic != nil {
				t.Errorf("%s: %v %v", name, c.Err, c.Panic)
			}
		}
	}
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("transaction IDs of g, f and h: %v, want one shared", ids)
	}
	if got := syncEventKeys(t, s); got != "a f h" {
		t.Errorf("sync events committed: %q, want a f h (b, c and g rolled back)", got)
	}
	if got, _ := s.NextCounter(ctx, "p", "ok"); got != 3 {
		t.Errorf("ok counter: next is %d, want 3 (a and f)", got)
	}
	if got, _ := s.NextCounter(ctx, "p", "all"); got != 2 {
		t.Errorf("all counter: next is %d, want 2 (h alone: c's and d's rolled back)", got)
	}
}

// TestPGGroupTxFails checks a shared transaction that fails as a whole:
// a waiting write of one call that fails with the next call's statement
// takes the transaction down. Both calls get the error (their writes are
// gone), and the calls after them run in the lane's next transaction.
func TestPGGroupTxFails(t *testing.T) {
	ctx := context.Background()
	s := openPGGroupStore(t)
	count := func(name string) func(store.Tx) error {
		return func(tx store.Tx) error { _, err := tx.NextCounter(ctx, "p", name); return err }
	}
	batch := []*store.PGGroupCall{
		{Ctx: ctx, Fn: count("first")},
		{Ctx: ctx, Fn: func(tx store.Tx) error {
			// Its savepoint goes with this statement, and the failing
			// write waits after it: rolling back to its savepoint would
			// lose this call's work and let it succeed.
			if err := count("middle")(tx); err != nil {
				return err
			}
			return store.ExecLater(ctx, tx, "divide by zero", `SELECT 1/0`)
		}},
		{Ctx: ctx, Fn: count("second")},
		{Ctx: ctx, Fn: count("third")},
	}
	store.PGGroupRun(s, batch)
	for i, c := range batch[:3] {
		if c.Err == nil || !strings.Contains(c.Err.Error(), "divide by zero") {
			t.Errorf("call %d: %v, want the failed write's error", i, c.Err)
		}
	}
	if batch[3].Err != nil {
		t.Errorf("call 3, after the failed transaction: %v", batch[3].Err)
	}
	for name, want := range map[string]int64{"first": 1, "middle": 1, "second": 1, "third": 2} {
		if got, _ := s.NextCounter(ctx, "p", name); got != want {
			t.Errorf("%s: next counter %d, want %d", name, got, want)
		}
	}
}

// TestPGGroupLanes holds every lane with a transaction, queues calls
// behind them, and checks that a queued call whose context ends leaves at
// once, and that the others then share transactions, at most pgMaxGroup
// to one, and all commit.
func TestPGGroupLanes(t *testing.T) {
	ctx := context.Background()
	s := openPGGroupStore(t)
	_, commits0, txs0 := s.(store.WriterStater).WriterStats()
	hold := make(chan struct{})
	var wg sync.WaitGroup
	for range store.PGLanes {
		wg.Go(func() {
			if err := s.WithTx(ctx, func(tx store.Tx) error { <-hold; return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	lanes := func() (leaders, queued int) { return store.PGGroupState(s) }
	store.WaitFor(t, func() bool { l, q := lanes(); return l == store.PGLanes && q == 0 })
	const n = 40
	var mu sync.Mutex
	ids := map[int64]int{}
	for range n {
		wg.Go(func() {
			err := s.WithTx(ctx, func(tx store.Tx) error {
				id, err := store.TxID(ctx, tx)
				if err != nil {
					return err
				}
				mu.Lock()
				ids[id]++
				mu.Unlock()
				_, err = tx.NextCounter(ctx, "p", "n")
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	store.WaitFor(t, func() bool { _, q := lanes(); return q == n })
	// A queued caller whose context ends leaves the queue at once.
	leaving, leave := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() {
		left <- s.WithTx(leaving, func(tx store.Tx) error {
			t.Error("a call that left the queue ran")
			return nil
		})
	}()
	store.WaitFor(t, func() bool { _, q := lanes(); return q == n+1 })
	leave()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Errorf("a queued call whose context ended: %v, want context.Canceled", err)
	}
	if _, q := lanes(); q != n {
		t.Errorf("%d calls queued after one left, want %d", q, n)
	}
	close(hold)
	wg.Wait()
	if len(ids) != 2 {
		t.Errorf("the %d queued calls ran in %d transactions (%v), want 2: %d and %d", n, len(ids), ids, store.PGMaxGroup, n-store.PGMaxGroup)
	}
	if got, _ := s.NextCounter(ctx, "p", "n"); got != n+1 {
		t.Errorf("next counter %d, want %d", got, n+1)
	}
	// The held calls committed alone, the queued ones in two transactions;
	// the one that left ran in none.
	busy, commits, txs := s.(store.WriterStater).WriterStats()
	if commits-commits0 != store.PGLanes+2 || txs-txs0 != store.PGLanes+n || busy <= 0 {
		t.Errorf("writer stats: %d commits of %d calls (busy %v), want %d of %d", commits-commits0, txs-txs0, busy, store.PGLanes+2, store.PGLanes+n)
	}
	if l, q := lanes(); l != 0 || q != 0 {
		t.Errorf("after the calls: %d lanes led, %d calls queued", l, q)
	}
}
