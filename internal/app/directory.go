package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports/as2"
)

// directory is the one place where a partner's settings from the
// configuration file and from the store (what `wharf partner add` set) are
// merged: AS2 finds partners by AS2 name and their certificates through it,
// and the console's certificate page, the certificate metric and the expiry
// check list the certificates Wharf holds through it, so the three always
// agree. The config's partners[].as2 comes first; certificates from both
// are merged.
type directory struct {
	c  *config.Config
	st store.Store
}

func (d *directory) ByAS2ID(ctx context.Context, id string) (*as2.Partner, error) {
	var p *as2.Partner
	for _, cp := range d.c.Partners {
		if cp.AS2 != nil && cp.AS2.ID == id {
			p = &as2.Partner{ID: cp.ID, AS2ID: id}
			break
		}
	}
	sp, err := d.st.PartnerByAS2ID(ctx, id)
	switch {
	case err == nil && p == nil:
		p = &as2.Partner{ID: sp.PartnerID, AS2ID: id}
	case errors.Is(err, store.ErrNotFound):
		if p == nil {
			return nil, as2.ErrUnknownPartner
		}
	case err != nil:
		return nil, err
	}
	switch sp, err := d.st.GetPartner(ctx, p.ID); {
	case err == nil && sp.Disabled():
		return nil, fmt.Errorf("%w: partner %s, since %s", as2.ErrPartnerDisabled, p.ID, sp.DisabledAt.UTC().Format(time.RFC3339))
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return d.complete(ctx, p)
}

// complete fills certificates and policy for a partner.
func (d *directory) complete(ctx context.Context, p *as2.Partner) (*as2.Partner, error) {
	p.Sign, p.Cipher, p.MDN, p.SignedMDN = true, as2.AES256CBC, as2.MDNSync, true
	if sp, err := d.st.GetPartnerAS2(ctx, p.ID); err == nil {
		for _, pm := range sp.CertsPEM {
			cs, err := as2.ParseCertificates([]byte(pm))
			if err != nil {
				return nil, fmt.Errorf("as2: partner %s: stored certificate: %w", p.ID, err)
			}
			p.Certs = append(p.Certs, cs...)
		}
		if p.AS2ID == "" {
			p.AS2ID = sp.AS2ID
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	cp, ok := d.c.PartnerByID(p.ID)
	if ok && cp.AS2 != nil {
		a := cp.AS2
		for _, f := range a.CertFiles {
			b, err := os.ReadFile(d.c.AS2CertFile(f))
			if err != nil {
				return nil, fmt.Errorf("as2: partner %s: %w", p.ID, err)
			}
			cs, err := as2.ParseCertificates(b)
			if err != nil {
				return nil, fmt.Errorf("as2: partner %s: %s: %w", p.ID, f, err)
			}
			p.Certs = append(p.Certs, cs...)
		}
		p.URL, p.Compress, p.Base64 = a.URL, a.Compress, a.TransferEncoding == "base64"
		p.RequireSigned, p.RequireEncrypted = a.RequireSigned, a.RequireEncrypted
		p.AllowUnsignedCompressed = a.AllowUnsignedCompressed
		p.MaxBody, p.MaxDecompressed, p.MaxExpansion = a.MaxBodyBytes(d.c.AS2), a.MaxDecompressedBytes(), a.MaxExpansionRatio()
		if a.Sign != nil {
			p.Sign = *a.Sign
		}
		if a.SignedMDN != nil {
			p.SignedMDN = *a.SignedMDN
		}
		switch a.Encrypt {
		case "none":
			p.Cipher = ""
		case "":
		default:
			p.Cipher = as2.Cipher(a.Encrypt)
		}
		p.KeyWrap = as2.KeyWrap(a.KeyWrap)
		if a.MDN != "" {
			p.MDN = as2.MDNMode(a.MDN)
		}
		p.MDNTimeout = a.MDNTimeoutDuration()
		p.AsyncMDNURL = d.c.AS2.PublicURL
	}
	return p, nil
}

// byPartnerID returns the AS2 settings of the partner with Wharf's ID.
func (d *directory) byPartnerID(ctx context.Context, id string) (*as2.Partner, error) {
	p := &as2.Partner{ID: id}
	if cp, ok := d.c.PartnerByID(id); ok && cp.AS2 != nil {
		p.AS2ID = cp.AS2.ID
	}
	p, err := d.complete(ctx, p)
	if err != nil {
		return nil, err
	}
	if p.AS2ID == "" {
		return nil, fmt.Errorf("%w: partner %s has no AS2 name: set partners[].as2.id or run wharf partner add %s --as2-id NAME --as2-cert CERT_PEM", delivery.ErrNoRoute, id, id)
	}
	return p, nil
}

// heldCert is a certificate Wharf holds, and whose it is.
type heldCert struct {
	partner string // "" for Wharf's own
	cert    *x509.Certificate
}

// heldCerts lists Wharf's own AS2 certificate and every partner's
// (config files and the store), without duplicates.
func (d *directory) heldCerts(ctx context.Context) ([]heldCert, error) {
	c, st := d.c, d.st
	var out []heldCert
	seen := map[string]bool{}
	add := func(partner string, cs []*x509.Certificate) {
		for _, x := range cs {
			k := partner + "|" + string(x.Raw)
			if !seen[k] {
				seen[k] = true
				out = append(out, heldCert{partner: partner, cert: x})
			}
		}
	}
	if id, err := AS2Identity(c); err == nil {
		add("", []*x509.Certificate{id.Cert})
	} else {
		return nil, err
	}
	ps, err := st.ListPartners(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if _, err := st.GetPartnerAS2(ctx, p.ID); errors.Is(err, store.ErrNotFound) {
			if cp, ok := c.PartnerByID(p.ID); !ok || cp.AS2 == nil {
				continue
			}
		} else if err != nil {
			return nil, err
		}
		ap, err := d.complete(ctx, &as2.Partner{ID: p.ID})
		if err != nil {
			return nil, err
		}
		add(p.ID, ap.Certs)
	}
	return out, nil
}
