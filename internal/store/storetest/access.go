package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// exerciseAccess covers API tokens, console users and the overview's
// message counts.
func exerciseAccess(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("Tokens", func(t *testing.T) {
		s, _ := open(t)
		if err := s.CreateToken(ctx, &store.APIToken{ID: "t1", Role: "root", Hash: "h1"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad role: got %v, want ErrInvalid", err)
		}
		a := &store.APIToken{ID: "t1", Name: "ci", Role: store.RoleAdmin, Hash: "h1"}
		if err := s.CreateToken(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, &store.APIToken{ID: "t2", Role: store.RoleAuditor, Hash: "h1"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same hash twice: got %v, want ErrConflict", err)
		}
		if err := s.CreateToken(ctx, &store.APIToken{ID: "t2", Role: store.RoleAuditor, Hash: "h2", CreatedAt: a.CreatedAt.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "t1" || got.Name != "ci" || got.Role != store.RoleAdmin || !got.LastUsedAt.IsZero() || !got.RevokedAt.IsZero() || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.TokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown hash: got %v, want ErrNotFound", err)
		}
		if err := s.CreateSession(ctx, &store.Session{Hash: "s-t1", Actor: "token:t1 (ci)", Role: store.RoleAdmin, CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		used := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		if err := s.TouchToken(ctx, "t1", used); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke unknown: got %v, want ErrNotFound", err)
		}
		if _, err := s.GetSession(ctx, "s-t1", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session of a revoked token: got %v, want ErrNotFound", err)
		}
		got, _ = s.TokenByHash(ctx, "h1")
		if !got.LastUsedAt.Equal(used) || got.RevokedAt.IsZero() {
			t.Fatalf("after touch and revoke: %+v", got)
		}
		revoked := got.RevokedAt
		if err := s.RevokeToken(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.TokenByHash(ctx, "h1"); !got.RevokedAt.Equal(revoked) {
			t.Fatalf("second revoke moved revoked_at: %v -> %v", revoked, got.RevokedAt)
		}
		list, err := s.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != "t2" || list[1].ID != "t1" {
			t.Fatalf("list newest first: got %d tokens %v", len(list), list)
		}
	})
	t.Run("Users", func(t *testing.T) {
		s, _ := open(t)
		if err := s.UpsertUser(ctx, &store.User{Name: "ann", Role: "boss", PasswordHash: "x"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad role: got %v, want ErrInvalid", err)
		}
		u := &store.User{Name: "ann", Role: store.RoleOperator, PasswordHash: "$2a$hash1"}
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if u.CreatedAt.IsZero() {
			t.Fatalf("upsert did not fill CreatedAt: %+v", u)
		}
		if err := s.UpsertUser(ctx, &store.User{Name: "ann", Role: store.RoleAdmin, PasswordHash: "$2a$hash2"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != store.RoleAdmin || got.PasswordHash != "$2a$hash2" || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.GetUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown user: got %v, want ErrNotFound", err)
		}
		if us, err := s.ListUsers(ctx); err != nil || len(us) != 1 {
			t.Fatalf("list users: %v %v", us, err)
		}
	})
	t.Run("Sessions", func(t *testing.T) {
		s, _ := open(t)
		now := time.Now().UTC()
		se := &store.Session{Hash: "s1", Actor: "user:ann", Role: store.RoleAuditor, CSRF: "c1", ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx, "s1", now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Actor != "user:ann" || got.Role != store.RoleAuditor || got.CSRF != "c1" || !got.ExpiresAt.Equal(se.ExpiresAt) {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.GetSession(ctx, "s1", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSession(ctx, "s1", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted session: got %v, want ErrNotFound", err)
		}
	})
	t.Run("MessageStats", func(t *testing.T) {
		s, _ := open(t)
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		for i, m := range []*store.Message{
			{PartnerID: "acme", Direction: store.Inbound, Transport: "sftp", Size: 10, Status: "processed", ReceivedAt: now.Add(-time.Hour)},
			{PartnerID: "acme", Direction: store.Inbound, Transport: "sftp", Size: 5, Status: "processed", ReceivedAt: now.Add(-2 * time.Hour)},
			{PartnerID: "acme", Direction: store.Outbound, Transport: "as2", Size: 7, Status: "dead_letter", ReceivedAt: now.Add(-3 * time.Hour)},
			{PartnerID: "acme", Direction: store.Inbound, Transport: "sftp", Size: 1, Status: "processed", ReceivedAt: now.Add(-48 * time.Hour)},
		} {
			m.SHA256 = "00"
			m.BlobRef = "fs:x"
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		st, err := s.MessageStats(ctx, now.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 2 {
			t.Fatalf("want 2 groups, got %d", len(st))
		}
		in, out := st[1], st[0] // ordered by transport: as2, sftp
		if in.Transport != "sftp" || in.Count != 2 || in.Bytes != 15 || in.Status != "processed" || in.Direction != store.Inbound {
			t.Fatalf("sftp group: %+v", in)
		}
		if out.Transport != "as2" || out.Count != 1 || out.Status != "dead_letter" {
			t.Fatalf("as2 group: %+v", out)
		}
	})
}
