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
