package csv

import (
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var hd = &Layout{Comma: ';', Records: []Record{
	{Kind: "header", Tag: "H", TagColumn: 1, Columns: []int{2, 3}},
	{Kind: "detail", Tag: "D", TagColumn: 1, Columns: []int{2, 3, 4}},
}}

func readAll(t *testing.T, l *Layout, in string) (out []string, err error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), l)
	if err != nil {
		t.Fatal(err)
	}
	for {
		def, v, line, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, strings.Join(append([]string{def.Kind, string(rune('0' + line))}, v...), "|"))
	}
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		l        *Layout
		want     string
		err      error
	}{
		{"header detail", "H;PO1;x\nD;1;2\nD;3\n", hd, "header|1|PO1|x,detail|2|1|2|,detail|3|3||", nil},
		{"bom and blank lines", "\ufeffH;PO1\n\nD;1;2;3\n", hd, "header|1|PO1|,detail|3|1|2|3", nil},
		{"quoted delimiter", "H;\"a;b\";c\r\n", hd, "header|1|a;b|c", nil},
		{"unknown tag", "X;1\n", hd, "", ErrUnknownRecord},
		{"title line skipped", "order,qty\nPO1,3\n", &Layout{Header: true, Records: []Record{{Columns: []int{1, 2}}}}, "|2|PO1|3", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.l, tc.in)
			if !errors.Is(err, tc.err) || strings.Join(got, ",") != tc.want {
				t.Errorf("got %q, %v; want %q, %v", strings.Join(got, ","), err, tc.want, tc.err)
			}
		})
	}
}

// TestQuotes: a quote inside an unquoted field is a character; inside a
// quoted field it is doubled or closes the field. A quoted field that is
// never closed, or closed early, is an error at the line where it starts,
// never a field running on over the next lines, and reading resumes at the
// next line.
func TestQuotes(t *testing.T) {
	one := &Layout{Records: []Record{{Columns: []int{1, 2, 3}}}}
	for _, tc := range []struct {
		name, in string
		want     []string // "LINE: a|b|c" or "LINE: error"
	}{
		{"bare quote in unquoted field", "PO1,12\" pipe,3\n", []string{`1: PO1|12" pipe|3`}},
		{"doubled quote", "PO1,\"12\"\" pipe\",3\n", []string{`1: PO1|12" pipe|3`}},
		{"line break in quoted field", "PO1,\"a\r\nb\",3\r\nPO2,x,4\r\n", []string{`1: PO1|a\nb|3`, `3: PO2|x|4`}},
		{"quoted field at the end of the input", "PO1,x,\"3\"", []string{`1: PO1|x|3`}},
		{"closed early", "PO1,\"12\" pipe\",3\nPO2,x,4\n", []string{
			`1: csv: line 1 column 2: unbalanced quote: the field quoted from character 5 is closed at character 8 and " pipe\",3" follows instead of the delimiter or the line end (write a quote inside a quoted field as "")`,
			`2: PO2|x|4`}},
		{"closed early on a later line", "PO0,a,1\nPO1,\"a\nb\" c,3\nPO2,x,4\n", []string{`1: PO0|a|1`,
			`2: csv: line 2 column 2: unbalanced quote: the field quoted from character 5 is closed at line 3 character 2 and " c,3" follows instead of the delimiter or the line end (write a quote inside a quoted field as "")`,
			`4: PO2|x|4`}},
		{"never closed", "PO0,a,1\nPO1,\"12 pipe,3\nPO2,x,4\n\nPO3,y,5\n", []string{`1: PO0|a|1`,
			`2: csv: line 2 column 2: unbalanced quote: the field quoted from character 5 is never closed, so lines 2-5 could not be read`}},
		{"never closed on the last line", "PO1,\"12 pipe,3", []string{
			`1: csv: line 1 column 2: unbalanced quote: the field quoted from character 5 is never closed, so line 1 could not be read`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tc.in), one)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				_, v, line, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					var pe *ParseError
					if !errors.As(err, &pe) || !errors.Is(err, ErrQuote) || pe.Line != line {
						t.Fatalf("line %d: %v", line, err)
					}
					// The columns before the bad one are read (the order number).
					if len(pe.Fields) != pe.Column-1 || !strings.HasPrefix(pe.Fields[0], "PO") {
						t.Errorf("fields before the error: %q (column %d)", pe.Fields, pe.Column)
					}
					got = append(got, fmt.Sprintf("%d: %v", line, err))
					continue
				}
				got = append(got, fmt.Sprintf("%d: %s", line, strings.ReplaceAll(strings.Join(v, "|"), "\n", `\n`)))
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestWindows1252(t *testing.T) {
	l := &Layout{Encoding: Windows1252, Records: []Record{{Columns: []int{1, 2}}}}
	in := "Caf\xe9,\x80 5\n"
	got, err := readAll(t, l, in)
	if err != nil || got[0] != "|1|Café|€ 5" {
		t.Fatalf("read %q, %v", got, err)
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, l)
	w.Write(&l.Records[0], []string{"Café", "€ 5"})
	if err := w.Flush(); err != nil || buf.String() != "Caf\xe9,\x80 5\r\n" {
		t.Fatalf("wrote %q, %v", buf.String(), err)
	}
	w, _ = NewWriter(&buf, l)
	w.Write(&l.Records[0], []string{"✓"})
	if err := w.Flush(); !errors.Is(err, ErrEncoding) {
		t.Fatalf("err = %v, want ErrEncoding", err)
	}
}

func TestWriteBOMHeader(t *testing.T) {
	l := &Layout{Encoding: UTF8BOM, Header: true, Records: []Record{{Columns: []int{2, 1}, Titles: []string{"qty", "order"}}}}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, l)
	w.Write(&l.Records[0], []string{"3", "PO,1"})
	w.Flush()
	if got := buf.String(); got != "\ufefforder,qty\r\n\"PO,1\",3\r\n" {
		t.Fatalf("wrote %q", got)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("H;PO1;x\nD;1;2\n", false)
	f.Add("\ufeffH;\"a;\"\"b\";c\r\n", true)
	f.Add("\x80\x81\xff;\n", true)
	f.Fuzz(func(t *testing.T, in string, w1252 bool) {
		l := *hd
		if w1252 {
			l.Encoding = Windows1252
		}
		r, err := NewReader(strings.NewReader(in), &l)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10000; i++ {
			def, v, _, err := r.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *ParseError", err)
				}
				continue
			}
			if len(v) != len(def.Columns) {
				t.Fatalf("%d values for %d columns", len(v), len(def.Columns))
			}
		}
	})
}

