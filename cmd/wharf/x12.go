package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/wharfedi/wharf/edi/x12"
)

// runX12 runs "wharf x12 ..."; args excludes "x12". It returns the exit code.
func runX12(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch args[0] {
	case "validate":
		return x12Validate(ctx, args[1:], stdin, stdout, stderr)
	case "ack":
		return x12Ack(ctx, args[1:], stdin, stdout, stderr)
	case "fmt":
		return x12Fmt(args[1:], stdin, stdout, stderr)
	}
	return usageError(stderr, "x12", "unknown subcommand %q", args[0])
}

// x12Flags is the flag set of an x12 tool: no --config or --data, and
// flags come before FILE.
func x12Flags(name string, stderr io.Writer) *flag.FlagSet { return flagSet("x12 "+name, stderr) }

// openOne opens the single FILE argument of cmd, reporting problems on stderr.
func openOne(cmd string, fs *flag.FlagSet, stdin io.Reader, stderr io.Writer) (io.ReadCloser, bool) {
	switch {
	case fs.NArg() == 0:
		missingArgs(stderr, "x12 "+cmd, 0)
		return nil, false
	case fs.NArg() > 1:
		usageError(stderr, "x12 "+cmd, "unexpected argument %q (one FILE at a time; flags come before it)", fs.Arg(1))
		return nil, false
	}
	f, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wharf x12 %s: %v\n", cmd, err)
		return nil, false
	}
	return f, true
}

func openInput(name string, stdin io.Reader) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(stdin), nil
	}
	return os.Open(name)
}

// jsonIssue and the other json* types are the --json output of validate
// (documented in docs/x12.md).
type jsonIssue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code,omitempty"`
	Message     string `json:"message"`
	Offset      int64  `json:"offset"`
	Segment     int64  `json:"segment,omitempty"`
	Position    int    `json:"position,omitempty"`
	Element     int    `json:"element,omitempty"`
	SegmentID   string `json:"segment_id,omitempty"`
	Interchange string `json:"interchange,omitempty"`
	Group       string `json:"group,omitempty"`
	Set         string `json:"set,omitempty"`
}

type jsonRecord struct {
	File        string             `json:"file"`
	Kind        string             `json:"kind"` // "set", "group", "interchange", "file"
	Status      string             `json:"status"`
	Interchange string             `json:"interchange,omitempty"`
	Sender      string             `json:"sender,omitempty"`
	Receiver    string             `json:"receiver,omitempty"`
	Group       string             `json:"group,omitempty"`
	Functional  string             `json:"functional_id,omitempty"`
	Version     string             `json:"version,omitempty"`
	Set         string             `json:"set,omitempty"`
	SetID       string             `json:"set_id,omitempty"`
	Schema      string             `json:"schema,omitempty"`
	Key         string             `json:"key,omitempty"`
	KeyRef      string             `json:"key_ref,omitempty"`
	Notes       []string           `json:"ta1_notes,omitempty"`
	Codes       []string           `json:"codes,omitempty"`
	Errors      []x12.SegmentError `json:"segment_errors,omitempty"`
	Issues      []jsonIssue        `json:"issues,omitempty"`
	Count       *countJSON         `json:"count,omitempty"`
}

type countJSON struct {
	Interchanges int64 `json:"interchanges"`
	Groups       int64 `json:"groups"`
	Sets         int64 `json:"sets"`
	Segments     int64 `json:"segments"`
}

func issuesJSON(is []x12.Issue) []jsonIssue {
	var out []jsonIssue
	for _, i := range is {
		sev := "error"
		if i.Warning {
			sev = "warning"
		}
		msg := ""
		if i.Err != nil {
			msg = i.Err.Error()
		}
		out = append(out, jsonIssue{Severity: sev, Code: i.Code, Message: msg, Offset: i.Offset, Segment: i.Segment,
			Position: i.Position, Element: i.Element, SegmentID: i.SegmentID, Interchange: i.Interchange, Group: i.Group, Set: i.Set})
	}
	return out
}

func statusName(s x12.Status) string {
	switch s {
	case x12.Accepted:
		return "accepted"
	case x12.AcceptedWithErrors:
		return "accepted_with_warnings"
	case x12.Partial:
		return "partially_accepted"
	case x12.Rejected:
		return "rejected"
	}
	return "unknown"
}

func x12Validate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := x12Flags("validate", stderr)
	asJSON := fs.Bool("json", false, "JSON Lines output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		return missingArgs(stderr, "x12 validate", 0)
	}
	// validate streams: its live heap stays small, so collect less often.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	code := 0
	for _, name := range fs.Args() {
		rc, err := validateFile(ctx, name, stdin, out, enc, *asJSON)
		if err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "wharf x12 validate: %s: %v\n", name, err)
			code = 2
			continue
		}
		if rc > code && code != 2 {
			code = rc
		}
	}
	return code
}

