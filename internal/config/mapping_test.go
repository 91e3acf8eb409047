package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mappingYAML = `partners:
  - id: acme
    x12_ids: ["ZZ:ACME"]
    mapping:
      timezone: America/Chicago
      policy: reject
      codes:
        references: ["DJ=load_id"]
        status: ["X6=in_transit"]
      defaults: ["shipment.carrier=ABCD"]
      x12:
        sender: "ZZ:WHARF"
        version: "004010"
layouts:
  - name: erp-orders
    format: csv
    document: order
    encoding: windows-1252
    delimiter: ";"
    header: true
    decimal_separator: ","
    date_format: DD.MM.YYYY
    group_by: order_number
    records:
      - fields:
          - {path: order_number, column: 1}
          - {path: "lines[].quantity.value", column: 2, type: decimal}
`

func loadString(t *testing.T, y string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wharf.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	return c, c.Validate(ValidateOptions{})
}

func TestMappingConfig(t *testing.T) {
	c, err := loadString(t, mappingYAML)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Partner("acme").Mapping
	if m.Policy != "reject" || m.Codes.Tables()["references"]["DJ"] != "load_id" || c.Layout("erp-orders").Delimiter != ";" {
		t.Fatalf("decoded %+v / %+v", m, c.Layouts)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`timezone: America/Chicago`, `timezone: Mars/Base`, `:5: partners[0].mapping.timezone: unknown time zone`},
		{`policy: reject`, `policy: shrug`, `:6: partners[0].mapping.policy: "shrug"`},
		{`["DJ=load_id"]`, `["DJ"]`, `:8: partners[0].mapping.codes.references[0]: "DJ": expected CODE=canonical`},
		{`status: ["X6`, `stat: ["X6`, `:9: partners[0].mapping.codes.stat: unknown key "stat"`},
		{`shipment.carrier=ABCD`, `carrier=ABCD`, `:10: partners[0].mapping.defaults[0]`},
		{`sender: "ZZ:WHARF"`, `sender: "WHARF"`, `:12: partners[0].mapping.x12.sender`},
		{`version: "004010"`, `delimiters: "*>>~"`, `:13: partners[0].mapping.x12.delimiters: x12: delimiters "*>>~": the four must differ`},
		{`format: csv`, `format: xlsx`, `:16: layouts[0].format: "xlsx": use csv or flat`},
		{`document: order`, `document: memo`, `:17: layouts[0].document`},
		{`windows-1252`, `latin9`, `:18: layouts[0].encoding`},
		{`decimal_separator: ","`, `decimal_separator: "'"`, `:21: layouts[0].decimal_separator`},
		{`column: 2, type: decimal`, `column: 2, type: money`, `:27: layouts[0].records[0].fields[1].type: "money"`},
		{`{path: order_number, column: 1}`, `{path: order_number}`, `:26: layouts[0].records[0].fields[0].column`},
	} {
		y := strings.Replace(mappingYAML, tc.from, tc.to, 1)
		if y == mappingYAML {
			t.Fatalf("%q not in the fixture", tc.from)
		}
		_, err := loadString(t, y)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: error %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}
