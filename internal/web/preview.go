package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// Preview is the start of a message's content made readable, shown next
// to its download: X12 one segment per row, indented by envelope, with the
// segments its last validation's reasons name marked (as the rejection
// view marks them); CSV as a table, the lines the reasons name marked;
// other text as it is; nothing of a binary file. At most previewBytes and
// previewRows are shown.
type Preview struct {
	Kind      string       `json:"kind" enum:"x12,csv,text,binary,purged" doc:"how the content is shown; binary and purged show none"`
	Unit      string       `json:"unit,omitempty" enum:"segment,line,record" doc:"what a row is"`
	Rows      []ContentRow `json:"rows" doc:"x12 and text: the segments or lines shown"`
	Table     []TableRow   `json:"table" doc:"csv: the records shown, the first as the file has it (often a header)"`
	Delimiter string       `json:"delimiter,omitempty" doc:"csv: the field delimiter found"`
	Reasons   []string     `json:"reasons" doc:"the errors and warnings of the message's last processing, which the marks point at"`
	Size      int64        `json:"size" doc:"the whole file's size in bytes"`
	Shown     int          `json:"shown" doc:"bytes of its start read for the preview"`
	Truncated bool         `json:"truncated" doc:"the file goes on past what is shown: download it for the rest"`
}

// TableRow is one CSV record of a preview.
type TableRow struct {
	N      int      `json:"n" doc:"the line it starts on"`
	Cells  []string `json:"cells"`
	Marked bool     `json:"marked" doc:"a reason names its line"`
}

// previewBytes and previewRows bound a preview.
const (
	previewBytes = 64 << 10
	previewRows  = 1000
)

// Preview reads the start of message id and makes it readable.
func (s *Server) Preview(ctx context.Context, id string) (*Preview, error) {
	d, err := s.Detail(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.preview(ctx, d)
}

func (s *Server) preview(ctx context.Context, d *MessageDetail) (*Preview, error) {
	e := d.Entry
	pv := &Preview{Rows: []ContentRow{}, Table: []TableRow{}, Reasons: nonNil(lastReasons(d.Events, lifecycle.Status(e.Status))), Size: e.Size}
	if !e.PurgedAt.IsZero() {
		pv.Kind = "purged"
		return pv, nil
	}
	rc, _, err := s.o.Archive.Get(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	head, err := io.ReadAll(io.LimitReader(rc, previewBytes+1))
	if err != nil {
		return nil, err
	}
	if len(head) > previewBytes {
		head, pv.Truncated = head[:previewBytes], true
	}
	switch {
	case isX12(head):
		pv.Kind, pv.Unit = "x12", "segment"
		rows, cut := x12Rows(head)
		pv.Truncated = pv.Truncated || cut
		marked := markedRows(pv.Reasons, "segment")
		for i, r := range rows {
			pv.Rows = append(pv.Rows, ContentRow{N: i + 1, Text: printable(r), Marked: marked[i+1], Depth: segmentDepth(r)})
		}
	case !isText(head, pv.Truncated):
		pv.Kind = "binary"
		return pv, nil
	case isCSV(e):
		pv.Kind, pv.Unit = "csv", "record"
		if !csvTable(pv, head) {
			pv.Kind, pv.Table = "text", []TableRow{} // not CSV after all: shown as text
			textRows(pv, head)
		}
	default:
		pv.Kind = "text"
		textRows(pv, head)
	}
	pv.Shown = len(head)
	return pv, nil
}

func isX12(head []byte) bool { _, ok := x12Terminator(head); return ok }

// x12Rows splits an X12 file's start into segments; cut: more than
// previewRows.
func x12Rows(head []byte) ([]string, bool) {
	term, _ := x12Terminator(head)
	rows := x12Segments(head, term)
	if len(rows) > previewRows {
		return rows[:previewRows], true
	}
	return rows, false
}

// segmentDepth indents a segment by the envelope it sits in: interchange
// 0, group 1, transaction set 2, its segments 3.
func segmentDepth(seg string) int {
	n := 0
	for n < len(seg) && (seg[n] >= 'A' && seg[n] <= 'Z' || seg[n] >= '0' && seg[n] <= '9') {
		n++
	}
	switch seg[:n] {
	case "ISA", "IEA", "TA1":
		return 0
	case "GS", "GE":
		return 1
	case "ST", "SE":
		return 2
	}
	return 3
}

// isText: valid UTF-8 (a rune cut at the end of a truncated start is
// allowed) without NUL bytes.
func isText(head []byte, truncated bool) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	if utf8.Valid(head) {
		return true
	}
	if truncated {
		for i := 1; i < utf8.UTFMax && i <= len(head); i++ {
			if utf8.Valid(head[:len(head)-i]) {
				return true
			}
		}
	}
	return false
}

// isCSV: processing found CSV, or the file's name says so.
func isCSV(e *archive.Entry) bool {
	if e.Format == "csv" {
		return true
	}
	switch strings.ToLower(path.Ext(e.RemoteName)) {
	case ".csv", ".tsv":
		return true
	}
	return false
}

// csvTable fills pv.Table from a CSV start, with the delimiter its first
// line uses most; false when it does not read as CSV.
func csvTable(pv *Preview, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF"))
	first, _, _ := bytes.Cut(head, []byte("\n"))
	delim, best := ',', 0
	for _, c := range []rune{',', ';', '\t', '|'} {
		if n := bytes.Count(first, []byte(string(c))); n > best {
			delim, best = c, n
		}
	}
	if pv.Truncated { // the last record is cut: leave it out
		if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		}
	}
	r := csv.NewReader(bytes.NewReader(head))
	r.Comma, r.FieldsPerRecord, r.LazyQuotes, r.ReuseRecord = delim, -1, true, false
	marked := markedRows(pv.Reasons, "line")
	for len(pv.Table) < previewRows {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		line, _ := r.FieldPos(0)
		cells := make([]string, len(rec))
		for i, c := range rec {
			cells[i] = printable(c)
		}
		pv.Table = append(pv.Table, TableRow{N: line, Cells: cells, Marked: marked[line]})
	}
	if len(pv.Table) == previewRows {
		pv.Truncated = true
	}
	pv.Delimiter = string(delim)
	if delim == '\t' {
		pv.Delimiter = "tab"
	}
	return true
}

func textRows(pv *Preview, head []byte) {
	pv.Unit = "line"
	marked := markedRows(pv.Reasons, "line")
	for i, l := range strings.Split(strings.TrimSuffix(string(head), "\n"), "\n") {
		if i == previewRows {
			pv.Truncated = true
			break
		}
		pv.Rows = append(pv.Rows, ContentRow{N: i + 1, Text: printable(strings.TrimRight(l, "\r")), Marked: marked[i+1]})
	}
}

func (s *Server) mountPreview() {
	s.handle(Route{Method: "GET", Path: "/api/v1/messages/{id}/preview", Summary: "The start of a message made readable: X12 one segment per row with the validator's marks, CSV as a table, other text as is", Role: store.RoleAuditor, Scope: store.ScopeMessagesRead, Tag: "messages",
		Params: []Param{pID}, Response: Preview{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			if err := s.ownMessage(r, p, r.PathValue("id")); err != nil {
				return err
			}
			pv, err := s.Preview(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, pv)
			return nil
		})
}
