package app

import (
	"context"
	"fmt"
	"log/slog"

	_ "time/tzdata" // schedules name IANA time zones; containers may lack zoneinfo

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
)

// syncPartners upserts the partners declared in the config file; partners
// added with the CLI stay as they are.
func syncPartners(ctx context.Context, c *config.Config, st store.Store, log *slog.Logger) error {
	ps, err := c.StorePartners()
	if err != nil {
		return err
	}
	return st.WithTx(ctx, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.UpsertPartner(ctx, p); err != nil {
				return fmt.Errorf("config partner %s: %w", p.ID, err)
			}
		}
		if len(ps) > 0 {
			log.Info("partners from config applied", "count", len(ps))
		}
		return nil
	})
}
