// Package csv reads and writes delimited files (CSV, semicolon- or
// tab-separated) whose layout is declared as data: which column holds which
// field, header rows, one record per line or header and detail records told
// apart by a tag column, and the text encoding (UTF-8 with or without byte
// order mark, Windows-1252). It knows nothing of the canonical model: a
// record is a list of field values in layout order; package mapping turns
// them into documents.
//
// Parsing follows RFC 4180, with these deviations: rows may have any number
// of columns (missing columns read as empty), a quote inside an unquoted
// field is kept as a character (`12" pipe`), spaces are kept, lines end
// with LF or CRLF, and the input may start with a byte order mark.
//
// Quoted fields are strict: inside one, a quote is either doubled ("") or
// closes the field, and must then be followed by the delimiter or the end
// of the line. Anything else (`"Hex bolt 1/2" zinc,...`, a quote that never
// closes) is a *ParseError wrapping ErrQuote at the line where the quoted
// field started, never a field that silently runs on over the following
// lines. Reading continues at the next line (after an unclosed quote: at
// the end of the input, and the error says which lines could not be read).
// Reading streams: memory is bounded by the longest record.
package csv

import (
	"bufio"
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/wharfedi/wharf/internal/iobuf"
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

// Errors.
var (
	// ErrUnknownRecord: a line matches no record of the layout.
	ErrUnknownRecord = errors.New("line matches no record of the layout")
	// ErrQuote: a quoted field is not closed, or a quote inside it is
	// neither doubled nor followed by the delimiter or the end of the line.
	ErrQuote = errors.New("unbalanced quote")
)

// ParseError is a problem at a line of the input.
type ParseError struct {
	Line   int // where the record (for ErrQuote: the quoted field) starts
	Column int // 1-based column (field number), 0 for the whole line
	Err    error
	// Fields are the values read before the error, in column order (for
	// ErrQuote: the columns before the bad one), valid until the next Read.
	// A caller may use them to tell which document the line belongs to.
	Fields []string
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
	br     *bufio.Reader
	comma  []byte
	header bool
	line   int    // lines read so far
	buf    []byte // the current record's field values, concatenated
	ends   []int  // end of each field in buf
	row    []string
	vals   []string
	eof    bool
}

// NewReader returns a Reader of in, decoding the layout's encoding.
func NewReader(in io.Reader, l *Layout) (*Reader, error) {
	dec, err := NewDecoder(in, l.Encoding)
	if err != nil {
		return nil, err
	}
	comma := l.Comma
	if comma == 0 {
		comma = ','
	}
	if comma == '"' || comma == '\r' || comma == '\n' || !utf8.ValidRune(comma) {
		return nil, fmt.Errorf("csv: %q cannot be the delimiter", comma)
	}
	return &Reader{l: l, br: iobuf.NewReader(dec, 16, 64<<10).Reader, comma: utf8.AppendRune(nil, comma), header: l.Header}, nil
}

// Read returns the next record: its definition, the value of each field
// (valid until the next Read) and its line. At the end it returns io.EOF.
// A line that matches no record, or a record that cannot be read (ErrQuote),
// returns a *ParseError; reading may continue.
func (r *Reader) Read() (*Record, []string, int, error) {
	for {
		row, line, err := r.readRecord()
		if err != nil {
			return nil, nil, line, err
		}
		if r.header {
			r.header = false
			continue
		}
		def := r.match(row)
		if def == nil {
			return nil, nil, line, &ParseError{Line: line, Err: ErrUnknownRecord, Fields: row}
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

// readLine returns the next physical line with its line end normalized to
// "\n" (none at the end of the input), or io.EOF.
func (r *Reader) readLine() ([]byte, error) {
	if r.eof {
		return nil, io.EOF
	}
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err == io.EOF {
		r.eof = true
		if len(line) == 0 {
			return nil, io.EOF
		}
		err = nil
	}
	if err != nil {
		return nil, err
	}
	r.line++
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	} else if n >= 1 && line[n-1] == '\r' && r.eof {
		line = line[:n-1] // a CR before the end of the input, as encoding/csv
	}
	return line, nil
}

func trimNL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

func chars(b []byte) int { return utf8.RuneCount(b) }

// readRecord reads one record, skipping empty lines, and returns its
// fields and the line it starts at.
func (r *Reader) readRecord() ([]string, int, error) {
	var line []byte
	var err error
	for {
		if line, err = r.readLine(); err != nil {
			return nil, r.line, err
		}
		if len(trimNL(line)) > 0 {
			break
		}
	}
	start := r.line
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	fields := func() []string {
		s := string(r.buf)
		r.row = r.row[:0]
		from := 0
		for _, e := range r.ends {
			r.row = append(r.row, s[from:e])
			from = e
		}
		return r.row
	}
	pos := 0 // in line
	for {
		if pos >= len(line) || line[pos] != '"' {
			// Unquoted: up to the delimiter or the end of the line; quotes are characters.
			rest := trimNL(line[pos:])
			i := bytes.Index(rest, r.comma)
			if i < 0 {
				r.buf = append(r.buf, rest...)
				r.ends = append(r.ends, len(r.buf))
				return fields(), start, nil
			}
			r.buf = append(r.buf, rest[:i]...)
			r.ends = append(r.ends, len(r.buf))
			pos += i + len(r.comma)
			continue
		}
		// Quoted.
		qLine, qChar, col := r.line, chars(line[:pos])+1, len(r.ends)+1
		pos++
		for {
			i := bytes.IndexByte(line[pos:], '"')
			if i < 0 {
				r.buf = append(r.buf, line[pos:]...)
				if line, err = r.readLine(); err != nil {
					if err != io.EOF {
						return nil, start, err
					}
					lines := fmt.Sprintf("line %d", qLine)
					if r.line > qLine {
						lines = fmt.Sprintf("lines %d-%d", qLine, r.line)
					}
					row := fields()
					return nil, start, &ParseError{Line: qLine, Column: col, Fields: row,
						Err: fmt.Errorf("%w: the field quoted from character %d is never closed, so %s could not be read", ErrQuote, qChar, lines)}
				}
				pos = 0
				continue
			}
			r.buf = append(r.buf, line[pos:pos+i]...)
			pos += i + 1
			rest := line[pos:]
			switch {
			case len(rest) > 0 && rest[0] == '"':
				r.buf = append(r.buf, '"')
				pos++
				continue
			case bytes.HasPrefix(rest, r.comma):
				r.ends = append(r.ends, len(r.buf))
				pos += len(r.comma)
			case len(trimNL(rest)) == 0:
				r.ends = append(r.ends, len(r.buf))
				return fields(), start, nil
			default:
				at := fmt.Sprintf("character %d", chars(line[:pos-1])+1)
				if r.line != qLine {
					at = fmt.Sprintf("line %d character %d", r.line, chars(line[:pos-1])+1)
				}
				r.buf = r.buf[:0]
				if col > 1 {
					r.buf = r.buf[:r.ends[col-2]] // the columns before the bad one
				}
				row := fields()
				return nil, start, &ParseError{Line: qLine, Column: col, Fields: row,
					Err: fmt.Errorf("%w: the field quoted from character %d is closed at %s and %q follows instead of the delimiter or the line end (write a quote inside a quoted field as \"\")",
						ErrQuote, qChar, at, truncate(string(trimNL(rest)), 12))}
			}
			break
		}
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
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
