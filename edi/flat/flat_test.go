package flat

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

var layout = &Layout{Records: []Record{
	{Kind: "header", Tag: "01", TagStart: 1, TagLength: 2, Fields: []Field{{Start: 3, Length: 8}, {Start: 11, Length: 6, Right: true, Pad: '0'}}},
	{Kind: "detail", Tag: "02", TagStart: 1, TagLength: 2, Fields: []Field{{Start: 3, Length: 5}, {Start: 8, Length: 4, Right: true}}},
}}

func TestReadWrite(t *testing.T) {
	in := "01PO-1    001250\r\n02SKU1   12\n\n02Café    7\n01PO-2    -00005\n"
	r, err := NewReader(strings.NewReader(in), layout)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, layout)
	for {
		def, v, line, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, def.Kind+":"+strings.Join(v, "|")+":"+string(rune('0'+line)))
		if err := w.Write(def, v); err != nil {
			t.Fatal(err)
		}
	}
	want := "header:PO-1|1250:1,detail:SKU1|12:2,detail:Café|7:4,header:PO-2|-5:5"
	if strings.Join(got, ",") != want {
		t.Errorf("read %q\nwant %q", strings.Join(got, ","), want)
	}
	w.Flush()
	wantOut := "01PO-1    001250\r\n02SKU1   12\r\n02Café    7\r\n01PO-2    -00005\r\n"
	if buf.String() != wantOut {
		t.Errorf("wrote %q\nwant  %q", buf.String(), wantOut)
	}
	if err := w.Write(&layout.Records[1], []string{"TOOLONG", "1"}); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
	if _, _, _, err := mustReader(t, "99xx\n").Read(); !errors.Is(err, ErrUnknownRecord) {
		t.Errorf("err = %v, want ErrUnknownRecord", err)
	}
}

// TestShortLine: a line that ends inside a number, a non-space-padded or a
// Whole field is cut, not trimmed: an error with the record; one that ends
// inside a left-aligned text field or before a field is trimmed spaces.
func TestShortLine(t *testing.T) {
	l := &Layout{Records: []Record{{Fields: []Field{
		{Start: 1, Length: 4}, {Start: 5, Length: 8, Whole: true}, {Start: 13, Length: 5, Right: true, Pad: '0'}, {Start: 18, Length: 6}}}}}
	for _, tc := range []struct{ in, want string }{
		{"SHP12026112600310NOTE", "SHP1|20261126|310|NOTE|"},     // text cut: trailing spaces trimmed
		{"SHP120261126", "SHP1|20261126|||"},                     // ends before the number: blank
		{"SHP1202611", "SHP1|202611|||2"},                        // inside the Whole date
		{"SHP120261126003", "SHP1|20261126|3||3"},                // inside the zero-filled number
		{"SH", "SH||||"},                                         // inside a left-aligned text field
		{"SHP120261126  31", "SHP1|20261126|31||3"},              // inside a right-aligned number
		{"SHP12026112600310NOTE  \r", "SHP1|20261126|310|NOTE|"}, // CR is not a character of the line
	} {
		r, err := NewReader(strings.NewReader(tc.in+"\n"), l)
		if err != nil {
			t.Fatal(err)
		}
		_, v, _, err := r.Read()
		field := ""
		var pe *ParseError
		if errors.As(err, &pe) && errors.Is(err, ErrShortLine) {
			field = string(rune('0' + pe.Field))
		} else if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := strings.Join(v, "|") + "|" + field; got != tc.want {
			t.Errorf("%q: read %q (%v), want %q", tc.in, got, err, tc.want)
		}
	}
}

func mustReader(t *testing.T, in string) *Reader {
	r, err := NewReader(strings.NewReader(in), layout)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func FuzzRead(f *testing.F) {
	f.Add("01PO-1    001250\r\n02SKU1   12\n")
	f.Add("02\xff\xfe\n01-0\n")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := NewReader(strings.NewReader(in), layout)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, layout)
		for i := 0; i < 10000; i++ {
			def, v, _, err := r.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue
			}
			if len(v) != len(def.Fields) {
				t.Fatalf("%d values for %d fields", len(v), len(def.Fields))
			}
			// What was read fits its fields, so it can be written back.
			if err := w.Write(def, v); err != nil {
				t.Fatalf("write back %q: %v", v, err)
			}
		}
	})
}
