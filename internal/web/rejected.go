package web

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Rejection is why an inbound file was rejected or not recognized, shown
// on its message page next to the start of its content: the reasons of its
// last processing (the validated, mapped or parsed event's errors) and the
// content, one X12 segment or one line per row, the rows the reasons name
// marked.
type Rejection struct {
	Status    string
	Reasons   []string
	Exception *store.Exception // the open file exception (x12_rejected, rejected, unrecognized)
	Unit      string           // "segment" or "line": what a row of Content is
	Content   []ContentRow
	Truncated bool // the content goes on past what is shown
}

// ContentRow is one segment or line of a file's content.
type ContentRow struct {
	N      int    `json:"n" doc:"its number in the file, from 1"`
	Text   string `json:"text" doc:"control characters and invalid UTF-8 shown as ·"`
	Marked bool   `json:"marked" doc:"a reason names it"`
	Depth  int    `json:"depth,omitempty" doc:"x12: 0 interchange, 1 group, 2 transaction set, 3 its segments"`
}

// rejectionPreview bounds the content shown next to the reasons.
const (
	rejectionPreviewBytes = 32 << 10
	rejectionPreviewRows  = 300
)

// rejection builds the view for a rejected or unrecognized inbound
// message, nil for any other.
func (s *Server) rejection(ctx context.Context, d *MessageDetail, xs []*store.Exception) *Rejection {
	e := d.Entry
	st := lifecycle.Status(e.Status)
	if e.Direction != store.Inbound || st != lifecycle.StatusRejected && st != lifecycle.StatusUnrecognized {
		return nil
	}
	rj := &Rejection{Status: string(st), Reasons: lastReasons(d.Events, st)}
	for _, x := range xs {
		if x.Status == store.ExceptionOpen && x.DedupeKey == x.Reason+"/"+e.ID {
			rj.Exception = x
			break
		}
	}
	if !e.PurgedAt.IsZero() {
		return rj
	}
	rc, _, err := s.o.Archive.Get(ctx, e.ID)
	if err != nil {
		return rj
	}
	defer rc.Close()
	head, err := io.ReadAll(io.LimitReader(rc, rejectionPreviewBytes+1))
	if err != nil {
		return rj
	}
	if len(head) > rejectionPreviewBytes {
		head, rj.Truncated = head[:rejectionPreviewBytes], true
	}
	var rows []string
	if term, ok := x12Terminator(head); ok {
		rj.Unit = "segment"
		rows = x12Segments(head, term)
	} else {
		rj.Unit = "line"
		sc := bufio.NewScanner(bytes.NewReader(head))
		sc.Buffer(make([]byte, 0, 64<<10), rejectionPreviewBytes+1)
		for sc.Scan() {
			rows = append(rows, strings.TrimRight(sc.Text(), "\r"))
		}
	}
	if len(rows) > rejectionPreviewRows {
		rows, rj.Truncated = rows[:rejectionPreviewRows], true
	}
	marked := markedRows(rj.Reasons, rj.Unit)
	for i, r := range rows {
		rj.Content = append(rj.Content, ContentRow{N: i + 1, Text: printable(r), Marked: marked[i+1]})
	}
	return rj
}

// lastReasons are the errors and warnings the last processing of a
// message listed (its validated and mapped events; for an unrecognized
// file, its parsed event; for an AS2 request the endpoint refused, its
// failed event), newest run only.
func lastReasons(evs []*store.Event, st lifecycle.Status) []string {
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		switch ev.Kind {
		case lifecycle.EventReceived, lifecycle.EventReplayed:
			return out // an earlier run's
		case lifecycle.EventParsed:
			if st == lifecycle.StatusUnrecognized && len(out) == 0 {
				return []string{ev.Detail}
			}
		case lifecycle.EventFailed: // an AS2 request the endpoint refused
			if len(out) == 0 {
				return []string{ev.Detail}
			}
		case lifecycle.EventValidated, lifecycle.EventMapped:
			var these []string
			for _, l := range strings.Split(ev.Detail, "\n")[1:] {
				if l = strings.TrimSpace(l); l != "" {
					these = append(these, l)
				}
			}
			out = append(these, out...)
		}
	}
	return out
}

// x12Terminator is the segment terminator an X12 file's ISA names (the
// character after its 16th element).
func x12Terminator(b []byte) (byte, bool) {
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if len(b) < 106 || !bytes.HasPrefix(b, []byte("ISA")) {
		return 0, false
	}
	return b[105], true
}

var (
	segmentRef = regexp.MustCompile(`\bsegment (\d+)\b`)
	lineRef    = regexp.MustCompile(`\bline (\d+)\b`)
)

// x12Segments splits an X12 file's start at its segment terminator term:
// the non-empty segments, trimmed, each ending in term.
func x12Segments(head []byte, term byte) []string {
	var rows []string
	for _, seg := range bytes.Split(head, []byte{term}) {
		if t := strings.TrimSpace(string(seg)); t != "" {
			rows = append(rows, t+string(term))
		}
	}
	return rows
}

// markedRows are the segments or lines the reasons name.
func markedRows(reasons []string, unit string) map[int]bool {
	re := lineRef
	if unit == "segment" {
		re = segmentRef
	}
	out := map[int]bool{}
	for _, r := range reasons {
		for _, m := range re.FindAllStringSubmatch(r, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil {
				out[n] = true
			}
		}
	}
	return out
}

// printable shows control characters and invalid UTF-8 as escapes.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r >= ' ' && r != 0x7f && r != 0xfffd {
			return r
		}
		return '·'
	}, s)
}
