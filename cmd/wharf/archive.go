package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

func runArchive(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch args[0] {
	case "put":
		return archivePut(ctx, args[1:], stdin, stdout, stderr)
	case "search":
		return archiveSearch(ctx, args[1:], stdout, stderr)
	case "get":
		return archiveGet(ctx, args[1:], stdout, stderr)
	case "events":
		return archiveEvents(ctx, args[1:], stdout, stderr)
	case "verify":
		return archiveVerify(ctx, args[1:], stdout, stderr)
	case "purge":
		return archivePurge(ctx, args[1:], stdout, stderr)
	}
	return usageError(stderr, "archive", "unknown subcommand %q", args[0])
}

// archiveEnv opens the store and the archive for a CLI command.
func archiveEnv(ctx context.Context, common *commonFlags, withJobs bool) (*archive.Archive, func(), error) {
	c, st, err := common.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	var a *archive.Archive
	if withJobs {
		a, _, err = archiveJobs(ctx, c, st)
	} else {
		a, err = app.OpenArchive(c, st, nil, app.ArchiveOptions{})
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return a, func() { st.Close() }, nil
}

func archivePut(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive put", stderr)
	partner := fs.String("partner", "", "partner ID (required)")
	direction := fs.String("direction", "in", "in (received) or out (sent)")
	transport := fs.String("transport", "cli", "transport name recorded with the entry")
	idem := fs.String("idempotency-key", "", "a retried put with the same key returns the first entry instead of a new one")
	asJSON := fs.Bool("json", false, "print the entry as JSON")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	if *partner == "" {
		return usageError(stderr, "archive put", "missing --partner ID")
	}
	if !oneOf(stderr, "archive put", "direction", *direction, "in", "out") {
		return 2
	}
	var r io.Reader = stdin
	name := pos[0]
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fail(stderr, fmt.Errorf("archive put: %v", err))
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return fail(stderr, fmt.Errorf("archive put: %s is a folder", name))
		}
		r = f
		name = filepath.Base(name)
	} else {
		name = ""
	}
	a, done, err := archiveEnv(ctx, common, true)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	if _, err := a.Store().GetPartner(ctx, *partner); errors.Is(err, store.ErrNotFound) {
		return fail(stderr, fmt.Errorf("archive put: partner %q is not registered (add it with 'wharf partner add %s' or in the config file)", *partner, *partner))
	} else if err != nil {
		return fail(stderr, err)
	}
	e, err := a.Put(ctx, r, archive.Meta{Partner: *partner, Direction: store.Direction(*direction), Transport: *transport,
		RemoteName: name, IdempotencyKey: *idem})
	if err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		return printJSON(stdout, stderr, entryJSON(e))
	}
	switch {
	case e.Existing:
		fmt.Fprintf(stdout, "already archived as %s (same idempotency key); nothing new recorded\n", e.ID)
	default:
		fmt.Fprintf(stdout, "archived %s: %d bytes, sha256 %s\n", e.ID, e.Size, e.SHA256)
		if e.DuplicateOf != "" {
			fmt.Fprintf(stdout, "note: same content as %s from partner %s (flagged as a duplicate)\n", e.DuplicateOf, e.PartnerID)
		}
		if e.Spooled() {
			fmt.Fprintln(stdout, "note: the blob store was unreachable; the file is spooled locally and 'wharf serve' uploads it later")
		}
		if e.Direction == store.Inbound {
			fmt.Fprintln(stdout, "queued for processing")
		}
	}
	return 0
}

type entryOut struct {
	ID            string   `json:"id"`
	Partner       string   `json:"partner"`
	Direction     string   `json:"direction"`
	ReceivedAt    string   `json:"received_at"`
	Size          int64    `json:"size"`
	SHA256        string   `json:"sha256"`
	Filename      string   `json:"filename"`
	Status        string   `json:"status"`
	Transport     string   `json:"transport"`
	CorrelationID string   `json:"correlation_id,omitempty"`
	Format        string   `json:"format,omitempty"`
	DocTypes      []string `json:"doc_types,omitempty"`
	Blob          string   `json:"blob"`
	DuplicateOf   string   `json:"duplicate_of,omitempty"`
	PurgedAt      string   `json:"purged_at,omitempty"`
	Existing      bool     `json:"existing,omitempty"`
	Test          bool     `json:"test,omitempty"` // test traffic (archive search)
}

