package web

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Partners administration, in the API and the console alike: admins create
// and edit the partners kept in the database (name, X12 IDs, SSH keys, AS2
// name and certificates); operators disable and enable any partner (a
// disabled one cannot log in to SFTP nor send over inbound HTTP or AS2,
// internal/server, transports/http and transports/as2 check the flag).
// Partners declared in the configuration file are read-only here: the file
// is applied at every start, so an edit here would be undone. Each change
// is an audit event (partner_created, partner_updated, partner_disabled,
// partner_enabled).

// partnerOut is a trading partner as the API shows it.
type partnerOut struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	X12IDs       []string   `json:"x12_ids" doc:"interchange IDs as QUALIFIER:ID"`
	SSHKeys      []string   `json:"ssh_keys" doc:"SHA256 fingerprints of the keys the partner logs in to SFTP with"`
	Source       string     `json:"source" doc:"where it was last written from: config, cli, console or api"`
	ReadOnly     bool       `json:"read_only" doc:"true: declared in the configuration file, which is applied at every start; edit the file (disabling still works)"`
	DisabledAt   *time.Time `json:"disabled_at" nullable:"true" doc:"null: enabled; else since when its SFTP logins, inbound HTTP and AS2 are refused"`
	AS2ID        string     `json:"as2_id,omitempty" doc:"the partner's AS2 name (AS2-From of what it sends)"`
	Certificates []Cert     `json:"certificates" doc:"the partner's AS2 certificates Wharf holds (configuration and database), soonest expiry first"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// partnerIn is the body that creates (POST /api/v1/partners) or replaces
// (PUT /api/v1/partners/{id}) a partner kept in the database.
type partnerIn struct {
	ID      string   `json:"id,omitempty" doc:"creating: the partner ID (letters, digits, '.', '_', '-'; the SFTP user name); replacing: the path's, or left out"`
	Name    string   `json:"name"`
	X12IDs  []string `json:"x12_ids,omitempty" doc:"interchange IDs as QUALIFIER:ID (ZZ:ACME)"`
	SSHKeys []string `json:"ssh_keys,omitempty" doc:"public keys, one authorized_keys line each"`
	AS2     *as2In   `json:"as2,omitempty" doc:"AS2 name and certificates; left out: unchanged"`
}

type as2In struct {
	ID           string   `json:"id" doc:"the partner's AS2 name"`
	Certificates []string `json:"certificates,omitempty" doc:"PEM certificates (each string may hold several); they replace those in the database"`
}

// partnerSetup is a validated partnerIn.
type partnerSetup struct {
	p     *store.Partner
	as2   *store.PartnerAS2 // nil: AS2 unchanged
	certs []*x509.Certificate
}

// configured reports whether the configuration file declares the partner.
func (s *Server) configured(p *store.Partner) bool {
	if s.o.ConfigPartner != nil {
		return s.o.ConfigPartner(p.ID)
	}
	return p.Source == "config"
}

// partnerView is a partner with its AS2 name and certificates.
func (s *Server) partnerView(ctx context.Context, p *store.Partner, certs []Cert) partnerOut {
	out := partnerOut{ID: p.ID, Name: p.Name, X12IDs: []string{}, SSHKeys: []string{}, Source: p.Source, ReadOnly: s.configured(p),
		Certificates: []Cert{}, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
	for _, x := range p.X12IDs {
		out.X12IDs = append(out.X12IDs, x.String())
	}
	for _, k := range p.SSHKeys {
		if fp, _, err := store.ParseSSHKey(k); err == nil {
			out.SSHKeys = append(out.SSHKeys, fp)
		}
	}
	if p.Disabled() {
		d := p.DisabledAt.UTC()
		out.DisabledAt = &d
	}
	if a, err := s.st.GetPartnerAS2(ctx, p.ID); err == nil {
		out.AS2ID = a.AS2ID
	}
	for _, c := range certs {
		if c.Owner == p.ID {
			out.Certificates = append(out.Certificates, c)
		}
	}
	return out
}

// partnerViews are every partner with its certificates, and the
// certificates Wharf holds (Certificates), for callers that show them too.
func (s *Server) partnerViews(ctx context.Context) ([]partnerOut, []Cert, error) {
	ps, err := s.st.ListPartners(ctx)
	if err != nil {
		return nil, nil, err
	}
	certs, err := s.Certificates(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := []partnerOut{}
	for _, p := range ps {
		out = append(out, s.partnerView(ctx, p, certs))
	}
	return out, certs, nil
}

// onePartner is one partner with its certificates.
func (s *Server) onePartner(ctx context.Context, id string) (partnerOut, *store.Partner, error) {
	p, err := s.st.GetPartner(ctx, id)
	if err != nil {
		return partnerOut{}, nil, err
	}
	certs, err := s.Certificates(ctx)
	if err != nil {
		return partnerOut{}, nil, err
	}
	return s.partnerView(ctx, p, certs), p, nil
}

// check validates a partner's settings (the ID is the caller's).
func (in *partnerIn) check(id string) (*partnerSetup, error) {
	if err := store.ValidPartnerID(id); err != nil {
		return nil, badRequest(store.Reason(err), "an ID is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	p := &store.Partner{ID: id, Name: strings.TrimSpace(in.Name)}
	seen := map[store.X12ID]bool{}
	for _, v := range in.X12IDs {
		if strings.TrimSpace(v) == "" {
			continue
		}
		x, err := store.ParseX12ID(v)
		if err != nil {
			return nil, badRequest("X12 ID "+err.Error(), "one QUALIFIER:ID per line, e.g. ZZ:ACME or 01:123456789")
		}
		if !seen[x] {
			seen[x] = true
			p.X12IDs = append(p.X12IDs, x)
		}
	}
	fps := map[string]bool{}
	for _, k := range in.SSHKeys {
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		fp, _, err := store.ParseSSHKey(k)
		if err != nil {
			return nil, badRequest("SSH key "+short(k)+" is not a public key", "paste the partner's .pub file (one authorized_keys line per key), never a private key")
		}
		if !fps[fp] {
			fps[fp] = true
			p.SSHKeys = append(p.SSHKeys, k)
		}
	}
	set := &partnerSetup{p: p}
	if in.AS2 != nil {
		a := &store.PartnerAS2{PartnerID: id, AS2ID: strings.TrimSpace(in.AS2.ID)}
		if a.AS2ID == "" && len(in.AS2.Certificates) > 0 {
			return nil, badRequest("AS2 certificates without an AS2 name", "give the partner's AS2 name (what it sends as AS2-From)")
		}
		for _, blob := range in.AS2.Certificates {
			rest := []byte(blob)
			n := 0
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" {
					return nil, badRequest("AS2 certificates: a PEM block of type "+b.Type+" is not a certificate", "paste the partner's certificate (-----BEGIN CERTIFICATE-----), never a private key")
				}
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, badRequest("AS2 certificate: "+err.Error(), "paste the partner's certificate in PEM")
				}
				pm := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
				if !slices.Contains(a.CertsPEM, pm) {
					a.CertsPEM = append(a.CertsPEM, pm)
					set.certs = append(set.certs, c)
				}
				n++
			}
			if n == 0 && strings.TrimSpace(blob) != "" {
				return nil, badRequest("AS2 certificates: no PEM certificate found", "paste the partner's certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
			}
		}
		if a.AS2ID != "" {
			set.as2 = a
		}
	}
	return set, nil
}

func short(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%q…", s[:24])
	}
	return fmt.Sprintf("%q", s)
}

// SavePartner creates (create true) or replaces a partner kept in the
// database, as p, from source ("console" or "api"), and returns its ID.
// Creating an existing partner and replacing one the configuration file
// declares are 409.
func (s *Server) SavePartner(ctx context.Context, p *principal, r *http.Request, id string, in *partnerIn, create bool, source string) (string, error) {
	set, err := in.check(strings.TrimSpace(id))
	if err != nil {
		return "", err
	}
	set.p.Source = source
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		old, err := tx.GetPartner(ctx, set.p.ID)
		switch {
		case err == nil && create:
			return &httpError{http.StatusConflict, fmt.Sprintf("partner %s exists already", set.p.ID), "edit it instead (PUT /api/v1/partners/" + set.p.ID + ")"}
		case errors.Is(err, store.ErrNotFound) && !create:
			return err
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		case err == nil && s.configured(old):
			return &httpError{http.StatusConflict, fmt.Sprintf("partner %s is declared in the configuration file, read-only here", set.p.ID),
				"edit its entry under partners: in " + s.configFile() + " and restart; disabling it works here"}
		}
		if err := tx.UpsertPartner(ctx, set.p); err != nil {
			return err
		}
		if set.as2 != nil {
			return tx.SetPartnerAS2(ctx, set.as2)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	kind, verb := "partner_updated", "updated"
	if create {
		kind, verb = "partner_created", "created"
	}
	detail := fmt.Sprintf("partner %s %s: name %q, %d X12 IDs, %d SSH keys", set.p.ID, verb, set.p.Name, len(set.p.X12IDs), len(set.p.SSHKeys))
	if set.as2 != nil {
		detail += fmt.Sprintf(", AS2 name %q with %d certificates", set.as2.AS2ID, len(set.as2.CertsPEM))
	}
	s.audit(ctx, p, r, kind, detail)
	return set.p.ID, nil
}

// SetPartnerDisabled disables or enables a partner, as p; disabling ends
// its live SFTP sessions too (Options.EndSFTPSessions).
func (s *Server) SetPartnerDisabled(ctx context.Context, p *principal, r *http.Request, id string, disabled bool) error {
	if err := s.st.SetPartnerDisabled(ctx, id, disabled); err != nil {
		return err
	}
	if !disabled {
		s.audit(ctx, p, r, "partner_enabled", "partner "+id+": SFTP logins, inbound HTTP and AS2 accepted again")
		return nil
	}
	ended := 0
	if s.o.EndSFTPSessions != nil {
		ended = s.o.EndSFTPSessions(id)
	}
	s.audit(ctx, p, r, "partner_disabled", fmt.Sprintf("partner %s: SFTP logins, inbound HTTP and AS2 refused; %d live SFTP sessions ended", id, ended))
	return nil
}

func (s *Server) configFile() string {
	if s.o.ConfigFile != "" {
		return s.o.ConfigFile
	}
	return "the configuration file"
}

var pPartnerID = Param{Name: "id", In: "path", Description: "partner ID"}

func (s *Server) mountPartnersAPI() {
	auditor, operator, admin := store.RoleAuditor, store.RoleOperator, store.RoleAdmin
	s.handle(Route{Method: "GET", Path: "/api/v1/partners", Summary: "Trading partners, with their state and AS2 certificates", Role: auditor, Tag: "partners", Response: partnersOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ps, _, err := s.partnerViews(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, partnersOut{Partners: ps})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/partners/{id}", Summary: "One trading partner", Role: auditor, Tag: "partners", Response: partnerOut{},
		Params: []Param{pPartnerID}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			out, _, err := s.onePartner(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.handle(Route{Method: "POST", Path: "/api/v1/partners", Summary: "Create a partner kept in the database", Role: admin, Tag: "partners",
		Request: partnerIn{}, Response: partnerOut{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			var in partnerIn
			if err := readJSON(r, &in, `{"id": "acme", "name": "ACME Freight", "x12_ids": ["ZZ:ACME"], "ssh_keys": ["ssh-ed25519 AAAA... acme"]}`); err != nil {
				return err
			}
			id, err := s.SavePartner(r.Context(), p, r, in.ID, &in, true, "api")
			if err != nil {
				return err
			}
			out, _, err := s.onePartner(r.Context(), id)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, out)
			return nil
		})
	s.handle(Route{Method: "PUT", Path: "/api/v1/partners/{id}", Summary: "Replace a database partner's name, X12 IDs, SSH keys and (when given) AS2 settings; configuration partners are read-only (409)", Role: admin, Tag: "partners",
		Params: []Param{pPartnerID}, Request: partnerIn{}, Response: partnerOut{}, Errors: []int{http.StatusConflict}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			var in partnerIn
			if err := readJSON(r, &in, `{"name": "ACME Freight", "x12_ids": ["ZZ:ACME"], "ssh_keys": []}`); err != nil {
				return err
			}
			id := r.PathValue("id")
			if in.ID != "" && in.ID != id {
				return badRequest(fmt.Sprintf("the body's id %q is not the path's %q", in.ID, id), "a partner's ID cannot change: leave id out, or create a new partner")
			}
			if _, err := s.SavePartner(r.Context(), p, r, id, &in, false, "api"); err != nil {
				return err
			}
			out, _, err := s.onePartner(r.Context(), id)
			if err != nil {
				return err
			}
			writeJSON(w, 200, out)
			return nil
		})
	for _, a := range []struct {
		verb     string
		disabled bool
		summary  string
	}{
		{"disable", true, "Disable a partner: its SFTP logins (live sessions end), inbound HTTP and AS2 are refused until enabled"},
		{"enable", false, "Enable a disabled partner again"},
	} {
		s.handle(Route{Method: "POST", Path: "/api/v1/partners/{id}/" + a.verb, Summary: a.summary, Role: operator, Tag: "partners",
			Params: []Param{pPartnerID}, Response: partnerOut{}},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				id := r.PathValue("id")
				if err := s.SetPartnerDisabled(r.Context(), p, r, id, a.disabled); err != nil {
					return err
				}
				out, _, err := s.onePartner(r.Context(), id)
				if err != nil {
					return err
				}
				writeJSON(w, 200, out)
				return nil
			})
	}
}

// partnerForm reads the console's partner form: X12 IDs and SSH keys one
// per line, the AS2 certificates as pasted PEM.
func partnerForm(r *http.Request) *partnerIn {
	in := &partnerIn{ID: r.PostFormValue("id"), Name: r.PostFormValue("name"),
		X12IDs: strings.Split(r.PostFormValue("x12_ids"), "\n"), SSHKeys: strings.Split(r.PostFormValue("ssh_keys"), "\n")}
	for i := range in.X12IDs {
		in.X12IDs[i] = strings.TrimSpace(in.X12IDs[i])
	}
	if id, certs := strings.TrimSpace(r.PostFormValue("as2_id")), strings.TrimSpace(r.PostFormValue("as2_certs")); id != "" || certs != "" {
		in.AS2 = &as2In{ID: id, Certificates: []string{certs}}
	}
	return in
}

func (s *Server) mountPartnersConsole() {
	auditor, operator, admin := store.RoleAuditor, store.RoleOperator, store.RoleAdmin
	s.page("GET /ui/partners", auditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ps, certs, err := s.partnerViews(r.Context())
		if err != nil {
			return err
		}
		s.render(w, r, 200, "partners", &page{Title: "Partners", Nav: "partners", Me: p, Data: map[string]any{"Partners": ps, "Certs": certs,
			"CanAdmin": p.can(admin), "CanOperate": p.can(operator), "ConfigFile": s.configFile()}})
		return nil
	})
	form := func(w http.ResponseWriter, r *http.Request, p *principal, pt *partnerOut, in *partnerIn, flash string) error {
		data := map[string]any{"P": pt, "In": in, "New": pt == nil, "CanAdmin": p.can(admin), "CanOperate": p.can(operator), "ConfigFile": s.configFile()}
		title := "New partner"
		if pt != nil {
			title = "Partner " + pt.ID
		}
		if in == nil {
			data["In"] = &partnerIn{}
		}
		pg := &page{Title: title, Nav: "partners", Me: p, Data: data}
		code := 200
		if flash != "" {
			pg.Flash, code = flash, http.StatusBadRequest
		}
		s.render(w, r, code, "partner", pg)
		return nil
	}
	s.page("GET /ui/partners/new", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return form(w, r, p, nil, nil, "")
	})
	s.page("GET /ui/partners/{id}", auditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		pt, sp, err := s.onePartner(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		in := &partnerIn{ID: pt.ID, Name: pt.Name, X12IDs: pt.X12IDs, SSHKeys: sp.SSHKeys}
		if a, err := s.st.GetPartnerAS2(r.Context(), pt.ID); err == nil {
			in.AS2 = &as2In{ID: a.AS2ID, Certificates: []string{strings.Join(a.CertsPEM, "")}}
		}
		return form(w, r, p, &pt, in, "")
	})
	s.page("POST /ui/partners", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		in := partnerForm(r)
		id, err := s.SavePartner(r.Context(), p, r, in.ID, in, true, "console")
		if err != nil {
			_, msg, hint := statusOf(err)
			return form(w, r, p, nil, in, "Not created: "+msg+" — "+hint)
		}
		s.back(w, r, "/ui/partners/"+url.PathEscape(id), fmt.Sprintf("Partner %s created.", id), true)
		return nil
	})
	s.page("POST /ui/partners/{id}", admin, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		in := partnerForm(r)
		if _, err := s.SavePartner(r.Context(), p, r, id, in, false, "console"); err != nil {
			_, msg, hint := statusOf(err)
			pt, _, gerr := s.onePartner(r.Context(), id)
			if gerr != nil {
				return gerr
			}
			return form(w, r, p, &pt, in, "Not saved: "+msg+" — "+hint)
		}
		s.back(w, r, "/ui/partners/"+url.PathEscape(id), fmt.Sprintf("Partner %s saved.", id), true)
		return nil
	})
	for _, a := range []struct {
		verb     string
		disabled bool
		done     string
	}{
		{"disable", true, "disabled: its SFTP logins, inbound HTTP and AS2 are refused until it is enabled"},
		{"enable", false, "enabled: it can log in and send again"},
	} {
		s.page("POST /ui/partners/{id}/"+a.verb, operator, func(w http.ResponseWriter, r *http.Request, p *principal) error {
			id := r.PathValue("id")
			to := "/ui/partners"
			if r.PostFormValue("back") == "partner" {
				to += "/" + url.PathEscape(id)
			}
			if err := s.SetPartnerDisabled(r.Context(), p, r, id, a.disabled); err != nil {
				_, msg, _ := statusOf(err)
				s.back(w, r, to, "Not changed: "+msg, false)
				return nil
			}
			s.back(w, r, to, "Partner "+id+" "+a.done+".", true)
			return nil
		})
	}
}
