package x12_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
)

const sample = "ISA*00*          *00*          *ZZ*SHIPPER        *ZZ*CARRIER        *260102*0304*U*00401*000000007*0*P*>~\n" +
	"GS*QM*SHIPPER*CARRIER*20260102*0304*7*X*004010~\n" +
	"ST*214*0001~\nB10*PRO1*SHP1*ABCD~\nLX*1~\nAT7*X1*NS***20260102*1130*LT~\nSE*5*0001~\n" +
	"GE*1*7~\nIEA*1*000000007~\n"

func ExampleReader() {
	r := x12.NewReader(strings.NewReader(sample))
	for {
		seg, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		if seg.Is("AT7") {
			fmt.Printf("status %s on %s at set position %d\n", seg.Element(1), seg.Element(5), r.SetPosition())
		}
	}
	// Output: status X1 on 20260102 at set position 4
}

func ExampleChecker() {
	rep, err := (&x12.Checker{}).Check(context.Background(), x12.NewReader(strings.NewReader(sample)))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ic := range rep.Interchanges {
		for _, g := range ic.Groups {
			for _, s := range g.Sets {
				fmt.Println(ic.Control, g.Control, s.ID, s.Control, s.Status)
			}
		}
	}
	// Output: 000000007 7 214 0001 accepted
}

func ExampleWriteAcks() {
	rep, _ := (&x12.Checker{}).Check(context.Background(), x12.NewReader(strings.NewReader(sample)))
	x12.WriteAcks(context.Background(), os.Stdout, rep, x12.AckOptions{
		Kind: "997", Newline: true,
		Now: func() time.Time { return time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC) },
	})
	// Output:
	// ISA*00*          *00*          *ZZ*CARRIER        *ZZ*SHIPPER        *260102*0400*U*00401*000000001*0*P*>~
	// GS*FA*CARRIER*SHIPPER*20260102*0400*1*X*004010~
	// ST*997*0001~
	// AK1*QM*7~
	// AK2*214*0001~
	// AK5*A~
	// AK9*A*1*1*1~
	// SE*6*0001~
	// GE*1*1~
	// IEA*1*000000001~
}

func ExampleWriter() {
	w := x12.NewWriter(os.Stdout)
	w.Newline = true
	w.Numbers = &x12.MemoryControlNumbers{} // the store's counters in production
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	w.BeginInterchange(ctx, x12.ISAHeader{SenderID: "WHARF", ReceiverID: "CARRIER", Time: at})
	w.BeginGroup(ctx, x12.GSHeader{FunctionalID: "GF", Sender: "WHARF", Receiver: "CARRIER", Version: "004010", Time: at})
	w.BeginSet(ctx, "990", 0, "")
	w.WriteSegment("B1", "ABCD", "SHP1", "20260102", "A")
	w.EndSet()
	w.EndGroup()
	w.EndInterchange()
	// Output:
	// ISA*00*          *00*          *ZZ*WHARF          *ZZ*CARRIER        *260102*0304*U*00401*000000001*0*P*:~
	// GS*GF*WHARF*CARRIER*20260102*0304*1*X*004010~
	// ST*990*0001~
	// B1*ABCD*SHP1*20260102*A~
	// SE*3*0001~
	// GE*1*1~
	// IEA*1*000000001~
}

func ExampleReadAcks() {
	ack := "ISA*00*          *00*          *ZZ*CARRIER        *ZZ*WHARF          *260102*0400*U*00401*000000009*0*P*>~" +
		"GS*FA*CARRIER*WHARF*20260102*0400*9*X*004010~ST*997*0001~AK1*GF*1~AK2*990*0001~AK3*B1*2**8~AK4*4*558*7*Z~AK5*R*5~AK9*R*1*1*0~SE*8*0001~GE*1*9~IEA*1*000000009~"
	acks, _ := x12.ReadAcks(x12.NewReader(strings.NewReader(ack)))
	for _, g := range acks.Groups {
		for _, s := range g.Sets {
			fmt.Printf("group %s set %s %s: %s %s at %d\n", g.Control, s.ID, s.Control, s.Status, s.Errors[0].ID, s.Errors[0].Position)
		}
	}
	// Output: group 1 set 990 0001: rejected B1 at 2
}