func entryJSON(e *archive.Entry) entryOut {
	o := entryOut{ID: e.ID, Partner: e.PartnerID, Direction: string(e.Direction), ReceivedAt: e.ReceivedAt.Format(time.RFC3339Nano),
		Size: e.Size, SHA256: e.SHA256, Filename: e.RemoteName, Status: string(e.Status), Transport: e.Transport,
		CorrelationID: e.CorrelationID, Format: e.Format, DocTypes: e.DocTypes, Blob: e.BlobRef, DuplicateOf: e.DuplicateOf, Existing: e.Existing}
	if !e.PurgedAt.IsZero() {
		o.PurgedAt = e.PurgedAt.Format(time.RFC3339Nano)
		o.Status = "purged"
	}
	return o
}

func printJSON(stdout, stderr io.Writer, v any) int {
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func archiveSearch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive search", stderr)
	var f store.MessageFilter
	fs.StringVar(&f.PartnerID, "partner", "", "only this partner")
	direction := fs.String("direction", "", "only in or out")
	since := fs.String("since", "", "received at or after (RFC 3339, e.g. 2026-01-31T00:00:00Z, or a date: 2026-01-31)")
	until := fs.String("until", "", "received before (RFC 3339, or a date)")
	fs.StringVar(&f.Key, "key", "", "business key or control number (PO, BOL, PRO, shipment, invoice, ISA13, GS06, ST02)")
	fs.StringVar(&f.Traffic, "traffic", "", "only test traffic (test: ISA15 T, partners or routes marked test) or none of it (production)")
	limit := fs.Int("limit", 100, "at most this many entries (newest first; at most 1000)")
	asJSON := fs.Bool("json", false, "JSON Lines output")
	pos, code, ok := parseCmd(fs, args, -1, stderr)
	if !ok {
		return code
	}
	if f.Traffic != "" && !oneOf(stderr, "archive search", "traffic", f.Traffic, store.TrafficTest, store.TrafficProduction) {
		return 2
	}
	if len(pos) > 0 {
		return usageError(stderr, "archive search", "unexpected argument %q (use --key VALUE to search by key)", pos[0])
	}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"since", *since, &f.Since}, {"until", *until, &f.Until}} {
		if t.v == "" {
			continue
		}
		v, ok := web.ParseTime(t.v) // as the API takes it
		if !ok {
			return usageError(stderr, "archive search", "--%s %q is not an RFC 3339 time or a date, such as 2026-01-31T00:00:00Z or 2026-01-31", t.flag, t.v)
		}
		*t.dst = v
	}
	if *direction != "" && !oneOf(stderr, "archive search", "direction", *direction, "in", "out") {
		return 2
	}
	f.Direction = store.Direction(*direction)
	f.Limit = *limit
	a, done, err := archiveEnv(ctx, common, false)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	es, err := a.Search(ctx, f)
	if err != nil {
		return fail(stderr, err)
	}
	// The test traffic among them: the same search for test traffic only
	// finds every test message of this page.
	tests := map[string]bool{}
	if len(es) > 0 && f.Traffic != store.TrafficProduction {
		tf := f
		tf.Traffic = store.TrafficTest
		ts, err := a.Store().SearchMessages(ctx, tf)
		if err != nil {
			return fail(stderr, err)
		}
		for _, m := range ts {
			tests[m.ID] = true
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range es {
			o := entryJSON(e)
			o.Test = tests[e.ID]
			if err := enc.Encode(o); err != nil {
				return fail(stderr, err)
			}
		}
		return 0
	}
	if len(es) == 0 {
		fmt.Fprintln(stderr, "no matching entries")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tPARTNER\tDIR\tSIZE\tSTATUS\tFILENAME\tNOTE")
	for _, e := range es {
		o := entryJSON(e)
		note := ""
		if e.DuplicateOf != "" {
			note = "duplicate of " + e.DuplicateOf
		}
		if e.Spooled() {
			note = strings.TrimSpace(note + " spooled")
		}
		if tests[e.ID] {
			note = strings.TrimSpace("test " + note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.ID, e.ReceivedAt.Format(time.RFC3339), e.PartnerID, e.Direction, e.Size, o.Status, e.RemoteName, note)
	}
	tw.Flush()
	return 0
}

func archiveGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive get", stderr)
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	a, done, err := archiveEnv(ctx, common, false)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	id, err := resolveID(ctx, a.Store(), store.MessageIDs, pos[0])
	if err != nil {
		return fail(stderr, err)
	}
	rc, _, err := a.Get(ctx, id)
	if err != nil {
		return fail(stderr, err)
	}
	defer rc.Close()
	if _, err := io.Copy(stdout, rc); err != nil {
		// The bytes written so far are not the original: say so loudly.
		return fail(stderr, fmt.Errorf("%w (the output is NOT the original)", err))
	}
	return 0
}

func archiveEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive events", stderr)
	asJSON := fs.Bool("json", false, "JSON Lines output")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	a, done, err := archiveEnv(ctx, common, false)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	id, err := resolveID(ctx, a.Store(), store.MessageIDs, pos[0])
	if err != nil {
		return fail(stderr, err)
	}
	evs, err := a.Events(ctx, id)
	if err != nil {
		return fail(stderr, err)
	}
	enc := json.NewEncoder(stdout)
	for _, e := range evs {
		if *asJSON {
			if err := enc.Encode(map[string]any{"id": e.ID, "message_id": e.MessageID, "at": e.At.Format(time.RFC3339Nano), "kind": e.Kind, "detail": e.Detail}); err != nil {
				return fail(stderr, err)
			}
			continue
		}
		fmt.Fprintf(stdout, "%s  %-12s %s\n", e.At.Format(time.RFC3339Nano), e.Kind, e.Detail)
	}
	return 0
}

func archiveVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive verify", stderr)
	skip := fs.Bool("skip-blobs", false, "check the hash chain only, without re-hashing blobs")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	a, done, err := archiveEnv(ctx, common, false)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	rep, err := a.Verify(ctx, archive.VerifyOptions{SkipBlobs: *skip})
	if err != nil {
		return fail(stderr, err)
	}
	return printVerify(rep, *skip, stdout, stderr)
}

func printVerify(rep *archive.Report, skip bool, stdout, stderr io.Writer) int {
	blobs := fmt.Sprintf("%d blobs re-hashed (%d bytes)", rep.Blobs, rep.Bytes)
	if skip {
		blobs = "blobs not checked (--skip-blobs)"
	} else if rep.Elsewhere > 0 {
		blobs += fmt.Sprintf(", %d waiting in another instance's spool for their upload (not checked here)", rep.Elsewhere)
	}
	if rep.OK() {
		fmt.Fprintf(stdout, "archive intact: %d entries, %d tombstones, %s; chain head %d %s\n", rep.Entries, rep.Tombstones, blobs, rep.Head.Seq, rep.Head.Hash)
		return 0
	}
	fmt.Fprintf(stderr, "wharf: archive verify FAILED: first broken entry: %s\n", rep.Problems[0])
	for _, p := range rep.Problems[1:] {
		fmt.Fprintf(stderr, "  also: %s\n", p)
	}
	fmt.Fprintf(stdout, "archive NOT intact: %d problems in %d records (%d entries, %d tombstones, %s)\n", len(rep.Problems), rep.Records, rep.Entries, rep.Tombstones, blobs)
	return 1
}

func archivePurge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("archive purge", stderr)
	partner := fs.String("partner", "", "only this partner's entries")
	olderThan := fs.String("older-than", "", "purge entries received longer ago than this (e.g. 90d, 7y)")
	expired := fs.Bool("expired", false, "apply the retention rules' delete-after (what the archive.retention job does)")
	pos, code, ok := parseCmd(fs, args, -1, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, "archive purge", "unexpected argument %q", pos[0])
	}
	if (*olderThan == "") == !*expired {
		return usageError(stderr, "archive purge", "give --older-than DURATION or --expired, one of them")
	}
	a, done, err := archiveEnv(ctx, common, false)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	var n int
	if *expired {
		n, err = a.PurgeExpired(ctx)
	} else {
		d, perr := archive.ParseDays(*olderThan)
		if perr != nil {
			return usageError(stderr, "archive purge", "--older-than: %v", perr)
		}
		n, err = a.Purge(ctx, *partner, time.Now().Add(-d), "manual purge: older than "+*olderThan)
	}
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "purged %d entries (tombstones kept in the index and the hash chain)\n", n)
	return 0
}
