package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

const certA = "-----BEGIN CERTIFICATE-----\nQUFB\n-----END CERTIFICATE-----\n"
const certB = "-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----\n"

// exerciseAS2 covers partners' AS2 names and certificates and the AS2
// message bookkeeping (duplicate Message-IDs, async MDN matching, timeouts).
func exerciseAS2(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()
	t.Run("PartnerAS2", func(t *testing.T) {
		s, _ := open(t)
		if err := s.SetPartnerAS2(ctx, &store.PartnerAS2{PartnerID: "ghost", AS2ID: "GHOST"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown partner: got %v, want ErrNotFound", err)
		}
		for _, id := range []string{"acme", "bolt"} {
			if err := s.UpsertPartner(ctx, &store.Partner{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetPartnerAS2(ctx, &store.PartnerAS2{PartnerID: "acme", AS2ID: "ACME AS2", CertsPEM: []string{certA, certB}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.PartnerByAS2ID(ctx, "ACME AS2")
		if err != nil {
			t.Fatal(err)
		}
		if got.PartnerID != "acme" || len(got.CertsPEM) != 2 || got.CertsPEM[0] != certA || got.CertsPEM[1] != certB {
			t.Fatalf("got %+v", got)
		}
		if err := s.SetPartnerAS2(ctx, &store.PartnerAS2{PartnerID: "bolt", AS2ID: "ACME AS2"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("AS2 name of another partner: got %v, want ErrConflict", err)
		}
		// Upserting the partner (CLI or config) keeps its AS2 settings.
		if err := s.UpsertPartner(ctx, &store.Partner{ID: "acme", Name: "ACME"}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetPartnerAS2(ctx, "acme"); err != nil || got.AS2ID != "ACME AS2" {
			t.Fatalf("after upsert: %+v %v", got, err)
		}
		if _, err := s.PartnerByAS2ID(ctx, "NOBODY"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown AS2 name: %v", err)
		}
	})
	t.Run("AS2Messages", func(t *testing.T) {
		s, _ := open(t)
		in := &store.AS2Message{PartnerID: "acme", AS2MessageID: "<1@acme>", Direction: store.Inbound, RawID: "raw1", MessageID: "pay1", MIC: "x, sha-256", Disposition: "processed", MDNMode: "sync", Status: "mdn-pending"}
		if err := s.PutAS2Message(ctx, in); err != nil {
			t.Fatal(err)
		}
		in.MDNID, in.Status = "mdn1", "mdn-sent"
		if err := s.PutAS2Message(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetAS2Message(ctx, "acme", "<1@acme>", store.Inbound)
		if err != nil {
			t.Fatal(err)
		}
		if got.MDNID != "mdn1" || got.Status != "mdn-sent" || got.RawID != "raw1" || !got.Deadline.IsZero() || got.CreatedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.GetAS2Message(ctx, "acme", "<1@acme>", store.Outbound); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other direction: %v", err)
		}
		if got, err := s.AS2MessageByArchiveID(ctx, "mdn1"); err != nil || got.AS2MessageID != "<1@acme>" {
			t.Fatalf("by MDN id: %+v %v", got, err)
		}
		now := time.Now().UTC()
		out := &store.AS2Message{PartnerID: "acme", AS2MessageID: "<2@wharf>", Direction: store.Outbound, MessageID: "out1", MDNMode: "async", Status: "pending", Deadline: now.Add(-time.Minute)}
		later := &store.AS2Message{PartnerID: "acme", AS2MessageID: "<3@wharf>", Direction: store.Outbound, MessageID: "out2", MDNMode: "async", Status: "pending", Deadline: now.Add(time.Hour)}
		for _, m := range []*store.AS2Message{out, later} {
			if err := s.PutAS2Message(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		due, err := s.OverdueAS2Messages(ctx, "pending", now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].AS2MessageID != "<2@wharf>" || due[0].Deadline.Sub(out.Deadline).Abs() > time.Millisecond {
			t.Fatalf("overdue: %+v", due)
		}
	})
	t.Run("AS2PendingMDNs", func(t *testing.T) {
		s, dsn := open(t)
		now := time.Now().UTC()
		if err := s.AddAS2PendingMDN(ctx, &store.AS2PendingMDN{PartnerID: "acme", AS2MessageID: "<x@wharf>"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("no deadline: got %v, want ErrInvalid", err)
		}
		due := &store.AS2PendingMDN{PartnerID: "acme", AS2MessageID: "<4@wharf>", MessageID: "out4", MIC: "m4, sha-256", SignedMDN: true, Deadline: now.Add(-time.Minute)}
		older := &store.AS2PendingMDN{PartnerID: "bolt", AS2MessageID: "<5@wharf>", MessageID: "out5", Deadline: now.Add(-time.Hour)}
		later := &store.AS2PendingMDN{PartnerID: "acme", AS2MessageID: "<6@wharf>", MessageID: "out6", Deadline: now.Add(time.Hour)}
		for _, p := range []*store.AS2PendingMDN{due, older, later} {
			if err := s.AddAS2PendingMDN(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		// Adding again (a retried send) replaces, it does not duplicate.
		if err := s.AddAS2PendingMDN(ctx, due); err != nil {
			t.Fatal(err)
		}
		// Pending MDNs survive a restart: a second handle on the same database sees them.
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		got, err := s2.GetAS2PendingMDN(ctx, "acme", "<4@wharf>")
		if err != nil {
			t.Fatal(err)
		}
		if got.MessageID != "out4" || got.MIC != "m4, sha-256" || !got.SignedMDN || got.Deadline.Sub(due.Deadline).Abs() > time.Millisecond || got.CreatedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
		if _, err := s.GetAS2PendingMDN(ctx, "bolt", "<4@wharf>"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another partner's Message-ID: %v", err)
		}
		// The MDN takes its entry once; a repeated MDN finds nothing.
		took, err := s.TakeAS2PendingMDN(ctx, "acme", "<6@wharf>")
		if err != nil || took.MessageID != "out6" || took.SignedMDN {
			t.Fatalf("take: %+v %v", took, err)
		}
		if _, err := s.TakeAS2PendingMDN(ctx, "acme", "<6@wharf>"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second take: %v", err)
		}
		// The overdue check takes what is past its deadline, oldest first, once.
		over, err := s.TakeOverdueAS2MDNs(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(over) != 2 || over[0].AS2MessageID != "<5@wharf>" || over[1].AS2MessageID != "<4@wharf>" {
			t.Fatalf("overdue: %+v", over)
		}
		if again, err := s.TakeOverdueAS2MDNs(ctx, now, 10); err != nil || len(again) != 0 {
			t.Fatalf("overdue twice: %+v %v", again, err)
		}
		if _, err := s.TakeAS2PendingMDN(ctx, "acme", "<4@wharf>"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an MDN after the timeout took the entry: %v", err)
		}
		// Inside a transaction that rolls back, a take is undone.
		if err := s.AddAS2PendingMDN(ctx, later); err != nil {
			t.Fatal(err)
		}
		errRollback := errors.New("rollback")
		if err := s.WithTx(ctx, func(tx store.Tx) error {
			if _, err := tx.TakeAS2PendingMDN(ctx, "acme", "<6@wharf>"); err != nil {
				return err
			}
			return errRollback
		}); !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if _, err := s.GetAS2PendingMDN(ctx, "acme", "<6@wharf>"); err != nil {
			t.Fatalf("rolled-back take lost the entry: %v", err)
		}
	})
}
