package storetest

import (
	"context"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
)

func exerciseInstances(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("Instances", func(t *testing.T) {
		s, _ := open(t)
		a := &store.Instance{ID: "inst-a", Host: "node1", PID: 101, Version: "test"}
		b := &store.Instance{ID: "inst-b", Host: "node2", PID: 202, Version: "test"}
		for _, in := range []*store.Instance{a, b, a} { // a's second call is its heartbeat
			if err := s.BeatInstance(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != "inst-a" || got[1].ID != "inst-b" || got[0].Host != "node1" || got[1].PID != 202 {
			t.Fatalf("instances: %+v", got)
		}
		if got[0].HeartbeatAt.Before(got[0].StartedAt) || got[0].StartedAt.IsZero() {
			t.Fatalf("instance times: %+v", got[0])
		}
		// Two survivors declaring b gone: only one removes it.
		if ok, err := s.RemoveInstance(ctx, "inst-b"); err != nil || !ok {
			t.Fatalf("first removal: %v %v", ok, err)
		}
		if ok, err := s.RemoveInstance(ctx, "inst-b"); err != nil || ok {
			t.Fatalf("second removal: %v %v, want false", ok, err)
		}
		if got, _ := s.Instances(ctx); len(got) != 1 {
			t.Fatalf("after removal: %+v", got)
		}
	})
}
