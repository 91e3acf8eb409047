package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports/as2"
)

// The partner directory refuses a disabled partner's AS2 name with
// as2.ErrPartnerDisabled (the endpoint answers 403), and finds it again
// once it is enabled.
func TestDirectoryRefusesDisabledPartners(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPartnerAS2(ctx, &store.PartnerAS2{PartnerID: "acme", AS2ID: "ACME AS2"}); err != nil {
		t.Fatal(err)
	}
	d := &directory{c: &config.Config{}, st: st}
	if p, err := d.ByAS2ID(ctx, "ACME AS2"); err != nil || p.ID != "acme" {
		t.Fatalf("enabled: %v %v", p, err)
	}
	if err := st.SetPartnerDisabled(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ByAS2ID(ctx, "ACME AS2"); !errors.Is(err, as2.ErrPartnerDisabled) {
		t.Fatalf("disabled: want ErrPartnerDisabled, got %v", err)
	}
	if err := st.SetPartnerDisabled(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ByAS2ID(ctx, "ACME AS2"); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
}
