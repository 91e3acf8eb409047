// Package foreground tells background work when a partner waits on the
// line for an acknowledgment, so that it can give way.
//
// An SFTP client waits for each CLOSE (the file archived and committed)
// before it sends the next file; an AS2 sender waits for its MDN, an HTTP
// client for its response. Their rate is one file per round of their own
// latency. Processing the files received (validation, mapping, the 997)
// needs nobody on the line: it only has to keep up. Measured on two cores,
// 8 OpenSSH clients uploading 2,000 small X12 files ran at 0.44x-0.77x of
// a private sshd while processing took every worker, and at 0.76x-1.15x
// (0.90x on average) when processing ran a few messages at a time during the uploads and
// caught up right after them (docs/benchmarks.md, "The whole flow, twelfth
// round").
//
// A Gauge is that signal: the receiving side brackets each awaited
// receive with Begin and its end; the processing queue asks Busy.
package foreground

import (
	"sync/atomic"
	"time"
)

// Linger is how long a Gauge stays busy after the last acknowledgment: a
// client's next upload comes a few milliseconds after its last (OpenSSH's
// sftp sends a STAT, an OPEN and a WRITE before the next CLOSE), so a burst
// of uploads counts as one stretch, not as many short ones with
// background work rushing in between.
const Linger = 100 * time.Millisecond

// Gauge counts the receives partners wait for. The zero value is not
// usable; a nil *Gauge is never busy.
type Gauge struct {
	now    func() time.Time
	start  time.Time
	active atomic.Int64
	last   atomic.Int64 // when the last receive ended: nanoseconds after start, plus 1 (0: never)
}

// New returns a Gauge on the clock now (time.Now; a test passes its own).
// Only durations are read from it, never dates.
func New(now func() time.Time) *Gauge {
	return &Gauge{now: now, start: now()}
}

// Begin marks the start of a receive a partner waits for; call the
// function it returns when the partner has its answer.
func (g *Gauge) Begin() (end func()) {
	if g == nil {
		return func() {}
	}
	g.active.Add(1)
	var ended atomic.Bool
	return func() {
		if ended.Swap(true) {
			return
		}
		at := int64(g.now().Sub(g.start)) + 1
		for last := g.last.Load(); at > last && !g.last.CompareAndSwap(last, at); last = g.last.Load() {
		}
		g.active.Add(-1)
	}
}

// Busy tells whether a partner waits now, or did less than Linger ago.
func (g *Gauge) Busy() bool { return g.BusyFor() > 0 }

// BusyFor is how much longer the Gauge stays busy if no receive begins:
// Linger while one is under way, what is left of Linger after the last
// one ended, 0 when it is not busy.
func (g *Gauge) BusyFor() time.Duration {
	if g == nil {
		return 0
	}
	if g.active.Load() > 0 {
		return Linger
	}
	last := g.last.Load()
	if last == 0 {
		return 0
	}
	return max(0, Linger-(g.now().Sub(g.start)-time.Duration(last-1)))
}

// Now reads the Gauge's clock (for the durations its users measure);
// time.Now for a nil *Gauge.
func (g *Gauge) Now() time.Time {
	if g == nil {
		return time.Now()
	}
	return g.now()
}
