package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit holds the first transaction open until the others have
// queued behind it, so that they share the next one, and checks what each
// caller is promised: its own outcome, a failing or panicking function
// rolled back alone, a caller whose context ended before its turn never
// run, and everything else committed.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := openGroupStore(t)

	const n = 40
	release := holdWriter(t, s, func(tx Tx) error {
		_, err := tx.NextCounter(ctx, "p", "ok")
		return err
	})

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	errFail := errors.New("refused")
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			c := ctx
			if i%10 == 3 {
				c = cancelled
			}
			errs[i] = s.WithTx(c, func(tx Tx) error {
				if _, err := tx.NextCounter(ctx, "p", "all"); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					t.Errorf("call %d ran although its context had ended", i)
				case 5:
					return fmt.Errorf("call %d: %w", i, errFail)
				case 7:
					panic(fmt.Sprintf("call %d panics", i))
				}
				_, err := tx.NextCounter(ctx, "p", "ok")
				return err
			})
		})
	}
	waitFor(t, func() bool { return queued(s) == n })
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	okCalls := 0
	for i := range n {
		switch i % 10 {
		case 3:
			if !errors.Is(errs[i], context.Canceled) {
				t.Errorf("call %d: %v, want context.Canceled", i, errs[i])
			}
		case 5:
			if !errors.Is(errs[i], errFail) {
				t.Errorf("call %d: %v, want its own error", i, errs[i])
			}
		case 7:
			if panics[i] != fmt.Sprintf("call %d panics", i) {
				t.Errorf("call %d: panic %v, want its own panic on its goroutine", i, panics[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("call %d: %v %v", i, errs[i], panics[i])
			}
			okCalls++
		}
	}
	// "ok" counts the first call and every successful one; "all" only the
	// successful ones too: the failing and panicking calls' increments
	// were rolled back with them.
	if got, _ := s.NextCounter(ctx, "p", "ok"); got != int64(okCalls+2) {
		t.Errorf("ok counter after %d successful calls: next is %d, want %d", okCalls+1, got, okCalls+2)
	}
	if got, _ := s.NextCounter(ctx, "p", "all"); got != int64(okCalls+1) {
		t.Errorf("all counter after %d successful calls: next is %d, want %d", okCalls, got, okCalls+1)
	}
}

// openGroupStore opens a SQLite store in a temporary folder, with a fixed
// clock, closed when the test ends.
func openGroupStore(t *testing.T) *sqliteStore {
	t.Helper()
	st, err := openSQLite(context.Background(), filepath.Join(t.TempDir(), "wharf.db"), options{clock: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*sqliteStore)
}

// holdWriter starts a transaction that holds SQLite's writer, and returns
// once it leads the group commit with nothing queued behind it, so that
// the calls made next queue for one batch. release lets it run fn (nil:
// nothing) and commit, and returns its outcome.
func holdWriter(t *testing.T, s *sqliteStore, fn func(Tx) error) (release func() error) {
	t.Helper()
	hold := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithTx(context.Background(), func(tx Tx) error {
			<-hold
			if fn == nil {
				return nil
			}
			return fn(tx)
		})
	}()
	waitFor(t, func() bool {
		s.group.mu.Lock()
		defer s.group.mu.Unlock()
		return s.group.leading && len(s.group.queue) == 0
	})
	return func() error { close(hold); return <-done }
}

// queued is how many calls wait for the group commit's next batch.
func queued(s *sqliteStore) int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached within 10 s")
}

// TestGroupCommitMerged queues calls of one Merge, interleaved with
// ordinary transactions, behind a transaction held open, and checks that
// the batch writes their items with one Run, that a Run that fails is
// followed by each item alone (the bad item's caller gets its error, the
// others commit), and that a caller whose context ended is left out.
func TestGroupCommitMerged(t *testing.T) {
	ctx := context.Background()
	s := openGroupStore(t)

	errBad := errors.New("bad item")
	var mu sync.Mutex
	var runs [][]int
	m := &Merge{Run: func(ctx context.Context, tx Tx, items []any) error {
		var got []int
		for _, it := range items {
			got = append(got, it.(int))
		}
		mu.Lock()
		runs = append(runs, got)
		mu.Unlock()
		for _, i := range got {
			if _, err := tx.NextCounter(ctx, "p", fmt.Sprintf("item%d", i)); err != nil {
				return err
			}
			if i == 13 {
				return fmt.Errorf("item %d: %w", i, errBad)
			}
		}
		return nil
	}}
	// batch holds a transaction open until the calls have queued, queues
	// them (item i through WithTxMerged, every third call an ordinary
	// transaction, item 4 with an ended context), then lets them run.
	batch := func(items []int) map[int]error {
		release := holdWriter(t, s, nil)
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		errs := map[int]error{}
		var emu sync.Mutex
		var wg sync.WaitGroup
		for n, i := range items {
			c := ctx
			if i == 4 {
				c = cancelled
			}
			wg.Go(func() {
				err := s.WithTxMerged(c, m, i)
				emu.Lock()
				errs[i] = err
				emu.Unlock()
			})
			waitFor(t, func() bool { return queued(s) == 2*n+1 })
			wg.Go(func() {
				if err := s.WithTx(ctx, func(tx Tx) error { _, err := tx.NextCounter(ctx, "p", "plain"); return err }); err != nil {
					t.Error(err)
				}
			})
			waitFor(t, func() bool { return queued(s) == 2*n+2 })
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		return errs
	}

	errs := batch([]int{1, 2, 3, 4})
	if len(runs) != 1 || fmt.Sprint(runs[0]) != "[1 2 3]" {
		t.Fatalf("runs %v, want one Run of [1 2 3] (4's context had ended)", runs)
	}
	if errs[1] != nil || errs[2] != nil || errs[3] != nil || !errors.Is(errs[4], context.Canceled) {
		t.Fatalf("errors %v", errs)
	}

	runs = nil
	errs = batch([]int{11, 12, 13, 14})
	if fmt.Sprint(runs) != "[[11 12 13 14] [11] [12] [13] [14]]" {
		t.Fatalf("runs %v, want the four together, then each alone", runs)
	}
	if errs[11] != nil || errs[12] != nil || !errors.Is(errs[13], errBad) || errs[14] != nil {
		t.Fatalf("errors %v, want only item 13's own", errs)
	}
	// What committed: every item but 13, once; the ordinary transactions.
	for i, want := range map[int]int64{1: 2, 2: 2, 3: 2, 4: 1, 11: 2, 12: 2, 13: 1, 14: 2} {
		if got, _ := s.NextCounter(ctx, "p", fmt.Sprintf("item%d", i)); got != want {
			t.Errorf("item %d: next counter %d, want %d", i, got, want)
		}
	}
	if got, _ := s.NextCounter(ctx, "p", "plain"); got != 9 {
		t.Errorf("ordinary transactions: next counter %d, want 9", got)
	}
}
