package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
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
	t.Run("PartnerTokens", func(t *testing.T) {
		s, _ := open(t)
		for _, bad := range []*store.APIToken{
			{ID: "p1", Role: store.RolePartner, Hash: "h1", Scopes: []string{store.ScopeShipmentsRead}},            // no partner
			{ID: "p1", Role: store.RolePartner, Hash: "h1", Partner: "acme"},                                       // no scope
			{ID: "p1", Role: store.RolePartner, Hash: "h1", Partner: "acme", Scopes: []string{"shipments:delete"}}, // unknown scope
			{ID: "p1", Role: store.RoleAuditor, Hash: "h1", Partner: "acme"},                                       // partner on another role
			{ID: "p1", Role: store.RoleOperator, Hash: "h1", Scopes: []string{store.ScopeShipmentsRead}},           // scopes on another role
		} {
			if err := s.CreateToken(ctx, bad); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%+v: got %v, want ErrInvalid", bad, err)
			}
		}
		p := &store.APIToken{ID: "p1", Name: "acme portal", Role: store.RolePartner, Hash: "h1", Partner: "acme",
			Scopes: []string{store.ScopeShipmentsRead, store.ScopeDocumentsWrite}}
		if err := s.CreateToken(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateToken(ctx, &store.APIToken{ID: "a1", Role: store.RoleAuditor, Hash: "h2"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != store.RolePartner || got.Partner != "acme" || !slices.Equal(got.Scopes, p.Scopes) ||
			!got.HasScope(store.ScopeDocumentsWrite) || got.HasScope(store.ScopeOrdersRead) {
			t.Fatalf("partner token read back as %+v", got)
		}
		if got, _ = s.TokenByHash(ctx, "h2"); got.Partner != "" || got.Scopes != nil {
			t.Fatalf("auditor token read back with partner or scopes: %+v", got)
		}
		list, err := s.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tk := range list {
			if tk.ID == "p1" && tk.Partner == "acme" && len(tk.Scopes) == 2 {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("list lost the partner token's binding: %+v", list)
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
	t.Run("HourlyStats", func(t *testing.T) {
		s, _ := open(t)
		base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		type msg struct {
			partner  string
			dir      store.Direction
			status   lifecycle.Status
			received time.Duration // after base
			settled  time.Duration // after received; 0: no settling event
			kind     lifecycle.EventKind
		}
		for i, c := range []msg{
			{"acme", store.Inbound, "processed", 5 * time.Minute, 2 * time.Second, lifecycle.EventMapped},
			{"acme", store.Inbound, "rejected", 20 * time.Minute, 4 * time.Second, lifecycle.EventMapped},
			{"acme", store.Outbound, "delivered", 59 * time.Minute, 30 * time.Second, lifecycle.EventDelivered},
			{"acme", store.Outbound, "received", 61 * time.Minute, 0, ""},
			{"bolt", store.Outbound, "dead_letter", 90 * time.Minute, 10 * time.Minute, lifecycle.EventDeadLetter},
			{"acme", store.Inbound, "processed", -2 * time.Hour, time.Second, lifecycle.EventMapped}, // before since
		} {
			m := &store.Message{PartnerID: c.partner, Direction: c.dir, Transport: "sftp", Status: c.status, SHA256: "00", BlobRef: "fs:x", ReceivedAt: base.Add(c.received)}
			if err := s.InsertMessage(ctx, m); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			// A later event of another kind does not count.
			if err := s.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventValidated, At: m.ReceivedAt.Add(time.Second / 2)}); err != nil {
				t.Fatal(err)
			}
			if c.kind != "" {
				for _, at := range []time.Duration{c.settled, c.settled + time.Hour} { // the first one counts
					if err := s.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: c.kind, At: m.ReceivedAt.Add(at)}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		hs, err := s.HourlyStats(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hs {
			got = append(got, fmt.Sprintf("%s %s in %d out %d errors %d settled %d sum %s max %s", h.PartnerID, h.Hour.Format("15:04"), h.In, h.Out, h.Errors, h.Settled, h.LatencySum, h.LatencyMax))
		}
		want := []string{
			"acme 10:00 in 2 out 1 errors 1 settled 3 sum 36s max 30s",
			"acme 11:00 in 0 out 1 errors 0 settled 0 sum 0s max 0s",
			"bolt 11:00 in 0 out 1 errors 1 settled 1 sum 10m0s max 10m0s",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("hourly stats:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !hs[0].Hour.Equal(base) || hs[0].Hour.Location() != time.UTC {
			t.Fatalf("hour %v, want %v", hs[0].Hour, base)
		}
	})
}