func validateFile(ctx context.Context, name string, stdin io.Reader, out *bufio.Writer, enc *json.Encoder, asJSON bool) (int, error) {
	f, err := openInput(name, stdin)
	if err != nil {
		return 2, err
	}
	defer f.Close()
	text := func(prefix string, is []x12.Issue) {
		for _, i := range is {
			fmt.Fprintf(out, "%s: %s\n", name, i.String())
		}
	}
	c := &x12.Checker{Discard: true}
	if asJSON {
		c.OnSet = func(s *x12.Set) {
			g := s.Group
			enc.Encode(jsonRecord{File: name, Kind: "set", Status: statusName(s.Status), Interchange: g.Interchange.Control,
				Group: g.Control, Set: s.Control, SetID: s.ID, Schema: s.Schema, Key: s.Key, KeyRef: s.KeyRef, Codes: s.Codes, Errors: s.Errors, Issues: issuesJSON(s.Issues)})
		}
		c.OnGroup = func(g *x12.Group) {
			enc.Encode(jsonRecord{File: name, Kind: "group", Status: statusName(g.Status), Interchange: g.Interchange.Control,
				Group: g.Control, Functional: g.FunctionalID, Version: g.Version, Codes: g.Codes, Issues: issuesJSON(g.Issues)})
		}
		c.OnInterchange = func(ic *x12.Interchange) {
			enc.Encode(jsonRecord{File: name, Kind: "interchange", Status: statusName(ic.Status), Interchange: ic.Control,
				Sender: ic.SenderQual + ":" + ic.SenderID, Receiver: ic.ReceiverQual + ":" + ic.ReceiverID, Version: ic.Version,
				Notes: ic.Notes, Issues: issuesJSON(ic.Issues)})
		}
	} else {
		c.OnSet = func(s *x12.Set) {
			if s.Status == x12.Accepted {
				return
			}
			text("", s.Issues)
			for _, e := range s.Errors {
				fmt.Fprintf(out, "%s: %s\n", name, s.Explain(e))
			}
			fmt.Fprintf(out, "%s: interchange %s, group %s, set %s (%s): %s%s\n", name, s.Group.Interchange.Control, s.Group.Control, s.Control, s.ID, s.Status, codeList(s.Codes))
		}
		c.OnGroup = func(g *x12.Group) {
			text("", g.Issues)
			if g.Status != x12.Accepted {
				fmt.Fprintf(out, "%s: interchange %s, group %s (%s %s): %s, %d of %d sets accepted%s\n", name, g.Interchange.Control, g.Control, g.FunctionalID, g.Version, g.Status, g.AcceptedSets, g.Received, codeList(g.Codes))
			}
		}
		c.OnInterchange = func(ic *x12.Interchange) {
			text("", ic.Issues)
			fmt.Fprintf(out, "%s: interchange %s from %s:%s to %s:%s: %s%s\n", name, ic.Control, ic.SenderQual, ic.SenderID, ic.ReceiverQual, ic.ReceiverID, ic.Status, codeList(ic.Notes))
		}
	}
	rep, err := c.Check(ctx, x12.NewReader(f))
	if err != nil {
		return 2, err
	}
	status := x12.Accepted
	if rep.Warnings {
		status = x12.AcceptedWithErrors
	}
	if rep.Rejected {
		status = x12.Rejected
	}
	if asJSON {
		enc.Encode(jsonRecord{File: name, Kind: "file", Status: statusName(status), Issues: issuesJSON(rep.Issues),
			Count: &countJSON{rep.Count.Interchanges, rep.Count.Groups, rep.Count.Sets, rep.Count.Segments}})
	} else {
		text("", rep.Issues)
		fmt.Fprintf(out, "%s: %s (%d interchanges, %d groups, %d transaction sets, %d segments)\n", name, strings.ReplaceAll(statusName(status), "_", " "),
			rep.Count.Interchanges, rep.Count.Groups, rep.Count.Sets, rep.Count.Segments)
	}
	if rep.Rejected {
		return 1, nil
	}
	return 0, nil
}

func codeList(c []string) string {
	if len(c) == 0 {
		return ""
	}
	return " (codes " + strings.Join(c, ", ") + ")"
}

func x12Ack(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := x12Flags("ack", stderr)
	use999 := fs.Bool("999", false, "write 999 instead of 997")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, ok := openOne("ack", fs, stdin, stderr)
	if !ok {
		return 2
	}
	defer f.Close()
	rep, err := (&x12.Checker{}).Check(ctx, x12.NewReader(f))
	if err != nil {
		fmt.Fprintf(stderr, "wharf x12 ack: %s: %v\n", fs.Arg(0), err)
		return 2
	}
	opt := x12.AckOptions{Kind: "997", Newline: true}
	if *use999 {
		opt.Kind = "999"
	}
	if err := x12.WriteAcks(ctx, stdout, rep, opt); err != nil {
		fmt.Fprintf(stderr, "wharf x12 ack: %s: %v\n", fs.Arg(0), err)
		return 2
	}
	for _, is := range rep.Issues {
		if !is.Warning {
			fmt.Fprintf(stderr, "wharf x12 ack: %s: %s (nothing to acknowledge)\n", fs.Arg(0), is.String())
		}
	}
	return 0
}

func x12Fmt(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := x12Flags("fmt", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, ok := openOne("fmt", fs, stdin, stderr)
	if !ok {
		return 2
	}
	defer f.Close()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	r := x12.NewReader(f)
	for {
		s, err := r.Read()
		if err == io.EOF {
			return 0
		}
		if err != nil {
			var pe *x12.ParseError
			if errors.As(err, &pe) && !errors.Is(err, x12.ErrNoISA) {
				out.Flush()
				fmt.Fprintf(stderr, "wharf x12 fmt: %s: %v\n", fs.Arg(0), err)
				continue
			}
			out.Flush()
			fmt.Fprintf(stderr, "wharf x12 fmt: %s: %v\n", fs.Arg(0), err)
			return 2
		}
		out.Write(s.Bytes())
		if t := s.Delimiters().Segment; t != '\n' && t != '\r' {
			out.WriteByte(t)
		}
		out.WriteByte('\n')
	}
}
