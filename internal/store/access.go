package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The access tables (migration 0009): API tokens and console users. The
// store keeps only a token's SHA-256 and a user's bcrypt hash; minting and
// checking secrets is the caller's (internal/web).

// Roles, from least to most powerful.
const (
	RoleAuditor  = "auditor"  // read-only; may download originals and run verify
	RoleOperator = "operator" // also acts on exceptions and replays
	RoleAdmin    = "admin"    // everything
)

// Roles are the roles, as messages list them.
var Roles = []string{RoleAdmin, RoleOperator, RoleAuditor}

// RolePartner is the role of a partner token (migration 0019): bound to one
// partner, it reaches only the API routes its scopes name, and of those only
// the partner's own objects and messages. It never signs in to the console.
const RolePartner = "partner"

// Scopes a partner token may carry: RESOURCE:read or documents:write.
const (
	ScopeMessagesRead   = "messages:read"
	ScopeOrdersRead     = "orders:read"
	ScopeShipmentsRead  = "shipments:read"
	ScopeInvoicesRead   = "invoices:read"
	ScopeInventoryRead  = "inventory:read"
	ScopeDocumentsWrite = "documents:write"
)

// Scopes are the scopes, as messages list them.
var Scopes = []string{ScopeMessagesRead, ScopeOrdersRead, ScopeShipmentsRead, ScopeInvoicesRead, ScopeInventoryRead, ScopeDocumentsWrite}

// ValidScopes reports whether every scope is one of [Scopes] and there is
// at least one.
func ValidScopes(scopes []string) error {
	if len(scopes) == 0 {
		return Invalid("a partner token needs at least one scope: use %s", strings.Join(Scopes, ", "))
	}
	for _, sc := range scopes {
		if !slices.Contains(Scopes, sc) {
			return Invalid("scope %q: use %s", sc, strings.Join(Scopes, ", "))
		}
	}
	return nil
}

// ValidRole reports whether r is admin, operator or auditor.
func ValidRole(r string) error {
	switch r {
	case RoleAdmin, RoleOperator, RoleAuditor:
		return nil
	}
	return Invalid("role %q: use admin, operator or auditor", r)
}

// APIToken is a bearer token's record. The secret itself is never stored.
type APIToken struct {
	ID         string // short public prefix of the token, shown in lists
	Name       string
	Role       string
	Hash       string // hex SHA-256 of the whole token
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: valid
	// Partner binds a token of role partner to one partner ID; "" for the
	// other roles.
	Partner string
	// Scopes are a partner token's scopes ([Scopes]); nil for the others.
	Scopes []string
}

// HasScope reports whether the token carries the scope.
func (t *APIToken) HasScope(sc string) bool { return slices.Contains(t.Scopes, sc) }

