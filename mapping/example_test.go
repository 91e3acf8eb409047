package mapping_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
)

func ExampleFromX12() {
	in := `ISA*00*          *00*          *ZZ*SHIPPER        *ZZ*CARRIER        *260102*0304*U*00401*000000001*0*P*>~
GS*QM*SHIPPER*CARRIER*20260102*0304*1*X*004010~
ST*214*0001~
B10*PRO123*SHP1*ABCD~
LX*1~
AT7*D1*NS***20260105*1130*LT~
MS1*DAYTON*OH*US~
SE*6*0001~
GE*1*1~
IEA*1*000000001~`
	p, _ := mapping.NewProfile(mapping.ProfileSpec{Partner: "acme", TimeZone: "America/New_York"})
	out, err := mapping.FromX12(context.Background(), strings.NewReader(in), mapping.Options{Profile: p,
		Emit: func(d canonical.Document) error {
			s := d.(*canonical.ShipmentStatus)
			fmt.Println(s.ShipmentID, s.References[0].Type, s.References[0].Value, s.Events[0].Status, s.Events[0].Time)
			return nil
		}})
	fmt.Println(out.Documents, out.Errors, err)
	// Output:
	// SHP1 pro PRO123 delivered 2026-01-05T11:30:00-05:00
	// 1 0 <nil>
}

func ExampleJSONLines() {
	jl := mapping.NewJSONLines(os.Stdout)
	d := canonical.New(canonical.TypeTenderResponse).(*canonical.TenderResponse)
	d.ShipmentID, d.Action = "SHP1", "accepted"
	jl.Emit(d)
	jl.Close()
	// Output:
	// {"type":"tender_response","version":"1","shipment_id":"SHP1","action":"accepted"}
}
