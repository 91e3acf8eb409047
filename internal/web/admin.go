package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Administration, for admins, in the API and the console alike: API
// tokens (create, shown once; revoke), console users (add, change role or
// password) and the audit log. Each change is an audit event with the
// same kind as its CLI twin ('wharf token', 'wharf user').

// tokenOut is an API token as lists show it (never its secret).
type tokenOut struct {
	ID         string     `json:"id" doc:"the token's public prefix (wharf_ID_...), as audit events name it"`
	Name       string     `json:"name"`
	Role       string     `json:"role" enum:"auditor,operator,admin,partner"`
	Partner    string     `json:"partner,omitempty" doc:"a partner token: the partner it is bound to"`
	Scopes     []string   `json:"scopes,omitempty" doc:"a partner token: its scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at" nullable:"true" doc:"null: never used (recorded at most once a minute)"`
	RevokedAt  *time.Time `json:"revoked_at" nullable:"true" doc:"null: valid"`
}

type tokensOut struct {
	Tokens []tokenOut `json:"tokens"`
}

// tokenIn is the body of POST /api/v1/tokens.
type tokenIn struct {
	Name string `json:"name" doc:"what it is for (named in lists and audit events)"`
	Role string `json:"role" enum:"auditor,operator,admin,partner"`
	// A partner token's binding (role partner only).
	Partner string   `json:"partner,omitempty" doc:"role partner: the partner ID the token is bound to"`
	Scopes  []string `json:"scopes,omitempty" doc:"role partner: messages:read, orders:read, shipments:read, invoices:read, inventory:read, documents:write"`
}

// tokenCreatedOut is a new token: the only time its secret is shown.
type tokenCreatedOut struct {
	Token string `json:"token" doc:"the bearer token itself; shown only now, the server keeps its sha256 only"`
	tokenOut
}

