package app

import (
	"context"
	"fmt"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

// firstTokenName names the token firstAdminToken creates, in lists and
// audit events.
const firstTokenName = "first admin (wharf serve)"

// firstAdminToken creates an admin token when the database has neither an
// API token nor a console user, as on a new installation, so that the
// console and the API can be reached at once. It returns the token ("" when
// there was a token or a user already).
func firstAdminToken(ctx context.Context, st store.Store) (string, *store.APIToken, error) {
	ts, err := st.ListTokens(ctx)
	if err != nil {
		return "", nil, err
	}
	us, err := st.ListUsers(ctx)
	if err != nil || len(ts) > 0 || len(us) > 0 {
		return "", nil, err
	}
	tok, t, err := web.MintToken(ctx, st, store.RoleAdmin, firstTokenName)
	if err != nil {
		return "", nil, fmt.Errorf("first admin token: %w", err)
	}
	_ = st.AppendAudit(ctx, &store.AuditEvent{Actor: "wharf", Kind: "token_created",
		Detail: fmt.Sprintf("token %s (%s), role %s: no token or user existed", t.ID, t.Name, t.Role)})
	return tok, t, nil
}
