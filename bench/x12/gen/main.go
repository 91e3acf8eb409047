// Command gen writes a large logistics X12 file for benchmarks: interchanges
// of 204, 214, 210, 940 and 945 groups, valid against Wharf's schemas.
//
//	go run ./bench/x12/gen -mb 200 -o /tmp/x12-200.edi
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
)

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	mb := flag.Int64("mb", 200, "approximate size in MiB")
	out := flag.String("o", "", "output file")
	setsPerGroup := flag.Int("sets", 200, "transaction sets per group")
	flag.Parse()
	if *out == "" {
		log.Fatal("gen: -o FILE required")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	cnt := &counter{}
	w := x12.NewWriter(&teeWriter{bw, cnt})
	w.Newline = true
	w.Numbers = &x12.MemoryControlNumbers{}
	w.Partner = "bench"
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	kinds := []struct{ id, fg string }{{"204", "SM"}, {"214", "QM"}, {"210", "IM"}, {"940", "OW"}, {"945", "SW"}}
	limit := *mb << 20
	seq := 0
	for cnt.n < limit {
		must(w.BeginInterchange(ctx, x12.ISAHeader{SenderID: "SHIPPERCO", ReceiverID: "CARRIERCO", Time: t0}))
		for _, k := range kinds {
			must(w.BeginGroup(ctx, x12.GSHeader{FunctionalID: k.fg, Sender: "SHIPPERCO", Receiver: "CARRIERCO", Version: "004010", Time: t0}))
			for i := 0; i < *setsPerGroup; i++ {
				seq++
				must(w.BeginSet(ctx, k.id, 0, ""))
				body(w, k.id, seq)
				must(w.EndSet())
			}
			must(w.EndGroup())
		}
		must(w.EndInterchange())
	}
	must(bw.Flush())
	must(f.Close())
	fmt.Fprintf(os.Stderr, "gen: wrote %s (%d bytes, %d transaction sets)\n", *out, cnt.n, seq)
}

type teeWriter struct {
	w *bufio.Writer
	c *counter
}

func (t *teeWriter) Write(p []byte) (int, error) { t.c.Write(p); return t.w.Write(p) }

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func seg(w *x12.Writer, id string, e ...string) { must(w.WriteSegment(id, e...)) }

func body(w *x12.Writer, id string, n int) {
	ref := "SHP" + strconv.Itoa(n)
	stop := func(i int, typ string) {
		seg(w, "S5", strconv.Itoa(i), typ, "12000", "L", "10", "PC")
		seg(w, "L11", "PO"+strconv.Itoa(n*10+i), "PO")
		seg(w, "G62", "69", "20260105", "U", "0800", "LT")
		seg(w, "N1", "SH", "ACME DISTRIBUTION CENTER", "93", "DC0"+strconv.Itoa(i))
		seg(w, "N3", "1200 INDUSTRIAL PARKWAY", "DOCK 7")
		seg(w, "N4", "COLUMBUS", "OH", "43215", "US")
		seg(w, "G61", "SH", "RECEIVING DESK", "TE", "6145550100")
	}
	switch id {
	case "204":
		seg(w, "B2", "", "ABCD", "", ref, "", "PP")
		seg(w, "B2A", "00", "LT")
		seg(w, "L11", ref, "BM")
		seg(w, "G62", "64", "20260104", "1", "1000", "LT")
		seg(w, "MS3", "ABCD", "B", "", "M")
		seg(w, "NTE", "LOI", "HANDLE WITH CARE; CALL 30 MIN BEFORE ARRIVAL")
		seg(w, "N7", "", "TRAILER53", "", "", "", "", "", "", "", "", "TV")
		for i := 1; i <= 4; i++ {
			typ := "LD"
			if i > 2 {
				typ = "UL"
			}
			stop(i, typ)
		}
		seg(w, "L3", "48000", "G", "", "", "125000", "", "", "", "", "", "", "L")
	case "214":
		seg(w, "B10", "PRO"+strconv.Itoa(n), ref, "ABCD")
		seg(w, "L11", ref, "BM")
		seg(w, "N1", "SH", "ACME DISTRIBUTION CENTER", "93", "DC01")
		seg(w, "N4", "COLUMBUS", "OH", "43215", "US")
		for i := 1; i <= 5; i++ {
			seg(w, "LX", strconv.Itoa(i))
			seg(w, "AT7", "X6", "NS", "", "", "20260105", "1130", "LT")
			seg(w, "MS1", "DAYTON", "OH", "US")
			seg(w, "MS2", "ABCD", "TRAILER53")
			seg(w, "AT8", "G", "L", "12000", "10")
		}
	case "210":
		seg(w, "B3", "", "INV"+strconv.Itoa(n), ref, "PP", "", "20260106", "125000", "", "20260105", "035", "ABCD")
		seg(w, "C3", "USD")
		seg(w, "N9", "BM", ref)
		seg(w, "G62", "86", "20260105")
		seg(w, "N1", "BT", "ACME LOGISTICS ACCOUNTS PAYABLE", "93", "AP01")
		seg(w, "N3", "PO BOX 4400")
		seg(w, "N4", "CHICAGO", "IL", "60601", "US")
		for i := 1; i <= 4; i++ {
			seg(w, "LX", strconv.Itoa(i))
			seg(w, "L5", strconv.Itoa(i), "GENERAL FREIGHT NOI", "", "", "", "", "", "", "")
			seg(w, "L0", strconv.Itoa(i), "", "", "12000", "G", "", "", "10", "PLT", "", "L")
			seg(w, "L1", strconv.Itoa(i), "1.25", "PH", "31250")
		}
		seg(w, "L3", "48000", "G", "", "", "125000", "", "", "", "", "", "", "L")
	case "940":
		seg(w, "W05", "N", "ORD"+strconv.Itoa(n), "PO"+strconv.Itoa(n))
		seg(w, "N1", "ST", "RETAIL STORE 1042", "92", "1042")
		seg(w, "N3", "55 MARKET STREET")
		seg(w, "N4", "SPRINGFIELD", "IL", "62701", "US")
		seg(w, "N9", "PO", "PO"+strconv.Itoa(n))
		seg(w, "G62", "10", "20260107")
		seg(w, "W66", "PP", "M", "", "", "", "", "", "", "", "ABCD")
		for i := 1; i <= 5; i++ {
			seg(w, "LX", strconv.Itoa(i))
			seg(w, "W01", strconv.Itoa(10*i), "CA", "00012345678905", "VN", "SKU"+strconv.Itoa(i), "UK", "10012345678902")
			seg(w, "G69", "WIDGET ASSORTMENT CASE OF 12")
		}
		seg(w, "W76", "150", "1800", "LB")
	case "945":
		seg(w, "W06", "N", "ORD"+strconv.Itoa(n), "20260108", "SHP"+strconv.Itoa(n), "WH"+strconv.Itoa(n), "PO"+strconv.Itoa(n))
		seg(w, "N1", "ST", "RETAIL STORE 1042", "92", "1042")
		seg(w, "N4", "SPRINGFIELD", "IL", "62701", "US")
		seg(w, "G62", "11", "20260108")
		seg(w, "W27", "M", "ABCD", "ROUTING")
		for i := 1; i <= 5; i++ {
			seg(w, "LX", strconv.Itoa(i))
			seg(w, "W12", "CC", strconv.Itoa(10*i), strconv.Itoa(10*i), "", "CA", "00012345678905", "VN", "SKU"+strconv.Itoa(i))
		}
		seg(w, "W03", "150", "1800", "LB")
	}
}
