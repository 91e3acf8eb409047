package sync_test

import (
	"context"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// A run marked as a message's first processing skips the lookup of what an
// earlier run applied. When the mark is wrong (a replay's job ran first, a
// paused instance went on after it was failed over), the document's
// record finds the earlier one and the run fails, recording nothing, so
// that a retry, which looks, takes over; the document is applied once.
func TestFirstRunAfterAnEarlierRun(t *testing.T) {
	testenv.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		e := &wsync.Engine{Store: st, Rules: &wsync.Rules{}}
		m := inboundFile(t, st, "erp", "orders.json")
		d, err := canonical.Decode([]byte(`{"type":"order","version":"1","order_number":"SO-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Apply(store.WithFirstRun(ctx), m, 1, d); err != nil { // a true first run
			t.Fatal(err)
		}
		if err := e.Apply(store.WithFirstRun(ctx), m, 1, d); err == nil { // a wrong mark
			t.Fatal("a run wrongly marked first applied the document again")
		}
		if err := e.Apply(ctx, m, 1, d); err != nil { // the retry, which looks
			t.Fatal(err)
		}
		evs, err := st.SyncEvents(ctx, "order", "SO-1")
		if err != nil || len(evs) != 1 || evs[0].Event != "order.created" {
			var kinds []string
			for _, ev := range evs {
				kinds = append(kinds, ev.Event)
			}
			t.Fatalf("order SO-1's history %v (%v), want order.created once", kinds, err)
		}
	})
}
