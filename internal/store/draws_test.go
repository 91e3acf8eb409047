package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestDrawsCoalesce holds a first draw until ten more callers wait behind
// it, and checks that those ten then draw in one call, each with a number
// of its own, and that a failed draw hands out nothing.
func TestDrawsCoalesce(t *testing.T) {
	var d draws
	var mu sync.Mutex
	var value int64 // the counter in the "database"
	var calls []int64
	release := make(chan struct{})
	draw := func(k int64) ([]int64, error) {
		mu.Lock()
		first := len(calls) == 0
		calls = append(calls, k)
		value += k
		v := value
		mu.Unlock()
		if first {
			<-release
		}
		return []int64{v}, nil
	}
	got := make(chan int64, 11)
	var wg sync.WaitGroup
	take := func() {
		last, k, i, err := d.do(context.Background(), "acme", draw)
		if err != nil {
			t.Error(err)
			return
		}
		got <- last[0] - k + 1 + i
	}
	wg.Go(take)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) == 1 })
	for range 10 {
		wg.Go(take)
	}
	waitFor(t, func() bool { return d.waiting("acme") == 10 })
	close(release)
	wg.Wait()
	close(got)
	seen := map[int64]bool{}
	for v := range got {
		if v < 1 || v > 11 || seen[v] {
			t.Fatalf("number %d handed out twice or outside 1..11 (%v)", v, seen)
		}
		seen[v] = true
	}
	if len(calls) != 2 || calls[0] != 1 || calls[1] != 10 {
		t.Fatalf("draws of %v, want [1 10]: the ten waiting callers draw together", calls)
	}
	if d.waiting("acme") != 0 || len(d.slots) != 0 {
		t.Fatalf("slots left behind: %v", d.slots)
	}

	// A failed draw: every caller of its batch gets the error; a caller
	// whose context ends while it waits returns at once; a draw that
	// panics fails its batch and frees the counters for the next.
	boom := errors.New("boom")
	hold := make(chan struct{})
	started := make(chan struct{})
	firstErr := make(chan error, 1)
	go func() {
		_, _, _, err := d.do(context.Background(), "acme", func(int64) ([]int64, error) { close(started); <-hold; return nil, boom })
		firstErr <- err
	}()
	<-started
	panicked := make(chan any, 1)
	go func() { // leads the next batch, whose draw panics
		defer func() { panicked <- recover() }()
		d.do(context.Background(), "acme", func(int64) ([]int64, error) { panic("draw panics") })
	}()
	waitFor(t, func() bool { return d.waiting("acme") == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { _, _, _, err := d.do(ctx, "acme", draw); cancelled <- err }()
	waitFor(t, func() bool { return d.waiting("acme") == 2 })
	follower := make(chan error, 1)
	go func() { _, _, _, err := d.do(context.Background(), "acme", draw); follower <- err }()
	waitFor(t, func() bool { return d.waiting("acme") == 3 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiting caller whose context ended: %v, want context.Canceled", err)
	}
	close(hold)
	if err := <-firstErr; !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if p := <-panicked; p != "draw panics" {
		t.Fatalf("the leader's panic: %v", p)
	}
	if err := <-follower; !errors.Is(err, errDrawPanicked) {
		t.Fatalf("a caller of a batch whose draw panicked: %v, want errDrawPanicked", err)
	}
	if last, k, i, err := d.do(context.Background(), "acme", draw); err != nil || last[0]-k+1+i != 12 {
		t.Fatalf("the draw after: %v %d %d %v, want number 12", last, k, i, err)
	}
	if len(d.slots) != 0 {
		t.Fatalf("slots left behind: %v", d.slots)
	}
}

// TestNextCountersLeaderGone: a draw whose first caller's context ended
// before it ran fails that caller only; the caller that waited to draw
// with it draws again and gets a number of its own.
func TestNextCountersLeaderGone(t *testing.T) {
	ctx := context.Background()
	s := openGroupStore(t)
	release := holdWriter(t, s, nil) // draws wait in the writer's queue

	type drawn struct {
		v   []int64
		err error
	}
	draw := func(ctx context.Context, out chan<- drawn) {
		v, err := s.NextCounters(ctx, "acme", "isa13")
		out <- drawn{v, err}
	}
	a, b, c := make(chan drawn, 1), make(chan drawn, 1), make(chan drawn, 1)
	go draw(ctx, a) // draws at once: waits in the writer's queue
	waitFor(t, func() bool { return queued(s) == 1 })
	bctx, cancel := context.WithCancel(ctx)
	go draw(bctx, b) // leads the next draw
	waitFor(t, func() bool { return s.draws.waiting("acme\x00isa13") == 1 })
	go draw(ctx, c) // draws with b
	waitFor(t, func() bool { return s.draws.waiting("acme\x00isa13") == 2 })
	cancel()
	if err := release(); err != nil {
		t.Fatal(err)
	}
	ra, rb, rc := <-a, <-b, <-c
	if ra.err != nil || ra.v[0] != 1 {
		t.Fatalf("first draw: %v %v, want 1", ra.v, ra.err)
	}
	if !errors.Is(rb.err, context.Canceled) {
		t.Fatalf("the draw whose context ended: %v %v, want context.Canceled", rb.v, rb.err)
	}
	if rc.err != nil || rc.v[0] != 2 {
		t.Fatalf("the caller that waited with it: %v %v, want 2 (drawn again)", rc.v, rc.err)
	}
}
