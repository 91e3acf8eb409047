package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// exerciseObjects covers the API's business-object lists: every filter,
// the partner rule (a refused update does not make an object the sender's)
// and keyset paging.
func exerciseObjects(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("FindSyncObjects", func(t *testing.T) {
		s, _ := open(t)
		put := func(key, state, data string, events ...[2]string) {
			t.Helper()
			if err := s.PutSyncObject(ctx, &store.SyncObject{Kind: "shipment", Key: key, State: state, Data: data}); err != nil {
				t.Fatal(err)
			}
			for _, ev := range events {
				if err := s.AppendSyncEvent(ctx, &store.SyncEvent{Kind: "shipment", Key: key, Event: ev[0], System: ev[1]}); err != nil {
					t.Fatal(err)
				}
			}
		}
		put("SH1", "delivered", `{"carrier":"acme","billing":"held"}`, [2]string{"shipment.delivered", "acme"})
		put("SH2", "planned", `{"carrier":"globex"}`, [2]string{"shipment.planned", "globex"}, [2]string{"refused", "acme"})
		put("SH3", "shipped", `{"carrier":"acme","billing":"released"}`, [2]string{"shipment.shipped", "acme"})
		if err := s.PutSyncObject(ctx, &store.SyncObject{Kind: "order", Key: "O1", State: "created"}); err != nil {
			t.Fatal(err)
		}
		due := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if _, err := s.StartSyncTimer(ctx, &store.SyncTimer{Name: "delivery", Kind: "shipment", Key: "SH3", DueAt: due, Owner: "operations"}); err != nil {
			t.Fatal(err)
		}
		keys := func(f store.SyncObjectFilter) []string {
			t.Helper()
			os, err := s.FindSyncObjects(ctx, &f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range os {
				if o.Kind != f.Kind {
					t.Fatalf("%+v: got a %s", f, o.Kind)
				}
				out = append(out, o.Key)
			}
			slices.Sort(out)
			return out
		}
		after, before := due.Add(time.Hour), due.Add(-time.Hour)
		for _, c := range []struct {
			f    store.SyncObjectFilter
			want []string
		}{
			{store.SyncObjectFilter{Kind: "shipment"}, []string{"SH1", "SH2", "SH3"}},
			{store.SyncObjectFilter{Kind: "order"}, []string{"O1"}},
			{store.SyncObjectFilter{Kind: "invoice"}, nil},
			{store.SyncObjectFilter{Kind: "shipment", Key: "SH2"}, []string{"SH2"}},
			{store.SyncObjectFilter{Kind: "shipment", State: "planned"}, []string{"SH2"}},
			{store.SyncObjectFilter{Kind: "shipment", Partner: "acme"}, []string{"SH1", "SH3"}},
			{store.SyncObjectFilter{Kind: "shipment", Partner: "globex"}, []string{"SH2"}},
			{store.SyncObjectFilter{Kind: "shipment", Partner: "acme", Key: "SH2"}, nil},
			{store.SyncObjectFilter{Kind: "shipment", Held: "true"}, []string{"SH1"}},
			{store.SyncObjectFilter{Kind: "shipment", Held: "false"}, []string{"SH2", "SH3"}},
			{store.SyncObjectFilter{Kind: "shipment", Overdue: "true", Now: after}, []string{"SH3"}},
			{store.SyncObjectFilter{Kind: "shipment", Overdue: "true", Now: before}, nil},
			{store.SyncObjectFilter{Kind: "shipment", Overdue: "false", Now: after}, []string{"SH1", "SH2"}},
			{store.SyncObjectFilter{Kind: "shipment", UpdatedSince: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
			{store.SyncObjectFilter{Kind: "shipment", UpdatedSince: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"SH1", "SH2", "SH3"}},
		} {
			if got := keys(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
			}
		}
		// A breached timer is overdue whatever the time.
		if _, err := s.SettleSyncTimer(ctx, &store.SettleSyncTimerParams{Name: "delivery", Kind: "shipment", Key: "SH3", Status: "breached"}); err != nil {
			t.Fatal(err)
		}
		if got := keys(store.SyncObjectFilter{Kind: "shipment", Overdue: "true", Now: before}); !slices.Equal(got, []string{"SH3"}) {
			t.Errorf("breached: got %v", got)
		}
		// Pages of one, newest change first, meet every object once.
		var seen []string
		f := store.SyncObjectFilter{Kind: "shipment", Limit: 1}
		for range 5 {
			page, err := s.FindSyncObjects(ctx, &f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, page[0].Key)
			f.BeforeUpdated, f.BeforeKey = page[0].UpdatedAt, page[0].Key
		}
		slices.Sort(seen)
		if !slices.Equal(seen, []string{"SH1", "SH2", "SH3"}) {
			t.Errorf("paging met %v", seen)
		}
		if _, err := s.FindSyncObjects(ctx, &store.SyncObjectFilter{}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("no kind: got %v, want ErrInvalid", err)
		}
	})
}
