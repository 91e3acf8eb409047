package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Store is what the publisher needs of the store: the outbox and the
// sinks' cursors and leases. store.Store implements it.
type Store interface {
	AssignOutbox(ctx context.Context, limit int) (int, error)
	OutboxAfter(ctx context.Context, pos int64, limit int) ([]*store.OutboxEvent, error)
	OutboxSince(ctx context.Context, since time.Time, pos int64, limit int) ([]*store.OutboxEvent, error)
	OutboxPending(ctx context.Context, pos int64) (time.Time, int64, error)
	PruneOutbox(ctx context.Context, before time.Time, pos int64, limit int) (int, error)
	ClaimOutboxSink(ctx context.Context, p *store.ClaimOutboxSinkParams) (*store.OutboxSink, error)
	AdvanceOutboxSink(ctx context.Context, p *store.AdvanceOutboxSinkParams) error
	FailOutboxSink(ctx context.Context, sink, owner, msg string, at time.Time) error
	ReleaseOutboxSink(ctx context.Context, sink, owner string) error
	OutboxSinks(ctx context.Context) ([]*store.OutboxSink, error)
}

// Publisher drains the outbox into the subscriptions' sinks.
//
// Lifecycle: fill the fields, then call Run (blocks until its context
// ends) or Step (one pass for one subscription, for tests and tools).
// Subscriptions must not change after Run started. The publisher does not
// close the sinks.
type Publisher struct {
	Store Store
	Subs  []*Subscription
	// Owner names this instance in the sinks' leases (the instance ID).
	Owner string
	// RoleOf gives a partner's role, for subscriptions filtered by role.
	RoleOf func(partner string) string
	// Source is the CloudEvents source attribute; default "/wharf".
	Source string
	Now    func() time.Time
	Logger *slog.Logger
	// Poll is how often an idle subscription looks for new events
	// (default 50ms); Lease how long a claim lasts (default 30s), renewed
	// every pass; Batch the most events per publish (default 500);
	// Retention how long published events are kept for replay (default
	// 168h).
	Poll      time.Duration
	Lease     time.Duration
	Batch     int
	Retention time.Duration
	// MaxBackoff caps the wait between failed attempts (default 1m; the
	// first wait is 1s, doubled each time).
	MaxBackoff time.Duration
	// OwnerGone, when set, tells whether the instance holding a lease is
	// known to be gone (killed on this machine, or failed over by the
	// cluster): its lease is then taken at once instead of after it
	// lapses, so a restart after kill -9 does not stall publishing for a
	// lease's time.
	OwnerGone func(ctx context.Context, owner string) bool

	metricsOnce sync.Once
	metrics     *metrics

	mu   sync.Mutex
	held map[string]*store.OutboxSink // the leases this publisher holds, with the cursor it moved
}

// claim returns the subscription's lease and cursor: the one held while
// it has more than half its time left (no write to the store), else a
// claim or renewal in the store.
func (p *Publisher) claim(ctx context.Context, sub *Subscription, now time.Time) (*store.OutboxSink, error) {
	lease := cmp.Or(p.Lease, 30*time.Second)
	p.mu.Lock()
	k := p.held[sub.Name]
	p.mu.Unlock()
	if k != nil && now.Before(k.LeaseUntil.Add(-lease/2)) {
		return k, nil
	}
	k, err := p.Store.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: sub.Name, Owner: p.Owner, Now: now, Until: now.Add(lease)})
	if errors.Is(err, store.ErrConflict) && p.OwnerGone != nil {
		k, err = p.takeOver(ctx, sub, now, lease, err)
	}
	p.remember(sub.Name, k)
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("%w: %v", ErrNotOwner, err)
	}
	return k, err
}

// takeOver claims the lease of a gone owner before it lapses. The claim
// counts the old lease as ended just after its recorded end: of two
// instances taking over at once, the second finds the first's new lease
// running and gets ErrConflict.
func (p *Publisher) takeOver(ctx context.Context, sub *Subscription, now time.Time, lease time.Duration, conflict error) (*store.OutboxSink, error) {
	ks, err := p.Store.OutboxSinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, cur := range ks {
		if cur.Name != sub.Name || cur.Owner == "" || cur.Owner == p.Owner || !p.OwnerGone(ctx, cur.Owner) {
			continue
		}
		k, err := p.Store.ClaimOutboxSink(ctx, &store.ClaimOutboxSinkParams{Sink: sub.Name, Owner: p.Owner,
			Now: cur.LeaseUntil.Add(time.Microsecond), Until: now.Add(lease)})
		if err == nil {
			p.log().Info("events: took over the subscription of a gone instance", "subscription", sub.Name, "from", cur.Owner)
		}
		return k, err
	}
	return nil, conflict
}

