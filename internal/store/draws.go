package store

import (
	"context"
	"errors"
	"sync"
)

// draws coalesces concurrent control-number draws of the store (outside a
// transaction). Every file processed for a partner draws its
// acknowledgment's ISA13, GS06 and ST02, so in a burst many workers draw the
// same partner's counters at once; each draw was a statement and a
// transaction of its own: on SQLite a transaction of the group commit, on
// PostgreSQL a round trip with two commits (countersPG). Here, while one
// draw of a partner's counters runs, the calls that arrive for the same
// counters wait for it and then draw together: one statement adds their
// number k to each counter and returns the last value, and the i-th of
// them (from 0) takes last-k+1+i. A lone call draws at once, as before.
//
// Nothing else changes for a caller: the numbers are durable when it gets
// them, and a failed draw hands out none (a gap, never a repeat: the
// statement may have committed before the failure reached Wharf).
type draws struct {
	mu    sync.Mutex
	slots map[string]*drawSlot
}

// drawSlot is one set of counters (a partner's, by their names).
type drawSlot struct {
	running bool       // a draw of these counters is under way
	next    *drawBatch // the calls waiting for it to end
}

// drawBatch is the calls that draw together.
type drawBatch struct {
	n     int64         // callers; fixed once the batch has started
	start chan struct{} // closed when the batch may draw
	done  chan struct{} // closed when last and err are set
	last  []int64       // each counter's value after the draw
	err   error
}

// do joins the draw of the counters named by key and returns their values
// after it (last), how many callers it served (k) and this caller's place
// among them (i, from 0). draw adds k to each counter and returns their
// values after; it runs on the goroutine of the batch's first caller. A
// caller whose ctx ends while it waits for another's draw returns ctx's
// error (its numbers, if drawn, are a gap).
func (d *draws) do(ctx context.Context, key string, draw func(k int64) ([]int64, error)) (last []int64, k, i int64, err error) {
	d.mu.Lock()
	if d.slots == nil {
		d.slots = map[string]*drawSlot{}
	}
	s := d.slots[key]
	if s == nil {
		s = &drawSlot{}
		d.slots[key] = s
	}
	b := s.next
	lead := b == nil
	if lead {
		b = &drawBatch{start: make(chan struct{}), done: make(chan struct{})}
		s.next = b
	}
	i = b.n
	b.n++
	if lead && !s.running { // nothing to wait for
		s.running, s.next = true, nil
		close(b.start)
	}
	d.mu.Unlock()

	if !lead {
		select {
		case <-b.done:
			return b.last, b.n, i, b.err
		case <-ctx.Done():
			return nil, 0, 0, ctx.Err()
		}
	}
	<-b.start // the draw before this one is short; the batch needs its leader
	// Even when draw panics, the callers get an outcome (this error) and
	// the next batch its turn.
	defer d.finish(key, s, b)
	b.err = errDrawPanicked
	b.last, b.err = draw(b.n)
	return b.last, b.n, i, b.err
}

var errDrawPanicked = errors.New("store: the control-number draw panicked")

// finish ends b's draw: the counters go to the calls that came meanwhile,
// and b's callers get its outcome.
func (d *draws) finish(key string, s *drawSlot, b *drawBatch) {
	d.mu.Lock()
	if nb := s.next; nb != nil {
		s.next = nil
		close(nb.start)
	} else {
		s.running = false
		delete(d.slots, key)
	}
	d.mu.Unlock()
	close(b.done)
}

// leaderGone is a draw's error when the context it ran on (its first
// caller's) ended: the others draw again.
type leaderGone struct{ err error }

func (e leaderGone) Error() string { return e.err.Error() }
func (e leaderGone) Unwrap() error { return e.err }

// waiting is how many calls wait to draw the counters named by key (tests).
func (d *draws) waiting(key string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.slots[key]; s != nil && s.next != nil {
		return s.next.n
	}
	return 0
}
