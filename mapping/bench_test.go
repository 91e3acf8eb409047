package mapping

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"testing"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping/canonical"
)

func benchInput(b *testing.B, set string, n int) []byte {
	g := &gen{r: rand.New(rand.NewSource(1)), loc: DefaultProfile().Location}
	docs := make([]canonical.Document, n)
	for i := range docs {
		docs[i] = g.doc(set)
	}
	return render(b, DefaultProfile(), set, docs...)
}

// BenchmarkFromX12 maps 204s and 214s to JSON Lines (bytes/s = input bytes).
func BenchmarkFromX12(b *testing.B) {
	for _, set := range []string{"204", "214"} {
		b.Run(set, func(b *testing.B) {
			in := benchInput(b, set, 500)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			emit := discardJSON()
			for i := 0; i < b.N; i++ {
				if _, err := FromX12(context.Background(), bytes.NewReader(in), Options{Emit: emit}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkToX12 renders 500 generated 204s and 214s into one interchange
// (bytes/s = output bytes): "picked" lets the renderer choose delimiters
// that occur in no value (it holds the segments until Close), "pinned"
// streams with the partner's delimiters.
func BenchmarkToX12(b *testing.B) {
	for _, set := range []string{"204", "214"} {
		g := &gen{r: rand.New(rand.NewSource(1)), loc: DefaultProfile().Location}
		docs := make([]canonical.Document, 500)
		for i := range docs {
			docs[i] = g.doc(set)
		}
		for _, mode := range []string{"picked", "pinned"} {
			b.Run(set+"/"+mode, func(b *testing.B) {
				p := *DefaultProfile()
				if mode == "pinned" {
					p.Envelope.Delimiters = x12.Delimiters{Element: 0x1D, Component: 0x1F, Repetition: 0x1E, Segment: 0x1C}
				}
				b.SetBytes(int64(len(render(b, &p, set, docs...))))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					render(b, &p, set, docs...)
				}
			})
		}
	}
}

// BenchmarkFromX12Small maps one small interchange (a 1.5 KB 204 of the
// corpus), the usual inbound file: setup costs count here, not throughput.
func BenchmarkFromX12Small(b *testing.B) {
	in, err := os.ReadFile("../testdata/x12/004010/204.edi")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	emit := discardJSON()
	for b.Loop() {
		out, err := FromX12(context.Background(), bytes.NewReader(in), Options{Emit: emit})
		if err != nil || out.Documents != 1 {
			b.Fatal(err, out)
		}
	}
}

// discardJSON is an Emit that renders each document as JSON, as the
// processing stage does, into a buffer it reuses, and discards it.
func discardJSON() func(canonical.Document) error {
	var buf []byte
	return func(d canonical.Document) (err error) {
		buf, err = canonical.AppendJSON(buf[:0], d)
		io.Discard.Write(buf)
		return err
	}
}
