package mapping

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// FuzzFromX12: any input maps without panicking, every document it emits
// encodes, and every error names its document.
func FuzzFromX12(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && !strings.HasSuffix(name, ".md") {
			f.Add(b)
		}
	}
	f.Add([]byte(twoTenders))
	p, _ := NewProfile(ProfileSpec{Partner: "fuzz", TimeZone: "America/Chicago"})
	f.Fuzz(func(t *testing.T, in []byte) {
		_, err := FromX12(context.Background(), bytes.NewReader(in), Options{Profile: p,
			Emit: func(d canonical.Document) error {
				_, err := canonical.AppendJSON(nil, d)
				return err
			},
			OnError: func(e *Error) {
				if e.Document == "" || e.Err == nil {
					t.Fatalf("error without document or cause: %+v", e)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFromRecords: any CSV input maps without panicking.
func FuzzFromRecords(f *testing.F) {
	f.Add(erpCSV)
	f.Add("H;1;99.99.9999\nD\nX\n")
	p := DefaultProfile()
	l, err := NewRecordLayout(erpOrders, p)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := FromRecords(context.Background(), strings.NewReader(in), l, Options{Profile: p}); err != nil {
			t.Fatal(err)
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	jl := NewJSONLines(&buf)
	for i := 0; i < 200; i++ {
		d := canonical.New(canonical.TypeTenderResponse).(*canonical.TenderResponse)
		d.ShipmentID = strings.Repeat("x", i%3) + string(rune('a'+i%26))
		d.Action = "accepted"
		if err := jl.Emit(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := jl.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 200 || !strings.Contains(lines[27], `"shipment_id":"b"`) {
		t.Fatalf("%d lines, line 27 %s", len(lines), lines[27])
	}
	jl = NewJSONLines(failWriter{})
	var err error
	for i := 0; i < 2000 && err == nil; i++ {
		err = jl.Emit(canonical.New(canonical.TypeOrder))
	}
	if cerr := jl.Close(); cerr == nil || !strings.Contains(cerr.Error(), "disk full") {
		t.Fatalf("Close = %v, want the write error", cerr)
	}
}
