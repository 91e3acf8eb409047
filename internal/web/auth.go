package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharfedi/wharf/internal/store"
)

// Tokens look like wharf_<id>_<secret>: the id (8 hex digits) names the
// token in lists and audit events; the store keeps only the SHA-256 of the
// whole string.
const tokenPrefix = "wharf_"

// MintToken creates a bearer token of the role, records its hash and
// returns the token (shown once) and its record.
func MintToken(ctx context.Context, st store.Queries, role, name string) (string, *store.APIToken, error) {
	if err := store.ValidRole(role); err != nil {
		return "", nil, err
	}
	return mint(ctx, st, &store.APIToken{Name: name, Role: role})
}

// mint gives t a fresh ID and secret, records it with the secret's hash
// and returns the token (shown once) and t.
func mint(ctx context.Context, st store.Queries, t *store.APIToken) (string, *store.APIToken, error) {
	t.ID = randText(4, hex.EncodeToString)
	tok := tokenPrefix + t.ID + "_" + randText(32, base64.RawURLEncoding.EncodeToString)
	t.Hash = hashSecret(tok)
	if err := st.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// MintPartnerToken creates a partner token: bound to the partner, it
// reaches only the routes its scopes name and of those only the partner's
// objects and messages.
func MintPartnerToken(ctx context.Context, st store.Queries, partner string, scopes []string, name string) (string, *store.APIToken, error) {
	if err := store.ValidScopes(scopes); err != nil {
		return "", nil, err
	}
	if _, err := st.GetPartner(ctx, partner); err != nil {
		return "", nil, fmt.Errorf("partner %q: %w", partner, err)
	}
	return mint(ctx, st, &store.APIToken{Name: name, Role: store.RolePartner, Partner: partner, Scopes: scopes})
}

func randText(n int, enc func([]byte) string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return enc(b)
}

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// HashPassword returns the bcrypt hash of a console user's password.
func HashPassword(pw string) (string, error) {
	if len(pw) < 12 {
		return "", fmt.Errorf("password too short: use at least 12 characters")
	}
	if len(pw) > 72 {
		return "", fmt.Errorf("password too long: bcrypt reads at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// principal is who makes a request.
type principal struct {
	Actor   string // "token:ID (name)" or "user:NAME"
	Role    string
	Session *store.Session // console sign-ins only
	// Partner and Scopes bind a partner token (Role partner): it passes
	// no role check, only the scope checks of the routes that name one.
	Partner string
	Scopes  []string
}

// hasScope reports whether p is a partner token carrying the scope.
func (p *principal) hasScope(sc string) bool {
	return p != nil && p.Partner != "" && slices.Contains(p.Scopes, sc)
}

var roleRank = map[string]int{store.RoleAuditor: 1, store.RoleOperator: 2, store.RoleAdmin: 3}

// can reports whether p's role reaches need.
func (p *principal) can(need string) bool { return p != nil && roleRank[p.Role] >= roleRank[need] }

var errUnauthenticated = errors.New("unauthenticated")

// tokenPrincipal checks a bearer token and records its use (at most once a minute).
func (s *Server) tokenPrincipal(ctx context.Context, tok string) (*principal, error) {
	if !strings.HasPrefix(tok, tokenPrefix) {
		return nil, errUnauthenticated
	}
	t, err := s.st.TokenByHash(ctx, hashSecret(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !t.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: token %s was revoked on %s", errUnauthenticated, t.ID, t.RevokedAt.Format(time.RFC3339))
	}
	now := s.now()
	if now.Sub(t.LastUsedAt) > time.Minute {
		_ = s.st.TouchToken(ctx, t.ID, now)
	}
	actor := "token:" + t.ID
	if t.Name != "" {
		actor += " (" + t.Name + ")"
	}
	return &principal{Actor: actor, Role: t.Role, Partner: t.Partner, Scopes: t.Scopes}, nil
}

// passwordPrincipal checks a console user's password.
func (s *Server) passwordPrincipal(ctx context.Context, name, pw string) (*principal, error) {
	u, err := s.st.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same time as a wrong password, so names cannot be probed.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pw))
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) != nil {
		return nil, errUnauthenticated
	}
	return &principal{Actor: "user:" + u.Name, Role: u.Role}, nil
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("wharf-no-such-user"), bcrypt.DefaultCost)
	return h
})

const sessionCookie = "wharf_session"

// sessionTTL is how long a console sign-in lasts.
const sessionTTL = 12 * time.Hour

// startSession signs p in to the console: a new session row and its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	secret := randText(32, base64.RawURLEncoding.EncodeToString)
	se := &store.Session{Hash: hashSecret(secret), Actor: p.Actor, Role: p.Role,
		CSRF: randText(24, base64.RawURLEncoding.EncodeToString), ExpiresAt: s.now().Add(sessionTTL)}
	if err := s.st.CreateSession(r.Context(), se); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, Expires: se.ExpiresAt})
	p.Session = se
	return nil
}

// sessionPrincipal returns the console session of the request's cookie.
func (s *Server) sessionPrincipal(r *http.Request) (*principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errUnauthenticated
	}
	se, err := s.st.GetSession(r.Context(), hashSecret(c.Value), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	return &principal{Actor: se.Actor, Role: se.Role, Session: se}, nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = s.st.DeleteSession(r.Context(), hashSecret(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// validCSRF compares a form's CSRF token with the session's.
func validCSRF(p *principal, got string) bool {
	return p != nil && p.Session != nil && got != "" &&
		subtle.ConstantTimeCompare([]byte(p.Session.CSRF), []byte(got)) == 1
}

// bearer returns the request's Authorization: Bearer token, if any.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
