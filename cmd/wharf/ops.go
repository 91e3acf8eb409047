package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
	wsync "github.com/wharfedi/wharf/sync"
)

// runTrace: `wharf trace KEY` prints everything Wharf knows about a
// business key in time order.
func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("trace", stderr)
	asJSON := fs.Bool("json", false, "print the trace as one JSON document")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	if strings.TrimSpace(pos[0]) == "" {
		return usageError(stderr, "trace", "KEY is empty")
	}
	c, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	a, err := app.OpenArchive(c, st, nil, app.ArchiveOptions{})
	if err != nil {
		return fail(stderr, err)
	}
	proc := app.NewProcessor(c, st, a, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tr, err := wsync.TraceWith(ctx, st, pos[0], wsync.TraceOptions{Documents: proc.Documents})
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		return printJSON(stdout, stderr, tr)
	}
	if tr.Empty() {
		fmt.Fprintf(stderr, "wharf trace: nothing is known about %q (no message, order, shipment or invoice carries it)\n", pos[0])
		return 1
	}
	fmt.Fprintf(stdout, "Trace of %s: %d object(s), %d message(s), %d exception(s); systems: %s\n\n", tr.Key, len(tr.Objects), len(tr.Messages),
		len(tr.Exceptions), strings.Join(tr.Systems, ", "))
	for _, o := range tr.Objects {
		fmt.Fprintf(stdout, "%-9s %-20s %s\n", o.Kind, o.Key, o.State)
	}
	var tests []*wsync.TraceMessage
	for _, m := range tr.Messages {
		if m.Test {
			tests = append(tests, m)
		}
	}
	if len(tests) > 0 {
		fmt.Fprintf(stdout, "\nTest traffic (%d message(s), marked [test] below; they changed none of these objects):\n", len(tests))
		for _, m := range tests {
			dir := "from"
			if m.Direction == store.Outbound {
				dir = "to"
			}
			fmt.Fprintf(stdout, "  [test] %s %s %s (%s)\n", dir, m.PartnerID, m.RemoteName, m.ID)
		}
	}
	ndocs := 0
	for _, m := range tr.Messages {
		ndocs += len(m.Documents)
	}
	if ndocs > 0 {
		fmt.Fprintf(stdout, "\nCanonical documents about it (%d; all of them with --json):\n", ndocs)
		for _, m := range tr.Messages {
			for _, d := range m.Documents {
				dir := "from"
				if m.Direction == store.Outbound {
					dir = "to"
				}
				fmt.Fprintf(stdout, "  %-18s %s %s %s (%s)\n", d.Head().Type, dir, m.PartnerID, m.RemoteName, m.ID)
			}
		}
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range tr.Timeline {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.System, e.What)
	}
	tw.Flush()
	if open := openExceptions(tr.Exceptions); len(open) > 0 {
		fmt.Fprintln(stdout, "\nOpen exceptions:")
		for _, x := range open {
			fmt.Fprintf(stdout, "  %s  %s (owner %s): %s\n", x.ID, x.Reason, x.Owner, x.Detail)
		}
	}
	return 0
}

func openExceptions(l []*store.Exception) []*store.Exception {
	var out []*store.Exception
	for _, x := range l {
		if x.Status == store.ExceptionOpen {
			out = append(out, x)
		}
	}
	return out
}

