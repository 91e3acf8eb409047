// Package flat reads and writes fixed-width files whose layout is declared
// as data: each field's start position and width, alignment and padding,
// one record per line or header and detail records told apart by a tag at
// fixed positions, and the text encoding (UTF-8 with or without byte order
// mark, Windows-1252; see package edi/csv). Positions count characters, so
// they are byte positions in single-byte encodings such as Windows-1252.
// Like edi/csv, it knows nothing of the canonical model.
//
// Lines end with LF or CRLF. Hosts trim trailing spaces, so a line may end
// before its last fields: a field the line does not reach reads as empty,
// and a left-aligned, space-padded text field the line ends inside reads as
// the characters present (its trailing spaces were trimmed). A line that
// ends inside any other field (right-aligned, padded with something other
// than spaces, or marked Whole: numbers, dates, times) is cut, not trimmed:
// `000031075` cut to `00003` would read as 3. Read returns that record
// with a *ParseError wrapping ErrShortLine naming the field. Characters
// beyond the last field are ignored. Values are trimmed of their
// padding on read. Writing a value longer than its field is an error, never
// a silent truncation. Reading streams in constant memory (a line may be at
// most MaxLine bytes).
package flat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wharfedi/wharf/edi/csv"
)

// MaxLine is the longest line read, in bytes.
const MaxLine = 1 << 20

// Layout declares a fixed-width file.
type Layout struct {
	Encoding string
	Records  []Record
}

// Record is one kind of line.
type Record struct {
	Kind      string // "", "header" or "detail"
	Tag       string
	TagStart  int // 1-based
	TagLength int
	Fields    []Field
}

// Field is one fixed-width field.
type Field struct {
	Start  int  // 1-based first character
	Length int  // width in characters
	Right  bool // right-aligned (numbers), else left-aligned
	Pad    rune // padding, default ' '
	// Whole: a line ending inside the field is an error even when it is
	// a left-aligned, space-padded one (dates, times, codes of fixed size).
	Whole bool
}

// cut reports whether a line of n characters that ends inside f (after its
// first character, before its last) must be an error rather than read as
// trimmed trailing spaces.
func (f Field) cut() bool { return f.Whole || f.Right || f.pad() != ' ' }

func (f Field) pad() rune {
	if f.Pad == 0 {
		return ' '
	}
	return f.Pad
}

// Errors.
var (
	ErrUnknownRecord = errors.New("line matches no record of the layout")
	ErrTooLong       = errors.New("value longer than its field")
	ErrLineTooLong   = errors.New("line too long")
	// ErrShortLine: the line ends inside a field that cannot be cut (see
	// the package documentation); the record and its values are returned
	// with it.
	ErrShortLine = errors.New("line ends inside the field")
)

// ParseError is a problem at a line (and field) of the input.
type ParseError struct {
	Line  int
	Field int // 1-based index of the field in its record, 0 for the line
	Err   error
}

