// Package csv reads and writes delimited files (CSV, semicolon- or
// tab-separated) whose layout is declared as data: which column holds which
// field, header rows, one record per line or header and detail records told
// apart by a tag column, and the text encoding (UTF-8 with or without byte
// order mark, Windows-1252). It knows nothing of the canonical model: a
// record is a list of field values in layout order; package mapping turns
// them into documents.
//
// Parsing follows RFC 4180 through encoding/csv, with these deviations:
// rows may have any number of columns (missing columns read as empty),
// quotes inside unquoted fields are kept (LazyQuotes), spaces are kept, and
// the input may start with a byte order mark. Reading streams in constant
// memory.
package csv

import (
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
)

// Layout declares a delimited file.
type Layout struct {
	Comma    rune   // field delimiter, default ','
	Header   bool   // the first line holds column titles: skipped on read, written on render
	Encoding string // see NormalizeEncoding
	// Records: one record (every line) or a header and a detail record
	// told apart by Tag in TagColumn.
	Records []Record
}

// Record is one kind of line.
type Record struct {
	Kind      string // "", "header" or "detail"
	Tag       string
	TagColumn int      // 1-based
	Columns   []int    // 1-based column of each field
	Titles    []string // column titles written in the header line (render)
}

// ErrUnknownRecord: a line matches no record of the layout.
var ErrUnknownRecord = errors.New("line matches no record of the layout")

// ParseError is a problem at a line of the input.
type ParseError struct {
	Line   int
	Column int // 1-based, 0 for the whole line
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("csv: line %d column %d: %v", e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("csv: line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Reader reads records of a Layout.
type Reader struct {
	l      *Layout
	r      *stdcsv.Reader
	header bool
	vals   []string
}

// NewReader returns a Reader of in, decoding the layout's encoding.
func NewReader(in io.Reader, l *Layout) (*Reader, error) {
	dec, err := NewDecoder(in, l.Encoding)
	if err != nil {
		return nil, err
	}
	r := stdcsv.NewReader(dec)
	r.Comma = l.Comma
	if r.Comma == 0 {
		r.Comma = ','
	}
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &Reader{l: l, r: r, header: l.Header}, nil
}

// Read returns the next record: its definition, the value of each field
// (valid until the next Read) and its line. At the end it returns io.EOF.
// A line that matches no record returns a *ParseError wrapping
// ErrUnknownRecord; reading may continue.
func (r *Reader) Read() (*Record, []string, int, error) {
	for {
		row, err := r.r.Read()
		if err != nil {
			var pe *stdcsv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, pe.StartLine, &ParseError{Line: pe.StartLine, Column: pe.Column, Err: pe.Err}
			}
			return nil, nil, 0, err
		}
		line, _ := r.r.FieldPos(0)
		if r.header {
			r.header = false
			continue
		}
		if len(row) == 1 && row[0] == "" {
			continue // blank line
		}
		def := r.match(row)
		if def == nil {
			return nil, nil, line, &ParseError{Line: line, Err: ErrUnknownRecord}
		}
		r.vals = r.vals[:0]
		for _, c := range def.Columns {
			v := ""
			if c >= 1 && c <= len(row) {
				v = row[c-1]
			}
			r.vals = append(r.vals, v)
		}
		return def, r.vals, line, nil
	}
}

func (r *Reader) match(row []string) *Record {
	if len(r.l.Records) == 1 {
		return &r.l.Records[0]
	}
	for i := range r.l.Records {
		d := &r.l.Records[i]
		if d.TagColumn >= 1 && d.TagColumn <= len(row) && row[d.TagColumn-1] == d.Tag {
			return d
		}
	}
	return nil
}

// Writer writes records of a Layout.
type Writer struct {
	l      *Layout
	w      *stdcsv.Writer
	header bool
	row    []string
}

// NewWriter returns a Writer to out, encoding to the layout's encoding.
func NewWriter(out io.Writer, l *Layout) (*Writer, error) {
	enc, err := NewEncoder(out, l.Encoding)
	if err != nil {
		return nil, err
	}
	w := stdcsv.NewWriter(enc)
	if l.Comma != 0 {
		w.Comma = l.Comma
	}
	w.UseCRLF = true
	return &Writer{l: l, w: w, header: l.Header}, nil
}

// Write writes one record; values are in the order of def.Columns.
func (w *Writer) Write(def *Record, values []string) error {
	if w.header {
		w.header = false
		if err := w.writeHeader(); err != nil {
			return err
		}
	}
	n := def.TagColumn
	for _, c := range def.Columns {
		if c > n {
			n = c
		}
	}
	w.row = w.row[:0]
	for i := 0; i < n; i++ {
		w.row = append(w.row, "")
	}
	if def.TagColumn > 0 {
		w.row[def.TagColumn-1] = def.Tag
	}
	for i, c := range def.Columns {
		if i < len(values) && c >= 1 {
			w.row[c-1] = values[i]
		}
	}
	return w.w.Write(w.row)
}

func (w *Writer) writeHeader() error {
	// Titles of the first record with titles (the detail record's for
	// header/detail files would not describe header lines; use the first).
	def := &w.l.Records[0]
	n := 0
	for _, c := range def.Columns {
		if c > n {
			n = c
		}
	}
	row := make([]string, n)
	for i, c := range def.Columns {
		if i < len(def.Titles) {
			row[c-1] = def.Titles[i]
		}
	}
	return w.w.Write(row)
}

// Flush writes buffered data and returns any write error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}
