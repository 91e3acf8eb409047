package csv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSamples reads the CSV samples of the repository's testdata/csv (see
// its README.md; their full layouts are in testdata/csv/wharf.yaml) with
// the parts of their layouts this package sees, and checks records, lines
// and errors: BOM, CRLF, Windows-1252, semicolons, tabs, quoted commas and
// line breaks, rows with missing columns, lines no record matches.
func TestSamples(t *testing.T) {
	one := func(comma rune, header bool, enc string, cols ...int) *Layout {
		return &Layout{Comma: comma, Header: header, Encoding: enc, Records: []Record{{Columns: cols}}}
	}
	invoices := &Layout{Comma: ';', Encoding: Windows1252, Records: []Record{
		{Kind: "header", Tag: "H", TagColumn: 1, Columns: []int{2, 5, 8}},
		{Kind: "detail", Tag: "D", TagColumn: 1, Columns: []int{3, 4, 7}}}}
	tests := []struct {
		file   string
		layout *Layout
		want   []string // "LINE: value|value|..." per record, "LINE: error" per error
	}{
		{"orders.csv", one(',', true, "", 1, 4, 13, 14), []string{
			`2: SO-240117|Acme Hardware, Inc.|Hex bolt 1/2" zinc, box of 100|40`,
			`3: SO-240117|Acme Hardware, Inc.|Wing nut M6|1,200`,
			`4: SO-240117|Acme Hardware, Inc.|Pallet jack 2.5t|1`,
			`5: SO-240118|Big Retail Co|Hex bolt 1/2" zinc, box of 100|12`,
			`6: SO-240119|Big Retail Co|Tape 48mm clear|96`,
			`7: SO-240119|Big Retail Co|Tape 48mm brown|48`}},
		{"orders-bom.csv", one(',', true, UTF8, 1, 16), []string{
			`2: SO-240117|18.75`, `3: SO-240117|0.0825`, `4: SO-240117|489.00`,
			`5: SO-240118|19.10`, `6: SO-240119|2.15`, `7: SO-240119|2.15`}},
		{"orders-embedded-newline.csv", one(',', true, "", 1, 5, 13, 14), []string{
			`2: SO-240117|Acme DC 4|Hex bolt 1/2" zinc\nbox of 100, fragile|40`,
			`4: SO-240117|Acme DC 4|Wing nut M6|twelve`,
			`5: SO-240118|Store 0412\nReceiving door 3|Hex bolt|12`}},
		{"orders-missing-column.csv", one(',', true, "", 1, 12, 14, 16), []string{
			`2: SO-240117|HB-1020|40|18.75`, `3: SO-240117|WN-0550||`, `4: |HB-1020|12|19.10`}},
		// An inch mark closes the quoted description early: an error at the
		// line the quoted field starts (column 13), and reading goes on at
		// the next line instead of the field swallowing the rest of the file.
		{"orders-unterminated-quote.csv", one(',', true, "", 1, 14), []string{
			`2: csv: line 2 column 13: unbalanced quote: the field quoted from character 108 is closed at character 121 and " zinc,40,cas…" follows instead of the delimiter or the line end (write a quote inside a quoted field as "")`,
			`3: SO-240118|12`, `4: SO-240119|96`}},
		{"shipment-status.csv", one(',', true, "", 1, 4, 8), []string{
			`2: L-778120|departed_pickup|`, `3: L-778120|in_transit|`, `4: L-778120|delivered|M. GARCIA`,
			`5: L-778121|departed_pickup|`, `6: L-778121|delayed|`}},
		{"inventory-snapshot.tsv", one('\t', true, "", 4, 5, 7), []string{
			`2: HB-1020|Hex bolt 1/2" zinc, box of 100|1,240`, `3: HB-1020|Hex bolt 1/2" zinc, box of 100|300`,
			`4: WN-0550|Wing nut M6|18,000`, `5: PL-9000|Pallet jack 2.5t|4`}},
		{"invoices.csv", invoices, []string{
			`1: RE-2026-10451|Café Müller GmbH|1.234,50`, `2: HB-1020|Sechskantschraube ½" verzinkt|18,75`,
			`3: WN-0550|Flügelmutter M6 – 100 Stück|40,625`, `4: RE-2026-10452|Bäckerei Groß|89,90`,
			`5: TS-0001|Klebeband 48 mm, transparent|8,99`}},
		{"invoices-errors.csv", invoices, []string{
			`1: RE-2026-10451|Café Müller GmbH|1.234,50`, `2: HB-1020|Sechskantschraube ½" verzinkt|18,75`,
			`3: WN-0550|Flügelmutter M6 – 100 Stück|40,62€`, `4: RE-2026-10452|Bäckerei Groß|89,90`,
			`5: TS-0001|Klebeband 48 mm, transparent|8,99`, `6: csv: line 6: line matches no record of the layout`}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "..", "testdata", "csv", tc.file))
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
				if err != nil {
					var pe *ParseError
					if !errors.As(err, &pe) || pe.Line != line {
						t.Fatalf("line %d: %v", line, err)
					}
					got = append(got, fmt.Sprintf("%d: %v", line, err))
					continue
				}
				got = append(got, fmt.Sprintf("%d: %s", line, strings.ReplaceAll(strings.Join(vals, "|"), "\n", `\n`)))
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("%s:\n%s\nwant\n%s", tc.file, g, w)
			}
		})
	}
}
