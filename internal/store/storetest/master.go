package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
)

func exerciseMaster(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("MasterData", func(t *testing.T) {
		s, _ := open(t)
		rec := func(id, data string) *store.MasterRecord { return &store.MasterRecord{ID: id, Data: data} }
		if n, err := s.CountMasterRecords(ctx, "item"); err != nil || n != 0 {
			t.Fatalf("empty master: %d %v", n, err)
		}
		if _, err := s.GetMasterRecord(ctx, "item", "A-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown record: %v, want ErrNotFound", err)
		}
		if err := s.PutMasterRecords(ctx, &store.PutMasterParams{Object: "item", Full: true, MessageID: "m1",
			Records: []*store.MasterRecord{rec("A-1", `{"id":"A-1","unit":"each"}`), rec("B-2", `{"id":"B-2","unit":"case"}`)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutMasterRecords(ctx, &store.PutMasterParams{Object: "customer", Records: []*store.MasterRecord{rec("C1", `{"id":"C1"}`)}}); err != nil {
			t.Fatal(err)
		}
		if r, err := s.GetMasterRecord(ctx, "item", "B-2"); err != nil || r.Data != `{"id":"B-2","unit":"case"}` || r.MessageID != "m1" || r.UpdatedAt.IsZero() {
			t.Fatalf("get: %+v %v", r, err)
		}
		// A delta changes one, adds one and removes one.
		if err := s.PutMasterRecords(ctx, &store.PutMasterParams{Object: "item", MessageID: "m2",
			Records: []*store.MasterRecord{rec("A-1", `{"id":"A-1","unit":"case"}`), rec("C-3", `{"id":"C-3"}`)}, Delete: []string{"B-2"}}); err != nil {
			t.Fatal(err)
		}
		if r, err := s.GetMasterRecord(ctx, "item", "A-1"); err != nil || r.Data != `{"id":"A-1","unit":"case"}` || r.MessageID != "m2" {
			t.Fatalf("delta change: %+v %v", r, err)
		}
		if _, err := s.GetMasterRecord(ctx, "item", "B-2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delta delete: %v", err)
		}
		if n, _ := s.CountMasterRecords(ctx, "item"); n != 2 {
			t.Fatalf("after delta: %d items, want 2", n)
		}
		// A full load replaces the object's master, and only that object's.
		if err := s.PutMasterRecords(ctx, &store.PutMasterParams{Object: "item", Full: true, Records: []*store.MasterRecord{rec("Z-9", `{"id":"Z-9"}`)}}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountMasterRecords(ctx, "item"); n != 1 {
			t.Fatalf("after full: %d items, want 1", n)
		}
		if n, _ := s.CountMasterRecords(ctx, "customer"); n != 1 {
			t.Fatalf("a full item load touched customers: %d", n)
		}
		if err := s.PutMasterRecords(ctx, &store.PutMasterParams{Object: "item", Records: []*store.MasterRecord{rec("", "{}")}}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("no id: %v, want ErrInvalid", err)
		}
	})
}
