package main

import (
	"context"
	"fmt"
	"io"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
)

// runReplay: `wharf replay ID` runs a message again from its archived
// bytes: re-runs processing of an inbound one or the delivery of a dead
// letter (a new job, recorded in ID's history), or re-sends any other
// outbound one (a new message whose parent is ID, delivered by the running
// server).
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("replay", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	c, st, err := common.openStore(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	a, rt, err := archiveJobs(ctx, c, st)
	if err != nil {
		return fail(stderr, err)
	}
	id, err := resolveID(ctx, st, store.MessageIDs, pos[0])
	if err != nil {
		return fail(stderr, err)
	}
	res, err := delivery.ReplayWith(ctx, a, rt, id, delivery.ReplayOptions{Actor: "cli:" + firstNonEmptyEnv("USER", "LOGNAME")})
	if err != nil {
		return fail(stderr, err)
	}
	m := res.Original
	if *asJSON {
		return printJSON(stdout, stderr, map[string]any{"original": m.ID, "direction": string(m.Direction),
			"new_message": res.NewID, "job": res.Job, "transport": m.Transport, "exceptions": res.Linked})
	}
	switch {
	case m.Direction == store.Inbound:
		fmt.Fprintf(stdout, "processing of %s re-run from its archived bytes (job %d); see 'wharf archive events %s'\n", m.ID, res.Job, m.ID)
	case res.Rerun():
		fmt.Fprintf(stdout, "delivery of dead letter %s re-run from its archived bytes over %s (job %d); 'wharf serve' delivers it (see 'wharf archive events %s')\n",
			m.ID, m.Transport, res.Job, m.ID)
	case app.Pushes(m.Transport):
		fmt.Fprintf(stdout, "re-sent %s as %s (parent %s) over %s; 'wharf serve' delivers it (see 'wharf archive events %s')\n", m.ID, res.NewID, m.ID, m.Transport, res.NewID)
	default:
		fmt.Fprintf(stdout, "re-issued %s as %s (parent %s); it waits for partner %s to fetch it over %s\n", m.ID, res.NewID, m.ID, m.PartnerID, m.Transport)
	}
	return 0
}