type userOut struct {
	Name      string    `json:"name"`
	Role      string    `json:"role" enum:"auditor,operator,admin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type usersOut struct {
	Users []userOut `json:"users"`
}

// userIn is the body of PUT /api/v1/users/{name}.
type userIn struct {
	Role     string `json:"role" enum:"auditor,operator,admin"`
	Password string `json:"password" doc:"at least 12 characters; stored as a bcrypt hash"`
}

func tokenJSON(t *store.APIToken) tokenOut {
	o := tokenOut{ID: t.ID, Name: t.Name, Role: t.Role, Partner: t.Partner, Scopes: t.Scopes, CreatedAt: t.CreatedAt.UTC()}
	if !t.LastUsedAt.IsZero() {
		u := t.LastUsedAt.UTC()
		o.LastUsedAt = &u
	}
	if !t.RevokedAt.IsZero() {
		r := t.RevokedAt.UTC()
		o.RevokedAt = &r
	}
	return o
}

// CreateToken mints a token of role named name, as p.
func (s *Server) CreateToken(ctx context.Context, p *principal, r *http.Request, name, role string) (string, *store.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, badRequest("the token needs a name", "say what it is for, e.g. monitoring or erp-sync")
	}
	if store.ValidRole(role) != nil {
		return "", nil, badRequest(fmt.Sprintf("role %q is not a role", role), "use one of: auditor, operator, admin")
	}
	tok, t, err := MintToken(ctx, s.st, role, name)
	if err != nil {
		return "", nil, err
	}
	s.audit(ctx, p, r, "token_created", fmt.Sprintf("token %s (%s), role %s", t.ID, t.Name, t.Role))
	return tok, t, nil
}

// CreatePartnerToken mints a partner token named name, bound to partner
// with scopes, as p.
func (s *Server) CreatePartnerToken(ctx context.Context, p *principal, r *http.Request, name, partner string, scopes []string) (string, *store.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, badRequest("the token needs a name", "say who uses it, e.g. acme-portal")
	}
	if partner == "" {
		return "", nil, badRequest("partner: required for role partner", "name the partner ID the token is bound to")
	}
	if err := store.ValidScopes(scopes); err != nil {
		return "", nil, badRequest("scopes: "+strings.TrimPrefix(err.Error(), "store: "), "")
	}
	tok, t, err := MintPartnerToken(ctx, s.st, partner, scopes, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, badRequest(fmt.Sprintf("partner: %q is not a partner", partner), "see GET /api/v1/partners")
	}
	if err != nil {
		return "", nil, err
	}
	s.audit(ctx, p, r, "token_created", fmt.Sprintf("token %s (%s), role partner, partner %s, scopes %s", t.ID, t.Name, t.Partner, strings.Join(t.Scopes, ",")))
	return tok, t, nil
}

// RevokeToken revokes a token (its console sessions end too), as p.
func (s *Server) RevokeToken(ctx context.Context, p *principal, r *http.Request, id string) error {
	if err := s.st.RevokeToken(ctx, id); err != nil {
		return err
	}
	s.audit(ctx, p, r, "token_revoked", "token "+id)
	return nil
}

// SetUser adds a console user or changes its role and password, as p.
func (s *Server) SetUser(ctx context.Context, p *principal, r *http.Request, name, role, password string) (*store.User, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, badRequest("the user needs a name", "the name people sign in with")
	}
	if store.ValidRole(role) != nil {
		return nil, badRequest(fmt.Sprintf("role %q is not a role", role), "use one of: auditor, operator, admin")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, badRequest(err.Error(), "a passphrase of at least 12 characters")
	}
	u := &store.User{Name: name, Role: role, PasswordHash: hash}
	if err := s.st.UpsertUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, p, r, "user_set", fmt.Sprintf("user %s, role %s", u.Name, u.Role))
	return s.st.GetUser(ctx, name)
}

// readJSON decodes a request body strictly into v.
func readJSON(r *http.Request, v any, example string) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("body: empty", "send JSON like "+example)
		}
		return badRequest("body: "+err.Error(), "send JSON like "+example)
	}
	return nil
}

func (s *Server) mountAdminAPI() {
	admin := store.RoleAdmin
	s.handle(Route{Method: "GET", Path: "/api/v1/tokens", Summary: "API tokens (never their secrets), newest first", Role: admin, Tag: "admin", Response: tokensOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ts, err := s.st.ListTokens(r.Context())
			if err != nil {
				return err
			}
			out := tokensOut{Tokens: []tokenOut{}}
			for _, t := range ts {
				out.Tokens = append(out.Tokens, tokenJSON(t))
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/tokens", Summary: "Create an API token; the answer is the only place its secret is shown", Role: admin, Tag: "admin",
		Request: tokenIn{}, Response: tokenCreatedOut{}, Status: http.StatusCreated},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			var in tokenIn
			if err := readJSON(r, &in, `{"name": "monitoring", "role": "auditor"}`); err != nil {
				return err
			}
			var tok string
			var t *store.APIToken
			var err error
			if in.Role == store.RolePartner {
				tok, t, err = s.CreatePartnerToken(r.Context(), p, r, in.Name, in.Partner, in.Scopes)
			} else if in.Partner != "" || len(in.Scopes) > 0 {
				err = badRequest("partner and scopes belong to role partner", "leave them out, or use role partner")
			} else {
				tok, t, err = s.CreateToken(r.Context(), p, r, in.Name, in.Role)
			}
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, tokenCreatedOut{Token: tok, tokenOut: tokenJSON(t)})
			return nil
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/tokens/{id}/revoke", Summary: "Revoke an API token: refused from now on, its console sessions end", Role: admin, Tag: "admin",
		Params: []Param{{Name: "id", In: "path", Description: "token ID (the part after wharf_)"}}, Response: tokenOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			id := r.PathValue("id")
			if err := s.RevokeToken(r.Context(), p, r, id); err != nil {
				return err
			}
			ts, err := s.st.ListTokens(r.Context())
			if err != nil {
				return err
			}
			for _, t := range ts {
				if t.ID == id {
					writeJSON(w, 200, tokenJSON(t))
					return nil
				}
			}
			return store.ErrNotFound
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/users", Summary: "Console users", Role: admin, Tag: "admin", Response: usersOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			us, err := s.st.ListUsers(r.Context())
			if err != nil {
				return err
			}
			out := usersOut{Users: []userOut{}}
			for _, u := range us {
				out.Users = append(out.Users, userOut{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()})
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.handle(Route{Method: "PUT", Path: "/api/v1/users/{name}", Summary: "Add a console user, or change its role and password", Role: admin, Tag: "admin",
		Params: []Param{{Name: "name", In: "path", Description: "the name the user signs in with"}}, Request: userIn{}, Response: userOut{}, Never: []int{http.StatusNotFound}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			var in userIn
			if err := readJSON(r, &in, `{"role": "operator", "password": "a long passphrase"}`); err != nil {
				return err
			}
			u, err := s.SetUser(r.Context(), p, r, r.PathValue("name"), in.Role, in.Password)
			if err != nil {
				return err
			}
			writeJSON(w, 200, userOut{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()})
			return nil
		})
}

// mountAdminConsole adds the console's administration pages: access
// (tokens and users) and the audit log.
func (s *Server) mountAdminConsole() {
	admin := store.RoleAdmin
	s.page("GET /ui/access", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return s.accessPage(w, r, p, "")
	})
	s.page("POST /ui/access/tokens", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		tok, t, err := s.CreateToken(r.Context(), p, r, r.PostFormValue("name"), r.PostFormValue("role"))
		if err != nil {
			_, msg, hint := statusOf(err)
			s.back(w, r, "/ui/access", "Not created: "+msg+" — "+hint, false)
			return nil
		}
		// The secret goes into this page only, never into a URL.
		return s.accessPage(w, r, p, fmt.Sprintf("Token %s (%s, role %s) created. Copy it now: it is shown only once.", t.ID, t.Name, t.Role), tok)
	})
	s.page("POST /ui/access/tokens/{id}/revoke", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		if err := s.RevokeToken(r.Context(), p, r, id); err != nil {
			_, msg, _ := statusOf(err)
			s.back(w, r, "/ui/access", "Not revoked: "+msg, false)
			return nil
		}
		s.back(w, r, "/ui/access", "Token "+id+" revoked: the API and the console refuse it from now on.", true)
		return nil
	})
	s.page("POST /ui/access/users", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		u, err := s.SetUser(r.Context(), p, r, r.PostFormValue("name"), r.PostFormValue("role"), r.PostFormValue("password"))
		if err != nil {
			_, msg, hint := statusOf(err)
			s.back(w, r, "/ui/access", "Not saved: "+msg+" — "+hint, false)
			return nil
		}
		s.back(w, r, "/ui/access", fmt.Sprintf("User %s can sign in with role %s.", u.Name, u.Role), true)
		return nil
	})
	s.page("GET /ui/audit", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		q := r.URL.Query()
		limit := 200
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return badRequest(fmt.Sprintf("limit %q is not a number from 1 to 1000", v), "")
			}
			limit = n
		}
		actor := strings.TrimSpace(q.Get("actor"))
		evs, err := s.st.AuditEvents(r.Context(), actor, limit)
		if err != nil {
			return err
		}
		kind := strings.TrimSpace(q.Get("kind"))
		var shown []*store.AuditEvent
		for _, e := range evs {
			if kind == "" || strings.HasPrefix(e.Kind, kind) {
				shown = append(shown, e)
			}
		}
		s.render(w, r, 200, "audit", &page{Title: "Audit log", Nav: "audit", Me: p,
			Data: map[string]any{"Events": shown, "Actor": actor, "Kind": kind, "Limit": limit}})
		return nil
	})
}

// accessPage renders the tokens and users, with a new token's secret
// when one was just created.
func (s *Server) accessPage(w http.ResponseWriter, r *http.Request, p *principal, flash string, secret ...string) error {
	ts, err := s.st.ListTokens(r.Context())
	if err != nil {
		return err
	}
	us, err := s.st.ListUsers(r.Context())
	if err != nil {
		return err
	}
	var toks []tokenOut
	for _, t := range ts {
		toks = append(toks, tokenJSON(t))
	}
	pg := &page{Title: "Access", Nav: "access", Me: p, Data: map[string]any{"Tokens": toks, "Users": us, "Secret": strings.Join(secret, ""),
		"Self": strings.TrimPrefix(strings.SplitN(p.Actor, " ", 2)[0], "token:")}}
	if flash != "" {
		pg.Flash, pg.FlashOK = flash, true
	}
	s.render(w, r, 200, "access", pg)
	return nil
}
