package transports

import (
	"context"
	"time"
)

// Follow calls poll whenever dir may have changed: after each change a
// Watcher transport reports (coalesced: changes during a poll cause one more
// poll, not one each) and at least every rescan in any case, because
// watchers miss events (network shares, overflowing queues, files that were
// still being written when they were first seen). It returns when ctx is
// done. Errors from poll are passed to onErr and do not stop the loop.
func Follow(ctx context.Context, tr Transport, dir string, rescan time.Duration, poll func(ctx context.Context) error, onErr func(error)) {
	if rescan <= 0 {
		rescan = 30 * time.Second
	}
	if onErr == nil {
		onErr = func(error) {}
	}
	kick := make(chan struct{}, 1)
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if w, ok := tr.(Watcher); ok {
		go func() {
			if err := w.Watch(ctx, dir, signal); err != nil && ctx.Err() == nil {
				onErr(err) // the timer still rescans
			}
		}()
	}
	t := time.NewTicker(rescan)
	defer t.Stop()
	signal() // first scan at once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		if err := poll(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}
