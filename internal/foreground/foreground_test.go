package foreground

import (
	"testing"
	"time"
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestGauge(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)}
	g := New(c.now)
	if g.Busy() {
		t.Fatal("busy before any receive")
	}
	end1 := g.Begin()
	end2 := g.Begin()
	c.t = c.t.Add(time.Hour) // a long upload is busy all along
	if !g.Busy() {
		t.Fatal("not busy while two receives run")
	}
	end1()
	end1() // a second call is harmless
	if !g.Busy() {
		t.Fatal("not busy while one receive runs")
	}
	end2()
	if !g.Busy() {
		t.Fatal("not busy right after the last receive ended")
	}
	if d := g.BusyFor(); d != Linger {
		t.Fatalf("busy for %v right after the last receive, want %v", d, Linger)
	}
	c.t = c.t.Add(Linger - time.Millisecond)
	if !g.Busy() {
		t.Fatalf("not busy %v after the last receive", Linger-time.Millisecond)
	}
	if d := g.BusyFor(); d != time.Millisecond {
		t.Fatalf("busy for %v, want the 1ms left of Linger", d)
	}
	c.t = c.t.Add(time.Millisecond)
	if g.Busy() || g.BusyFor() != 0 {
		t.Fatalf("still busy (for %v) %v after the last receive", g.BusyFor(), Linger)
	}
	// Of two receives, the one that ends last counts, whichever order
	// their ends are recorded in.
	end1, end2 = g.Begin(), g.Begin()
	late := c.t.Add(time.Second)
	c.t = late
	end2()
	c.t = late.Add(-time.Second / 2) // an end read earlier, recorded later
	end1()
	c.t = late.Add(Linger - time.Millisecond)
	if !g.Busy() {
		t.Fatal("an earlier end recorded last shortened the linger")
	}
}

func TestGaugeEndAtStart(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)}
	g := New(c.now)
	g.Begin()() // ends at the very instant the gauge started
	if !g.Busy() {
		t.Fatal("a receive that ended at the gauge's start is not counted")
	}
}

func TestNilGauge(t *testing.T) {
	var g *Gauge
	g.Begin()()
	if g.Busy() {
		t.Fatal("a nil gauge is busy")
	}
}