// User is a person who signs in to the console with a password.
type User struct {
	Name         string
	Role         string
	PasswordHash string // bcrypt
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AccessQueries are the token and user operations, part of [Queries].
type AccessQueries interface {
	// CreateToken records a token; ErrConflict when the ID or hash exists.
	CreateToken(ctx context.Context, t *APIToken) error
	// TokenByHash finds a token by its hash, revoked or not; ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// ListTokens returns every token, newest first.
	ListTokens(ctx context.Context) ([]*APIToken, error)
	// RevokeToken marks the token revoked (again: no change) and ends the
	// console sessions opened with it (actor "token:ID..."); ErrNotFound.
	RevokeToken(ctx context.Context, id string) error
	// TouchToken records a use of the token.
	TouchToken(ctx context.Context, id string, at time.Time) error

	// UpsertUser creates the user or replaces its role and password hash.
	UpsertUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, name string) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error)

	// CreateSession records a console sign-in (expired ones are removed).
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the unexpired session with the hash; ErrNotFound.
	GetSession(ctx context.Context, hash string, at time.Time) (*Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// Session is a console sign-in. The cookie holds a random secret; Hash is
// its hex SHA-256. CSRF is the token every form of the session carries.
type Session struct {
	Hash      string
	Actor     string // "user:NAME" or "token:ID"
	Role      string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession implements AccessQueries.
func (s *queries) CreateSession(ctx context.Context, se *Session) error {
	if err := ValidRole(se.Role); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	t := s.now()
	if _, err := s.q.exec(ctx, `DELETE FROM console_sessions WHERE expires_at < $1`, t); err != nil {
		return s.err("create session", err)
	}
	se.CreatedAt = t
	se.ExpiresAt = se.ExpiresAt.UTC().Truncate(time.Microsecond)
	_, err := s.q.exec(ctx, `INSERT INTO console_sessions (hash, actor, role, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		se.Hash, se.Actor, se.Role, se.CSRF, se.CreatedAt, se.ExpiresAt)
	return s.err("create session", err)
}

// GetSession implements AccessQueries.
func (s *queries) GetSession(ctx context.Context, hash string, at time.Time) (*Session, error) {
	se := &Session{}
	err := s.q.queryRow(ctx, `SELECT hash, actor, role, csrf, created_at, expires_at FROM console_sessions WHERE hash = $1 AND expires_at > $2`,
		hash, at.UTC()).Scan(&se.Hash, &se.Actor, &se.Role, &se.CSRF, timeCol{&se.CreatedAt}, timeCol{&se.ExpiresAt})
	if err != nil {
		return nil, s.err("session", err)
	}
	return se, nil
}

// DeleteSession implements AccessQueries.
func (s *queries) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.q.exec(ctx, `DELETE FROM console_sessions WHERE hash = $1`, hash)
	return s.err("delete session", err)
}

// CreateToken implements AccessQueries.
func (s *queries) CreateToken(ctx context.Context, t *APIToken) error {
	if t.Role == RolePartner {
		if t.Partner == "" {
			return fmt.Errorf("store: create token: %w: a partner token needs its partner", ErrInvalid)
		}
		if err := ValidScopes(t.Scopes); err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
	} else if err := ValidRole(t.Role); err != nil {
		return fmt.Errorf("store: create token: %w", err)
	} else if t.Partner != "" || len(t.Scopes) > 0 {
		return fmt.Errorf("store: create token: %w: only a token of role partner has a partner and scopes", ErrInvalid)
	}
	if t.ID == "" || t.Hash == "" {
		return fmt.Errorf("store: create token: %w: id and hash are required", ErrInvalid)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	t.CreatedAt = t.CreatedAt.UTC().Truncate(time.Microsecond)
	_, err := s.q.exec(ctx, `INSERT INTO api_tokens (id, name, role, hash, created_at, partner, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.Name, t.Role, t.Hash, t.CreatedAt, t.Partner, strings.Join(t.Scopes, ","))
	return s.err("create token", err)
}

const tokenCols = `id, name, role, hash, created_at, last_used_at, revoked_at, partner, scopes`

func scanToken(r rowScanner) (*APIToken, error) {
	t := &APIToken{}
	var scopes string
	err := r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, timeCol{&t.CreatedAt}, timeCol{&t.LastUsedAt}, timeCol{&t.RevokedAt}, &t.Partner, &scopes)
	if scopes != "" {
		t.Scopes = strings.Split(scopes, ",")
	}
	return t, err
}

// TokenByHash implements AccessQueries.
func (s *queries) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	t, err := scanToken(s.q.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, s.err("token", err)
	}
	return t, nil
}

// ListTokens implements AccessQueries.
func (s *queries) ListTokens(ctx context.Context) ([]*APIToken, error) {
	rows, err := s.q.query(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, s.err("list tokens", err)
	}
	defer rows.Close()
	var out []*APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.err("list tokens", err)
		}
		out = append(out, t)
	}
	return out, s.err("list tokens", rows.Err())
}

// RevokeToken implements AccessQueries. Console sessions opened with the
// token end with it.
func (s *queries) RevokeToken(ctx context.Context, id string) error {
	return s.atomic(ctx, func(q *queries) error {
		n, err := q.q.exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, s.now())
		if err != nil {
			return q.err("revoke token", err)
		}
		if n == 0 {
			return fmt.Errorf("store: revoke token %s: %w", id, ErrNotFound)
		}
		_, err = q.q.exec(ctx, `DELETE FROM console_sessions WHERE actor = $1 OR actor LIKE $2`, "token:"+id, "token:"+id+" (%")
		return q.err("revoke token", err)
	})
}

// TouchToken implements AccessQueries.
func (s *queries) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.q.exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, at.UTC().Truncate(time.Microsecond))
	return s.err("touch token", err)
}

// UpsertUser implements AccessQueries.
func (s *queries) UpsertUser(ctx context.Context, u *User) error {
	if err := ValidRole(u.Role); err != nil {
		return fmt.Errorf("store: user %s: %w", u.Name, err)
	}
	if u.Name == "" || u.PasswordHash == "" {
		return fmt.Errorf("store: user: %w: name and password hash are required", ErrInvalid)
	}
	t := s.now()
	_, err := s.q.exec(ctx, `INSERT INTO console_users (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
		u.Name, u.Role, u.PasswordHash, t)
	if err != nil {
		return s.err("upsert user", err)
	}
	got, err := s.GetUser(ctx, u.Name)
	if err != nil {
		return err
	}
	*u = *got
	return nil
}

const userCols = `name, role, password_hash, created_at, updated_at`

func scanUser(r rowScanner) (*User, error) {
	u := &User{}
	err := r.Scan(&u.Name, &u.Role, &u.PasswordHash, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	return u, err
}

// GetUser implements AccessQueries.
func (s *queries) GetUser(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.q.queryRow(ctx, `SELECT `+userCols+` FROM console_users WHERE name = $1`, name))
	if err != nil {
		return nil, s.err("user "+name, err)
	}
	return u, nil
}

// ListUsers implements AccessQueries.
func (s *queries) ListUsers(ctx context.Context) ([]*User, error) {
	rows, err := s.q.query(ctx, `SELECT `+userCols+` FROM console_users ORDER BY name`)
	if err != nil {
		return nil, s.err("list users", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.err("list users", err)
		}
		out = append(out, u)
	}
	return out, s.err("list users", rows.Err())
}
