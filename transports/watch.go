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
//
// When poll reports pending files (seen but not yet settled: too young, or
// not yet size-stable), Follow polls again after settle (default 1 s)
// instead of waiting for the next change or rescan; when it reports more
// files than one poll takes (PollResult.More), at once: a burst larger than
// PollOptions.Max does not wait for the rescan. When poll fails (the
// database or the archive is down, and the files stay where they are), it
// polls again after settle, and while those retries keep failing, twice as
// long each time up to 8 settles (never beyond rescan): work resumes soon
// after the outage ends even when no new file arrives to wake the watcher.
func Follow(ctx context.Context, tr Transport, dir string, rescan, settle time.Duration, poll func(ctx context.Context) (PollResult, error), onErr func(error)) {
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
		// The first scan runs when the watcher reports it is watching, so a
		// file written between the scan and the watch is not missed.
		go func() {
			if err := w.Watch(ctx, dir, signal); err != nil && ctx.Err() == nil {
				onErr(err) // the timer still rescans
				signal()
			}
		}()
	} else {
		signal()
	}
	if settle <= 0 {
		settle = time.Second
	}
	t := time.NewTicker(rescan)
	defer t.Stop()
	soon := time.NewTimer(settle)
	soon.Stop()
	retry := settle // the wait before polling again after a failure
	for {
		timer := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		case <-soon.C:
			timer = true
		}
		res, err := poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				onErr(err)
			}
			if timer { // a retry failed again: wait longer (changes still poll at once)
				retry = min(2*retry, 8*settle, max(rescan, settle))
			}
			soon.Reset(retry)
			continue
		}
		retry = settle
		switch {
		case res.More:
			signal()
		case res.Skipped > 0:
			soon.Reset(settle)
		}
	}
}