func (e *ParseError) Error() string {
	if e.Field > 0 {
		return fmt.Sprintf("flat: line %d field %d: %v", e.Line, e.Field, e.Err)
	}
	return fmt.Sprintf("flat: line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Reader reads records of a Layout.
type Reader struct {
	l    *Layout
	s    *bufio.Scanner
	line int
	vals []string
	rs   []rune
}

// NewReader returns a Reader of in, decoding the layout's encoding.
func NewReader(in io.Reader, l *Layout) (*Reader, error) {
	dec, err := csv.NewDecoder(in, l.Encoding)
	if err != nil {
		return nil, err
	}
	s := bufio.NewScanner(dec)
	s.Buffer(make([]byte, 64<<10), MaxLine)
	return &Reader{l: l, s: s}, nil
}

// Read returns the next record, the value of each field (trimmed of its
// padding, valid until the next Read) and the line number; io.EOF at the end.
// A line that ends inside a field that cannot be cut returns the record and
// its values with a *ParseError wrapping ErrShortLine (Field: that field);
// the caller decides what the field's value is worth (nothing: it is cut).
func (r *Reader) Read() (*Record, []string, int, error) {
	for r.s.Scan() {
		r.line++
		text := strings.TrimSuffix(r.s.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		r.rs = append(r.rs[:0], []rune(text)...)
		def := r.match()
		if def == nil {
			return nil, nil, r.line, &ParseError{Line: r.line, Err: ErrUnknownRecord}
		}
		r.vals = r.vals[:0]
		var short error
		n := len(r.rs)
		for i, f := range def.Fields {
			v := r.slice(f.Start, f.Length)
			if end := f.Start - 1 + f.Length; short == nil && f.Start <= n && n < end && f.cut() {
				short = &ParseError{Line: r.line, Field: i + 1, Err: fmt.Errorf("%w: the line has %d characters, the field is characters %d-%d (read %q)",
					ErrShortLine, n, f.Start, end, v)}
			}
			r.vals = append(r.vals, trim(v, f))
		}
		return def, r.vals, r.line, short
	}
	if err := r.s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, r.line + 1, &ParseError{Line: r.line + 1, Err: ErrLineTooLong}
		}
		return nil, nil, r.line, err
	}
	return nil, nil, r.line, io.EOF
}

func (r *Reader) slice(start, length int) string {
	if start < 1 || start > len(r.rs) {
		return ""
	}
	end := start - 1 + length
	if end > len(r.rs) {
		end = len(r.rs)
	}
	return string(r.rs[start-1 : end])
}

func trim(v string, f Field) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	p := string(f.pad())
	if f.Right && f.pad() == '0' && strings.HasPrefix(v, "-") {
		n := strings.TrimLeft(v[1:], "0")
		if n == "" || n[0] == '.' {
			n = "0" + n
		}
		n = "-" + strings.TrimSpace(n)
		if utf8.RuneCountInString(n) > f.Length {
			// "-.0000" would read as "-0.0000", a character more than
			// the field holds: keep it as written, so it can be written back.
			return strings.TrimSpace(v)
		}
		return n
	}
	if f.Right {
		v = strings.TrimLeft(v, p)
		if f.pad() == '0' && v == "" {
			return "0"
		}
		return strings.TrimSpace(v)
	}
	return strings.TrimRight(strings.TrimRight(v, p), " ")
}

func (r *Reader) match() *Record {
	if len(r.l.Records) == 1 {
		return &r.l.Records[0]
	}
	for i := range r.l.Records {
		d := &r.l.Records[i]
		if r.slice(d.TagStart, d.TagLength) == d.Tag {
			return d
		}
	}
	return nil
}

// Writer writes records of a Layout.
type Writer struct {
	w    *bufio.Writer
	enc  io.Writer
	line []rune
	n    int
}

// NewWriter returns a Writer to out, encoding to the layout's encoding.
// Lines end with CRLF.
func NewWriter(out io.Writer, l *Layout) (*Writer, error) {
	enc, err := csv.NewEncoder(out, l.Encoding)
	if err != nil {
		return nil, err
	}
	return &Writer{w: bufio.NewWriter(enc)}, nil
}

// Write writes one record; values are in the order of def.Fields. A value
// longer than its field is a *ParseError wrapping ErrTooLong, and nothing
// of the record is written.
func (w *Writer) Write(def *Record, values []string) error {
	w.n++
	width := def.TagStart - 1 + def.TagLength
	for _, f := range def.Fields {
		if e := f.Start - 1 + f.Length; e > width {
			width = e
		}
	}
	w.line = w.line[:0]
	for i := 0; i < width; i++ {
		w.line = append(w.line, ' ')
	}
	if def.TagLength > 0 {
		copy(w.line[def.TagStart-1:], []rune(def.Tag))
	}
	for i, f := range def.Fields {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		n := utf8.RuneCountInString(v)
		if n > f.Length {
			return &ParseError{Line: w.n, Field: i + 1, Err: fmt.Errorf("%w: %q has %d characters, the field %d", ErrTooLong, v, n, f.Length)}
		}
		seg := w.line[f.Start-1 : f.Start-1+f.Length]
		if v == "" {
			continue // an absent value is blank, not padding (000 would read as zero)
		}
		for j := range seg {
			seg[j] = f.pad()
		}
		rs := []rune(v)
		if f.Right && f.pad() == '0' && len(rs) > 0 && rs[0] == '-' {
			seg[0] = '-' // -0000125, not 0000-125
			copy(seg[f.Length-n+1:], rs[1:])
		} else if f.Right {
			copy(seg[f.Length-n:], rs)
		} else {
			copy(seg, rs)
		}
	}
	if _, err := w.w.WriteString(string(w.line) + "\r\n"); err != nil {
		return err
	}
	return nil
}

// Flush writes buffered data.
func (w *Writer) Flush() error { return w.w.Flush() }
