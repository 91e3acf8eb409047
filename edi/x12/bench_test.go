package x12

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

// benchInput is a generated logistics file of a few MB (bench/x12/gen's shape),
// built with the Writer so the benchmark needs no file.
func benchInput(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Newline = true
	w.Numbers = &MemoryControlNumbers{}
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		w.BeginInterchange(ctx, ISAHeader{SenderID: "A", ReceiverID: "B"})
		w.BeginGroup(ctx, GSHeader{FunctionalID: "SM", Sender: "A", Receiver: "B", Version: "004010"})
		for j := 0; j < 200; j++ {
			w.BeginSet(ctx, "204", 0, "")
			w.WriteSegment("B2", "", "ABCD", "", "SHP1", "", "PP")
			w.WriteSegment("B2A", "00", "LT")
			for k := 1; k <= 4; k++ {
				w.WriteSegment("S5", "1", "LD", "12000", "L", "10", "PC")
				w.WriteSegment("L11", "PO11", "PO")
				w.WriteSegment("G62", "69", "20260105", "U", "0800", "LT")
				w.WriteSegment("N1", "SH", "ACME DISTRIBUTION CENTER", "93", "DC01")
				w.WriteSegment("N3", "1200 INDUSTRIAL PARKWAY", "DOCK 7")
				w.WriteSegment("N4", "COLUMBUS", "OH", "43215", "US")
			}
			w.EndSet()
		}
		w.EndGroup()
		if err := w.EndInterchange(); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

func BenchmarkReader(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(in))
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCheck checks a generated input in memory or, with
// X12BENCHFILE=path, reads that file as the CLI does (for profiling).
func BenchmarkCheck(b *testing.B) {
	if f := os.Getenv("X12BENCHFILE"); f != "" {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Size())
		b.ReportAllocs()
		for b.Loop() {
			fh, err := os.Open(f)
			if err != nil {
				b.Fatal(err)
			}
			rep, err := (&Checker{Discard: true}).Check(context.Background(), NewReader(fh))
			fh.Close()
			if err != nil || rep.Rejected {
				b.Fatal(err, rep.Rejected)
			}
		}
		return
	}
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := (&Checker{Discard: true}).Check(context.Background(), NewReader(bytes.NewReader(in)))
		if err != nil || rep.Rejected || rep.Warnings {
			b.Fatal(err, rep.Rejected, rep.Warnings)
		}
	}
}

// BenchmarkCheckSmall checks one small interchange (a 1.5 KB 204 of the
// corpus), the usual inbound file: what a Reader costs to set up counts
// here, not its throughput.
func BenchmarkCheckSmall(b *testing.B) {
	in, err := os.ReadFile(corpusDir + "/004010/204.edi")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := (&Checker{Discard: true}).Check(context.Background(), NewReader(bytes.NewReader(in)))
		if err != nil || rep.Rejected {
			b.Fatal(err, rep.Rejected)
		}
	}
}
