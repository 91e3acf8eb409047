package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/wharfedi/wharf/internal/store"
)

// exerciseIDs covers finding messages, exceptions and tokens by a prefix
// of their ID.
func exerciseIDs(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("IDPrefixes", func(t *testing.T) {
		s, _ := open(t)
		for _, id := range []string{"0199aa00-1", "0199aa00-2", "0199ab00-1", "0199ab"} {
			if err := s.InsertMessage(ctx, &store.Message{ID: id, PartnerID: "acme", Direction: store.Inbound, Transport: "cli"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RaiseException(ctx, &store.Exception{ID: "0199aa00-9", Reason: "mapping"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, &store.APIToken{ID: "a1b2c3d4", Role: store.RoleAuditor, Hash: "h"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			kind  store.IDKind
			s     string
			limit int
			want  []string
		}{
			{store.MessageIDs, "0199aa00-2", 10, []string{"0199aa00-2"}},
			{store.MessageIDs, "0199ab", 10, []string{"0199ab"}}, // an exact ID wins over the longer ones it begins
			{store.MessageIDs, "0199a", 10, []string{"0199aa00-1", "0199aa00-2", "0199ab", "0199ab00-1"}},
			{store.MessageIDs, "0199a", 2, []string{"0199aa00-1", "0199aa00-2"}},
			{store.MessageIDs, "0199ab0", 10, []string{"0199ab00-1"}},
			{store.MessageIDs, "0199%", 10, nil}, // no wildcards
			{store.MessageIDs, "0199_a", 10, nil},
			{store.MessageIDs, "1", 10, nil},
			{store.ExceptionIDs, "0199", 10, []string{"0199aa00-9"}},
			{store.TokenIDs, "a1b", 10, []string{"a1b2c3d4"}},
		} {
			got, err := s.MatchIDs(ctx, tc.kind, tc.s, tc.limit)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("MatchIDs(%s, %q, %d) = %q, %v; want %q", tc.kind, tc.s, tc.limit, got, err, tc.want)
			}
		}
		if _, err := s.MatchIDs(ctx, "partner", "a", 1); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown kind: %v", err)
		}
		if id, err := store.ResolveID(ctx, s, store.MessageIDs, "0199ab0"); err != nil || id != "0199ab00-1" {
			t.Errorf("ResolveID unique prefix: %q %v", id, err)
		}
		if _, err := store.ResolveID(ctx, s, store.MessageIDs, "7"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveID unknown: %v", err)
		}
		var amb *store.AmbiguousIDError
		if _, err := store.ResolveID(ctx, s, store.MessageIDs, "0199aa"); !errors.As(err, &amb) || !slices.Equal(amb.Candidates, []string{"0199aa00-1", "0199aa00-2"}) || amb.More {
			t.Errorf("ResolveID ambiguous: %v", err)
		}
	})
}