// runExceptions: the exceptions queue from the command line.
func runExceptions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub := args[0]
	want := 1 // the exception's ID
	switch sub {
	case "list", "digest":
		want = 0
	case "show", "resolve", "dismiss", "reopen", "comment", "retry", "replay":
	default:
		return usageError(stderr, "exceptions", "unknown subcommand %q", sub)
	}
	fs, common := newFlags("exceptions "+sub, stderr)
	asJSON := fs.Bool("json", false, "JSON output")
	status := fs.String("status", "open", "list: open, resolved, dismissed or all")
	owner := fs.String("owner", "", "list: it or operations")
	reason := fs.String("reason", "", "list: a reason, or a prefix ending in '.' (sla.)")
	partner := fs.String("partner", "", "list: partner ID")
	key := fs.String("key", "", "list: the object's key (order number, shipment ID, ...)")
	comment := fs.String("comment", "", "why (required to resolve or dismiss)")
	as := fs.String("as", "", "who acts (default: cli:$USER)")
	pos, code, ok := parseCmd(fs, args[1:], want, stderr)
	if !ok {
		return code
	}
	if sub == "list" {
		if !oneOf(stderr, "exceptions list", "status", *status, "open", "resolved", "dismissed", "all") {
			return 2
		}
		if *owner != "" && !oneOf(stderr, "exceptions list", "owner", *owner, store.OwnerIT, store.OwnerOperations) {
			return 2
		}
	}
	c, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	switch sub {
	case "digest":
		txt, _, err := wsync.Digest(ctx, st, time.Now())
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprint(stdout, txt)
		return 0
	case "list":
		f := store.ExceptionFilter{Owner: *owner, Reason: *reason, PartnerID: *partner, ObjectKey: *key, Limit: 1000}
		if *status != "all" {
			f.Statuses = []string{*status}
		}
		list, err := st.ListExceptions(ctx, f)
		if err != nil {
			return fail(stderr, err)
		}
		if *asJSON {
			return printJSONLines(stdout, stderr, list)
		}
		if len(list) == 0 {
			fmt.Fprintf(stdout, "no %s exceptions\n", *status)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAGE\tREASON\tOWNER\tOBJECT\tPARTNER\tDETAIL")
		for _, x := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\n", x.ID, wsync.Age(time.Since(x.CreatedAt)), x.Reason, x.Owner, x.ObjectKind, x.ObjectKey, x.PartnerID, clip(x.Detail, 100))
		}
		tw.Flush()
		return 0
	}
	id, err := resolveID(ctx, st, store.ExceptionIDs, pos[0])
	if err != nil {
		return fail(stderr, err)
	}
	switch sub {
	case "show":
		x, err := st.GetException(ctx, id)
		if err != nil {
			return fail(stderr, err)
		}
		evs, err := st.ExceptionEvents(ctx, x.ID)
		if err != nil {
			return fail(stderr, err)
		}
		if *asJSON {
			return printJSON(stdout, stderr, map[string]any{"exception": x, "events": evs})
		}
		fmt.Fprintf(stdout, "%s  %s  %s (owner %s), %s %s, partner %s, message %s, raised %s\n%s\n\nHistory:\n", x.ID, x.Status, x.Reason, x.Owner,
			x.ObjectKind, x.ObjectKey, x.PartnerID, x.MessageID, x.CreatedAt.Local().Format(time.RFC3339), x.Detail)
		for _, e := range evs {
			fmt.Fprintf(stdout, "  %s  %-9s %-12s %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Actor, e.Comment)
		}
		return 0
	default: // resolve, dismiss, reopen, comment, retry, replay
		actor := *as
		if actor == "" {
			actor = "cli:" + firstNonEmptyEnv("USER", "LOGNAME")
		}
		var replay wsync.Replayer
		if sub == "retry" || sub == "replay" {
			a, rt, err := archiveJobs(ctx, c, st)
			if err != nil {
				return fail(stderr, err)
			}
			replay = func(ctx context.Context, id string) (string, error) {
				// The exception acted on records the replay through Act;
				// the message's other open exceptions are told by the replay.
				res, err := delivery.ReplayWith(ctx, a, rt, id, delivery.ReplayOptions{Actor: actor, Except: pos[0]})
				if err != nil {
					return "", err
				}
				return res.String(), nil
			}
		}
		x, err := wsync.Act(ctx, st, &wsync.ActParams{ID: id, Action: sub, Actor: actor, Comment: *comment, Replay: replay})
		if err != nil {
			if errors.Is(err, store.ErrInvalid) {
				fmt.Fprintf(stderr, "wharf exceptions %s: %v\n", sub, store.Reason(err))
				return 1
			}
			return fail(stderr, err)
		}
		if *asJSON {
			return printJSON(stdout, stderr, x)
		}
		fmt.Fprintf(stdout, "exception %s: %s by %s; now %s\n", x.ID, sub, actor, x.Status)
		return 0
	}
}

func firstNonEmptyEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return "unknown"
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func printJSONLines[T any](stdout, stderr io.Writer, list []T) int {
	enc := json.NewEncoder(stdout)
	for _, v := range list {
		if err := enc.Encode(v); err != nil {
			return fail(stderr, err)
		}
	}
	return 0
}