func (p *Publisher) remember(name string, k *store.OutboxSink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = map[string]*store.OutboxSink{}
	}
	if k == nil {
		delete(p.held, name)
	} else {
		p.held[name] = k
	}
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Publisher) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// event is r as the CloudEvent sub publishes, or nil when sub does not
// want it.
func (p *Publisher) event(ctx context.Context, sub *Subscription, r *store.OutboxEvent) (*Event, error) {
	if ok, err := sub.wants(ctx, r, p.RoleOf); err != nil || !ok {
		return nil, err
	}
	return FromOutbox(r, p.Source)
}

// ErrNotOwner: another instance holds the subscription's lease.
var ErrNotOwner = errors.New("another instance publishes this subscription")

// Step makes one pass for sub: claims (or renews) its lease, positions
// committed events, publishes the next batch of those it wants and moves
// its cursor over what the broker acknowledged. It returns how many
// outbox events it went through (0: nothing new) and, when the sink
// failed, the sink's error after recording it.
func (p *Publisher) Step(ctx context.Context, sub *Subscription) (int, error) {
	k, err := p.claim(ctx, sub, p.now())
	if err != nil {
		return 0, err
	}
	batch := cmp.Or(p.Batch, 500)
	if _, err := p.Store.AssignOutbox(ctx, 10*batch); err != nil {
		return 0, err
	}
	rows, err := p.Store.OutboxAfter(ctx, k.Pos, batch)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	var evs []*Event
	var pos []int64 // the outbox position of each event in evs
	var cuts []int  // where a chunk of events about distinct objects ends
	inChunk := map[string]bool{}
	for _, r := range rows {
		e, err := p.event(ctx, sub, r)
		if err != nil {
			return 0, err
		}
		if e == nil {
			continue
		}
		obj := r.ObjectKind + "\x00" + r.ObjectKey
		if inChunk[obj] {
			cuts = append(cuts, len(evs))
			clear(inChunk)
		}
		inChunk[obj] = true
		evs, pos = append(evs, e), append(pos, r.Pos)
	}
	cuts = append(cuts, len(evs))
	m := p.metricsFor()
	// Each chunk is published as a whole (the sink pipelines it) and
	// acknowledged before the next starts. An object has at most one event
	// in a chunk, so an event of an object is never stored before an
	// earlier event of the same object that the broker did not take: order
	// per object holds even when a broker refuses one event of a batch and
	// stores the next.
	acked, perr := 0, error(nil)
	for start, i := 0, 0; i < len(cuts) && perr == nil; start, i = cuts[i], i+1 {
		if cuts[i] == start {
			continue
		}
		var n int
		n, perr = sub.Sink.Publish(ctx, evs[start:cuts[i]])
		n = max(0, min(n, cuts[i]-start))
		if perr != nil && n == cuts[i]-start {
			perr = nil // every event acknowledged: what failed after does not matter here
		}
		acked += n
	}
	// The cursor moves over every event before the first unacknowledged
	// one (those the subscription does not want included).
	next := rows[len(rows)-1].Pos
	if perr != nil {
		next = pos[acked] - 1
	}
	if next > k.Pos {
		if err := p.Store.AdvanceOutboxSink(ctx, &store.AdvanceOutboxSinkParams{Sink: sub.Name, Owner: p.Owner, Pos: next, Published: int64(acked)}); err != nil {
			p.remember(sub.Name, nil) // claim again: the lease, or the cursor, may be another's
			if errors.Is(err, store.ErrConflict) {
				return 0, fmt.Errorf("%w: %v", ErrNotOwner, err)
			}
			return 0, err
		}
		moved := *k
		moved.Pos, moved.Published = next, k.Published+int64(acked)
		p.remember(sub.Name, &moved)
	}
	m.published.WithLabelValues(sub.Name).Add(float64(acked))
	if perr != nil {
		m.failed.WithLabelValues(sub.Name).Add(float64(len(evs) - acked))
		msg := fmt.Sprintf("subscription %s: %d of %d events acknowledged, event %s (%s) not: %v", sub.Name, acked, len(evs), evs[acked].ID, evs[acked].Type, perr)
		if err := p.Store.FailOutboxSink(ctx, sub.Name, p.Owner, msg, p.now()); err != nil {
			p.log().Warn("events: cannot record a failure", "subscription", sub.Name, "err", err)
		}
		return len(rows), fmt.Errorf("events: %s", msg)
	}
	return len(rows), nil
}

