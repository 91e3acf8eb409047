package mapping

import (
	"context"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/mapping/canonical"
)

// An ERP's item master as CSV: a layout for the master_data document,
// grouped by object, one record per line, the mode from a column.
func TestMasterDataCSVLayout(t *testing.T) {
	spec := LayoutSpec{Name: "erp-items", Format: "csv", Document: canonical.TypeMasterData, Delimiter: ";", Header: true, GroupBy: "object",
		Records: []RecordSpec{{Fields: []FieldSpec{
			{Path: "object", Column: 1},
			{Path: "mode", Column: 2},
			{Path: "records[].id", Column: 3},
			{Path: "records[].name", Column: 4},
			{Path: "records[].unit", Column: 5},
		}}}}
	p := DefaultProfile()
	l, err := NewRecordLayout(spec, p)
	if err != nil {
		t.Fatal(err)
	}
	csv := "object;mode;item;name;unit\nitem;full;A-1;SWEET CORN;case\nitem;full;B-2;ROTINI;each\n"
	var docs []canonical.Document
	out, err := FromRecords(context.Background(), strings.NewReader(csv), l, Options{Profile: p,
		Emit: func(d canonical.Document) error { docs = append(docs, d); return nil }})
	if err != nil || out.Documents != 1 || out.Errors != 0 {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	md := docs[0].(*canonical.MasterData)
	if md.Object != "item" || md.Mode != "full" || len(md.Records) != 2 || md.Records[1].ID != "B-2" || md.Records[1].Unit != "each" {
		t.Fatalf("master data = %s", jsonOf(t, md))
	}
}
