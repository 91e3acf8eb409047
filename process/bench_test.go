package process_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/process"
)

// BenchmarkProcessX12 is the processing stage for one small inbound X12 204
// as `wharf serve` runs it for a partner with default settings: validation,
// control numbers, keys, the 997 archived as an outbound document, mapping
// to canonical documents. Each iteration processes a message archived
// before the timer starts (each with its own ISA13 and GS06).
func BenchmarkProcessX12(b *testing.B) {
	for _, driver := range testenv.Drivers {
		b.Run(driver, func(b *testing.B) {
			ctx := context.Background()
			st := testenv.OpenStore(b, driver)
			fsb, err := archive.NewFS(filepath.Join(b.TempDir(), "archive"))
			if err != nil {
				b.Fatal(err)
			}
			a, err := archive.New(st, archive.Options{Blobs: fsb})
			if err != nil {
				b.Fatal(err)
			}
			p := &process.Processor{Archive: a, Store: st,
				Profile: func(string) *mapping.Profile { return mapping.DefaultProfile() }}
			ids := make([]string, b.N)
			for i := range ids {
				doc := strings.NewReplacer("000000077", fmt.Sprintf("%09d", i+1), "*77*", fmt.Sprintf("*%d*", i+1), "GE*1*77", fmt.Sprintf("GE*1*%d", i+1)).Replace(load204)
				e, err := a.Put(ctx, strings.NewReader(doc), archive.Meta{Partner: "acme", Transport: "sftp", RemoteName: fmt.Sprintf("inbound/load%06d.edi", i)})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = e.ID
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, id := range ids {
				if err := p.Process(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if m, err := st.GetMessage(ctx, ids[len(ids)-1]); err != nil || m.Status != lifecycle.StatusProcessed {
				b.Fatalf("last message: %+v %v", m, err)
			}
			if ms, _ := st.SearchMessages(ctx, store.MessageFilter{Direction: store.Outbound, Limit: 1}); len(ms) != 1 {
				b.Fatalf("no 997 archived")
			}
		})
	}
}