// Run publishes every subscription until ctx ends, one goroutine each,
// and prunes published events older than Retention. It gives the leases
// up on return.
func (p *Publisher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, sub := range p.Subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, sub)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.prune(ctx)
	}()
	wg.Wait()
	return nil
}

func (p *Publisher) run(ctx context.Context, sub *Subscription) {
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = p.Store.ReleaseOutboxSink(ctx, sub.Name, p.Owner)
		p.remember(sub.Name, nil)
	}()
	poll := cmp.Or(p.Poll, 50*time.Millisecond)
	lease := cmp.Or(p.Lease, 30*time.Second)
	var backoff time.Duration
	for ctx.Err() == nil {
		n, err := p.Step(ctx, sub)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrNotOwner):
			wait = lease / 3 // another instance publishes it: look again before its lease could lapse
			backoff = 0
		case err != nil:
			backoff = min(max(2*backoff, time.Second), cmp.Or(p.MaxBackoff, time.Minute))
			wait = backoff
			p.log().Warn("events: publish failed; retrying", "subscription", sub.Name, "in", backoff, "err", err)
		case n == 0:
			wait, backoff = poll, 0
		default:
			backoff = 0
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// prune deletes, every few minutes, events older than Retention that
// every subscription has published.
func (p *Publisher) prune(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := p.Prune(ctx); err != nil {
			p.log().Warn("events: prune the outbox", "err", err)
		}
	}
}

// Prune deletes events older than Retention that every subscription has
// published (none configured: every old event) and returns how many.
func (p *Publisher) Prune(ctx context.Context) (int, error) {
	ks, err := p.Store.OutboxSinks(ctx)
	if err != nil {
		return 0, err
	}
	pos := int64(-1) // no subscription: nothing gives the events positions, and nothing will publish them
	if len(p.Subs) > 0 {
		pos = 1<<63 - 1
	}
	for _, sub := range p.Subs {
		found := false
		for _, k := range ks {
			if k.Name == sub.Name {
				pos, found = min(pos, k.Pos), true
			}
		}
		if !found {
			return 0, nil // a subscription that never ran: keep everything for it
		}
	}
	before := p.now().Add(-cmp.Or(p.Retention, 168*time.Hour))
	total := 0
	for {
		n, err := p.Store.PruneOutbox(ctx, before, pos, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// Replay publishes the events written since a time (and positioned, up
// to the outbox's head when it starts) to sink again, whether or not the
// subscription already published them, filtered like sub. It does not
// move any cursor. It returns how many it published.
func (p *Publisher) Replay(ctx context.Context, sub *Subscription, since time.Time) (int, error) {
	if _, err := p.Store.AssignOutbox(ctx, 100000); err != nil {
		return 0, err
	}
	var pos int64
	total := 0
	for {
		rows, err := p.Store.OutboxSince(ctx, since, pos, cmp.Or(p.Batch, 500))
		if err != nil || len(rows) == 0 {
			return total, err
		}
		var evs []*Event
		for _, r := range rows {
			e, err := p.event(ctx, sub, r)
			if err != nil {
				return total, err
			}
			if e != nil {
				evs = append(evs, e)
			}
		}
		if len(evs) > 0 {
			n, err := sub.Sink.Publish(ctx, evs)
			total += n
			if err != nil {
				return total, fmt.Errorf("events: replay to %s: %d of %d events acknowledged: %w", sub.Name, n, len(evs), err)
			}
		}
		pos = rows[len(rows)-1].Pos
	}
}