// FuzzReadLikeEncodingCSV: on input strict encoding/csv reads without an
// error (RFC 4180 quoting), the reader returns the same rows and lines.
func FuzzReadLikeEncodingCSV(f *testing.F) {
	f.Add("a,b\n\"c,\"\"d\"\"\",e\r\n\n\"x\r\ny\",z")
	f.Add("\"\",\"\"\"\"\n,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) || strings.ContainsRune(in, '\r') && !strings.Contains(in, "\r\n") {
			return // the decoder and lone CRs are not the point here
		}
		if len(in) > 64<<10 {
			return // size adds no paths to a tokenizer, only time per run
		}
		std := stdcsv.NewReader(strings.NewReader(in))
		std.FieldsPerRecord = -1
		var want []string
		for {
			row, err := std.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			line, _ := std.FieldPos(0)
			want = append(want, fmt.Sprintf("%d:%q", line, row))
		}
		r, err := NewReader(strings.NewReader(in), &Layout{Records: []Record{{}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var failed error
		done := make(chan struct{})
		go func() { // a hang is a failure with its input, not a lost fuzzing run
			defer close(done)
			for len(got) <= len(in)+1 {
				row, line, err := r.readRecord()
				if err == io.EOF {
					return
				}
				if err != nil {
					failed = err
					return
				}
				got = append(got, fmt.Sprintf("%d:%q", line, row))
			}
			failed = fmt.Errorf("%d records from %d bytes: the reader does not advance", len(got), len(in))
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: the reader hangs", in)
		}
		if failed != nil {
			t.Fatalf("%q: %v (encoding/csv reads it)", in, failed)
		}
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("%q:\n%s\nwant (encoding/csv)\n%s", in, g, w)
		}
	})
}
