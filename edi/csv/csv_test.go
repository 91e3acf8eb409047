package csv

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
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
