package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

const eventsUsage = `usage:
  wharf events tail [--type PATTERN]... [--since TIME] [--no-follow] [--json]
  wharf events replay --to SUBSCRIPTION --since TIME
  wharf events status [--json]`

// runEvents is 'wharf events': the outbox as operators see it (docs/events.md).
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, eventsUsage)
		return 2
	}
	sub := args[0]
	fs, common := newFlags("events "+sub, stderr)
	var types stringList
	fs.Var(&types, "type", "tail: only events of this type or pattern (shipment.delivered, shipment.*, message.*); repeatable")
	since := fs.String("since", "", "tail: start with the events written since this time; replay (required): publish the events written since it (RFC 3339, or a date: 2026-01-31)")
	noFollow := fs.Bool("no-follow", false, "tail: print what is there and stop instead of waiting for more")
	to := fs.String("to", "", "replay: the subscription (events[].name) to publish to")
	asJSON := fs.Bool("json", false, "tail: each event as its CloudEvent (one JSON object a line); status: JSON lines")
	if _, code, ok := parseCmd(fs, args[1:], 0, stderr); !ok {
		return code
	}
	var from time.Time
	if *since != "" {
		v, ok := web.ParseTime(*since)
		if !ok {
			fmt.Fprintf(stderr, "wharf events %s: --since %q is not an RFC 3339 time or a date, such as 2026-01-31T00:00:00Z or 2026-01-31\n", sub, *since)
			return 2
		}
		from = v
	}
	for _, t := range types {
		if err := events.ValidType(t); err != nil {
			fmt.Fprintf(stderr, "wharf events %s: --type: %v\n", sub, err)
			return 2
		}
	}
	switch sub {
	case "tail", "replay", "status":
	default:
		fmt.Fprintf(stderr, "wharf events: unknown subcommand %q\n%s\n", sub, eventsUsage)
		return 2
	}
	if sub == "replay" && (*to == "" || from.IsZero()) {
		fmt.Fprintf(stderr, "wharf events replay: --to SUBSCRIPTION and --since TIME are required\n%s\n", eventsUsage)
		return 2
	}
	c, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	switch sub {
	case "tail":
		return tailEvents(ctx, st, &events.Subscription{Types: types}, from, !*noFollow, *asJSON, stdout, stderr)
	case "replay":
		// A webhook subscription's events become archived messages, whose
		// delivery jobs wharf serve runs.
		var arch *archive.Archive
		for _, e := range c.Events {
			if e.Name == *to && e.Scheme() == "webhook" {
				if arch, _, err = archiveJobs(ctx, c, st); err != nil {
					return fail(stderr, err)
				}
			}
		}
		s, err := app.Subscription(c, st, arch, *to)
		if err != nil {
			return fail(stderr, err)
		}
		defer s.Sink.Close()
		p, err := app.NewPublisher(c, st, nil, "cli", time.Now, nil)
		if err != nil {
			return fail(stderr, err)
		}
		defer app.CloseSinks(p)
		n, err := p.Replay(ctx, s, from)
		fmt.Fprintf(stdout, "%d events published again to %s\n", n, *to)
		if err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	p, err := app.NewPublisher(c, st, nil, "cli", time.Now, nil)
	if err != nil {
		return fail(stderr, err)
	}
	defer app.CloseSinks(p)
	list, err := p.Status(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		return printJSONLines(stdout, stderr, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no event subscriptions configured (events: in the configuration; docs/events.md)")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBSCRIPTION\tPUBLISHED\tPENDING\tLAG\tFAILURES\tPUBLISHER\tLAST ERROR")
	for _, s := range list {
		last := "-"
		if s.LastError != "" {
			last = s.LastErrorAt.Format(time.RFC3339) + " " + s.LastError
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\n", s.Name, s.Published, s.Pending, s.Lag.Round(time.Millisecond), s.Failures, dash(s.Owner), last)
	}
	return exitOf(tw.Flush(), stderr)
}

func exitOf(err error, stderr io.Writer) int {
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// tailEvents prints the outbox's events as they are committed: from
// since, or from now on.
func tailEvents(ctx context.Context, st store.Store, filter *events.Subscription, since time.Time, follow, asJSON bool, stdout, stderr io.Writer) int {
	if _, err := st.AssignOutbox(ctx, 100000); err != nil {
		return fail(stderr, err)
	}
	var pos int64
	if since.IsZero() {
		head, err := st.OutboxHead(ctx)
		if err != nil {
			return fail(stderr, err)
		}
		pos = head
	} else if first, err := st.OutboxSince(ctx, since, 0, 1); err != nil {
		return fail(stderr, err)
	} else if len(first) > 0 {
		pos = first[0].Pos - 1
	} else if pos, err = st.OutboxHead(ctx); err != nil {
		return fail(stderr, err)
	}
	for {
		rows, err := st.OutboxAfter(ctx, pos, 1000)
		if err != nil {
			return fail(stderr, err)
		}
		for _, r := range rows {
			pos = r.Pos
			if !filter.Matches(r, nil) {
				continue
			}
			if asJSON {
				e, err := events.FromOutbox(r, "")
				if err != nil {
					return fail(stderr, err)
				}
				fmt.Fprintf(stdout, "%s\n", e.JSON)
				continue
			}
			fmt.Fprintf(stdout, "%s  %-24s %-20s partner=%s message=%s id=%s\n", r.At.Format(time.RFC3339Nano), r.Type, r.Subject,
				dash(r.PartnerID), dash(r.MessageID), r.ID)
		}
		if len(rows) == 1000 {
			continue
		}
		if !follow {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := st.AssignOutbox(ctx, 100000); err != nil {
			return fail(stderr, fmt.Errorf("events tail: %w", err))
		}
	}
}
