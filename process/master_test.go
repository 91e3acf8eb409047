package process_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/process"
	wsync "github.com/wharfedi/wharf/sync"
)

// The ERP's item master arrives as a canonical JSON file like any other
// inbound file; a partner's 850 ordering an item the master does not
// know is held with a master_data exception; once a delta adds the item,
// the same file processed again is applied and routed.
func TestMasterDataFromAFileChecksAnOrder(t *testing.T) {
	clock := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	flowtest.ForEachDB(t, archive.Options{Now: now}, []string{"acme", "erp"}, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		snd := &routed{}
		rules := &wsync.Rules{Roles: map[string]string{"erp": "erp"}, Ownership: map[string][]string{"item_master": {"erp"}},
			Master: map[string]string{"item": wsync.MasterHold},
			Routes: []wsync.Route{{Name: "to-wms", On: "order.created", To: "wms", Send: "json"}}}
		eng := &wsync.Engine{Store: e.Store, Rules: rules, Sender: snd, Now: now}
		p := &process.Processor{Archive: e.Archive, Store: e.Store, Now: now,
			Profile: func(string) *mapping.Profile { return mapping.DefaultProfile() }, Emit: eng.Apply}
		run := func(partner, name, body string) string {
			t.Helper()
			en, err := e.Archive.Put(ctx, strings.NewReader(body), archive.Meta{Partner: partner, Direction: store.Inbound, Transport: "folder", RemoteName: name})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Process(ctx, en.ID); err != nil {
				t.Fatal(err)
			}
			return en.ID
		}
		order := func() bool {
			_, err := e.Store.GetSyncObject(ctx, "order", "PO-48213")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		// The corpus 850 orders ACM-CV-1001 and ACM-PS-2040 (by UPC and vendor part), in cases.
		run("erp", "items.json", `{"type":"master_data","version":"1","object":"item","mode":"full","records":[{"id":"ACM-CV-1001","unit":"case"}]}`)
		if n, err := e.Store.CountMasterRecords(ctx, "item"); err != nil || n != 1 {
			t.Fatalf("item master from the file: %d %v", n, err)
		}
		b, err := os.ReadFile("../testdata/x12/004010/850.edi")
		if err != nil {
			t.Fatal(err)
		}
		id := run("acme", "850.edi", string(b))
		ex, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Reason: "master_data", MessageID: id})
		if err != nil || len(ex) != 1 || !strings.Contains(ex[0].Detail, "item 012345678912 / ACM-PS-2040 is not in the item master") {
			t.Fatalf("master_data exception: %+v %v", ex, err)
		}
		if order() || len(snd.sent) != 0 {
			t.Fatal("a held order was applied or routed")
		}
		run("erp", "items-delta.json", `{"type":"master_data","version":"1","object":"item","records":[{"id":"ACM-PS-2040","unit":"case"}]}`)
		if err := p.Process(ctx, id); err != nil { // the retry of the exception
			t.Fatal(err)
		}
		if !order() || len(snd.sent) != 1 {
			t.Fatalf("after the master learned the item: order %v, %d routed", order(), len(snd.sent))
		}
	})
}
