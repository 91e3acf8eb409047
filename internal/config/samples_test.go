package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestSampleLayouts: the layouts of the repository's testdata/csv and
// testdata/fixed samples are valid configuration (mapping's sample tests
// read the files with them).
func TestSampleLayouts(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		layouts []string
		formats []string
	}{
		{"csv", []string{"erp-orders", "tms-status", "wms-inventory", "erp-invoices"}, []string{"csv", "csv", "csv", "csv"}},
		{"fixed", []string{"carrier-status", "as400-orders"}, []string{"flat", "flat"}},
	} {
		path := filepath.Join("..", "..", "testdata", tc.dir, "wharf.yaml")
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(ValidateOptions{}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var names, formats []string
		for _, l := range c.Layouts {
			names, formats = append(names, l.Name), append(formats, l.Format)
		}
		if !reflect.DeepEqual(names, tc.layouts) || !reflect.DeepEqual(formats, tc.formats) {
			t.Errorf("%s: layouts %v %v, want %v %v", path, names, formats, tc.layouts, tc.formats)
		}
	}
	c, _ := Load(filepath.Join("..", "..", "testdata", "csv", "wharf.yaml"))
	if l := c.Layout("wms-inventory"); l.Delimiter != "tab" || l.GroupBy != "report_id" || len(l.Records[0].Fields) != 8 {
		t.Errorf("wms-inventory = %+v", l)
	}
	if l := c.Layout("erp-invoices"); l.Encoding != "windows-1252" || l.Records[1].Kind != "detail" || l.Records[1].TagColumn != 1 {
		t.Errorf("erp-invoices = %+v", l)
	}
}
