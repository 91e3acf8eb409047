package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/wharfedi/wharf/internal/config"
)

// The demo publishes its milestones to NATS JetStream when a server is
// reachable (WHARF_DEMO_NATS_URL, else nats://127.0.0.1:4222), into the
// stream wharf-demo on the subjects wharf.>; without one it says so and
// runs as before.
const demoStream = "wharf-demo"

// demoEvents adds the NATS subscription to the demo's configuration when
// the server answers, and tells the reader either way.
func (d *demo) demoEvents(c *config.Config) {
	u := d.getenv("WHARF_DEMO_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	p, err := url.Parse(u)
	if err == nil {
		var conn net.Conn
		if conn, err = net.DialTimeout("tcp", p.Host, time.Second); err == nil {
			conn.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(d.out, "Events: no NATS server at %s (%v); the demo runs without publishing its milestones (start nats-server -js, or set WHARF_DEMO_NATS_URL)\n", p.Redacted(), err)
		return
	}
	c.Events = append(c.Events, config.EventSub{Name: "demo-nats", To: u, Stream: demoStream,
		Types: []string{"order.*", "shipment.*", "tender.*", "billing.*", "freight.*", "invoice.*", "exception.*"}})
	fmt.Fprintf(d.out, "Events: publishing the milestones to NATS JetStream at %s (stream %s, subjects wharf.>; watch with: nats sub 'wharf.>')\n", p.Redacted(), demoStream)
}

// eventsSummary says what the demo published.
func (d *demo) eventsSummary(ctx context.Context) {
	if d.app == nil || len(d.app.Events.Subs) == 0 {
		return
	}
	// Give the publisher its poll to catch up with the last commits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := d.app.Events.Status(ctx)
		if err != nil || len(st) == 0 {
			return
		}
		s := st[0]
		if s.Pending == 0 || time.Now().After(deadline) {
			fmt.Fprintf(d.out, "Events published to NATS: %d (stream %s), %d pending, %d failed attempts", s.Published, demoStream, s.Pending, s.Failures)
			if s.LastError != "" {
				fmt.Fprintf(d.out, "; last error: %s", s.LastError)
			}
			fmt.Fprintln(d.out)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
