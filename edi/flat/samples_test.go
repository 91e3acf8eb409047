package flat

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/edi/csv"
)

// TestSamples reads the fixed-width samples of the repository's
// testdata/fixed (see its README.md; the layouts are in
// testdata/fixed/wharf.yaml) and checks records, lines and errors:
// CRLF, Windows-1252 counted in characters, zero-filled numbers, short
// lines, lines no record matches.
func TestSamples(t *testing.T) {
	status := &Layout{Records: []Record{{Fields: []Field{
		{Start: 1, Length: 10}, {Start: 27, Length: 12, Whole: true}, {Start: 39, Length: 20},
		{Start: 61, Length: 9, Right: true, Pad: '0'}, {Start: 70, Length: 20}}}}}
	orders := &Layout{Encoding: csv.Windows1252, Records: []Record{
		{Kind: "header", Tag: "HDR", TagStart: 1, TagLength: 3, Fields: []Field{
			{Start: 4, Length: 10}, {Start: 22, Length: 30}, {Start: 52, Length: 20}, {Start: 74, Length: 12, Right: true, Pad: '0'}, {Start: 86, Length: 3}}},
		{Kind: "detail", Tag: "DTL", TagStart: 1, TagLength: 3, Fields: []Field{
			{Start: 4, Length: 3, Right: true, Pad: '0'}, {Start: 22, Length: 30}, {Start: 52, Length: 9, Right: true, Pad: '0'}, {Start: 63, Length: 11, Right: true, Pad: '0'}}}}}
	tests := []struct {
		file   string
		layout *Layout
		want   []string // "LINE: value|value|..." per record, "LINE: error" per error
	}{
		{"carrier-status.txt", status, []string{
			`1: L-778120|202611260815|COLUMBUS|1250000|`,
			`2: L-778120|202611261940|INDIANAPOLIS||`,
			`3: L-778120|202611271005|CHICAGO|1250000|M GARCIA`,
			`4: L-778121|202611260900|COLUMBUS|31075|`,
			`5: L-778121|202611270730|LOUISVILLE||`}},
		// Short lines: line 2 ends inside the time (a Whole field), line 4
		// inside the zero-filled weight, which would read 3 instead of
		// 31075: both are ErrShortLine, with the record. Line 5 ends before
		// the weight (blank, not cut); line 3 ends inside the signer, a
		// left-aligned text field whose trailing spaces were trimmed.
		{"carrier-status-short-line.txt", status, []string{
			`1: L-778120|202611260815|COLUMBUS|1250000|`,
			`2: L-778120|202611||| (flat: line 2 field 2: line ends inside the field: the line has 32 characters, the field is characters 27-38 (read "202611"))`,
			`3: L-778120|202611271005|CHICAGO|1250000|M GARCIA`,
			`4: L-778121|202611260900|COLUMBUS|3| (flat: line 4 field 4: line ends inside the field: the line has 65 characters, the field is characters 61-69 (read "00003"))`,
			`5: L-778121|202611270730|LOUISVILLE||`}},
		{"orders.txt", orders, []string{
			`1: SO-240117|Café Müller GmbH|KÖLN|123450|EUR`,
			`2: 1|Sechskantschraube ½" verzinkt|40000|187500`,
			`3: 2|Flügelmutter M6 – 100 Stück|12500|406250`,
			`4: SO-240118|BIG RETAIL STORE 0412|DALLAS|22920|USD`,
			`5: 1|HEX BOLT 1/2 ZINC|12000|191000`}},
		{"orders-bad-numeric.txt", orders, []string{
			`1: SO-240117|Café Müller GmbH|KÖLN|123450|EUR`,
			`2: 1|Sechskantschraube ½" verzinkt|40000|187500`,
			`3: 2|Flügelmutter M6 – 100 Stück|I2500|406250`,
			`4: SO-240118|BIG RETAIL STORE 0412|DALLAS|22920|USD`,
			`5: 1|HEX BOLT 1/2 ZINC|12000|191000`,
			`6: flat: line 6: line matches no record of the layout`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "..", "testdata", "fixed", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f, tc.layout)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				_, vals, line, err := r.Read()
				if err == io.EOF {
					break
				}
				if errors.Is(err, ErrShortLine) {
					got = append(got, fmt.Sprintf("%d: %s (%v)", line, strings.Join(vals, "|"), err))
					continue
				}
				if err != nil {
					var pe *ParseError
					if !errors.As(err, &pe) || pe.Line != line {
						t.Fatalf("line %d: %v", line, err)
					}
					got = append(got, fmt.Sprintf("%d: %v", line, err))
					continue
				}
				got = append(got, fmt.Sprintf("%d: %s", line, strings.Join(vals, "|")))
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("%s:\n%s\nwant\n%s", tc.file, g, w)
			}
		})
	}
}
