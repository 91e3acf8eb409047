package config

import (
	"fmt"
	"net/url"
	"os"
	"time"
)

// AS2 is Wharf's own AS2 identity. Without cert_file and key_file, a key
// and a self-signed certificate are generated once into the data folder;
// `wharf as2 cert` prints the certificate to hand to partners.
type AS2 struct {
	ID       string `yaml:"id"`        // Wharf's AS2 name; default "wharf"
	CertFile string `yaml:"cert_file"` // PEM certificate
	KeyFile  string `yaml:"key_file"`  // PEM RSA private key (keep it out of the config folder's backups)
	// PublicURL is Wharf's /as2 URL as partners reach it: where they send
	// async MDNs for what Wharf sends (Receipt-Delivery-Option).
	PublicURL string `yaml:"public_url"`
	// CertWarnDays: the daily check raises an exception this many days
	// before an AS2 certificate (Wharf's or a partner's) expires; default 30.
	CertWarnDays int `yaml:"cert_warn_days"`
	// MaxBodyMB bounds an inbound AS2 request body in MiB for partners
	// without their own partners[].as2.max_body_mb (default 512); larger
	// requests get HTTP 413. Bodies are spooled to the data folder, so the
	// bound is about disk, not memory. Nothing is read before the request's
	// headers name a known partner and Wharf's AS2 name.
	MaxBodyMB int `yaml:"max_body_mb"`
}

// DefaultAS2MaxBodyMB is as2.max_body_mb's default.
const DefaultAS2MaxBodyMB = 512

// MaxBodyBytes returns as2.max_body_mb in bytes, 512 MiB when unset.
func (a AS2) MaxBodyBytes() int64 {
	if a.MaxBodyMB <= 0 {
		return DefaultAS2MaxBodyMB << 20
	}
	return int64(a.MaxBodyMB) << 20
}

// CertWarnDaysOr30 returns as2.cert_warn_days, 30 when unset.
func (a AS2) CertWarnDaysOr30() int {
	if a.CertWarnDays <= 0 {
		return 30
	}
	return a.CertWarnDays
}

// PartnerAS2 is a partner's AS2 settings (partners[].as2).
type PartnerAS2 struct {
	ID        string   `yaml:"id"`         // the partner's AS2 name (also settable with wharf partner add --as2-id)
	URL       string   `yaml:"url"`        // the partner's AS2 endpoint, for sending
	CertFiles []string `yaml:"cert_files"` // PEM certificates (several during a rotation)
	// Sending: sign (default true), encrypt with aes256-cbc (default),
	// aes128-cbc, aes192-cbc, aes128-gcm, aes256-gcm or none; key_wrap
	// rsa-pkcs1v15 (default) or rsa-oaep-sha256; compress before signing.
	Sign     *bool  `yaml:"sign"`
	Encrypt  string `yaml:"encrypt"`
	KeyWrap  string `yaml:"key_wrap"`
	Compress bool   `yaml:"compress"`
	// TransferEncoding of the payload: binary (default) or base64 (for
	// receivers that rewrite line ends before checking signatures).
	TransferEncoding string `yaml:"transfer_encoding"`
	// MDN: sync (default), async or none; signed_mdn asks for (and then
	// requires) a signed MDN, default true; mdn_timeout bounds an async wait.
	MDN        string `yaml:"mdn"`
	SignedMDN  *bool  `yaml:"signed_mdn"`
	MDNTimeout string `yaml:"mdn_timeout"` // default 2h
	// Receiving policy: refuse unsigned (require_signed) or unencrypted
	// (require_encrypted) messages (insufficient-message-security).
	RequireSigned    bool `yaml:"require_signed"`
	RequireEncrypted bool `yaml:"require_encrypted"`
	// AllowUnsignedCompressed accepts compressed content (RFC 3274) that no
	// verified signature covers. Default false: compressed content must be
	// signed (compressed then signed, or signed then compressed), else it
	// is refused (insufficient-message-security) on its first bytes.
	AllowUnsignedCompressed bool `yaml:"allow_unsigned_compressed"`
	// Receiving limits; 0 or unset takes the default.
	// MaxBodyMB bounds this partner's request bodies in MiB (default
	// as2.max_body_mb, itself 512 MiB): HTTP 413 past it.
	MaxBodyMB int `yaml:"max_body_mb"`
	// MaxDecompressedMB bounds what compressed content expands to, in MiB
	// (default 256): decompression stops there (decompression-failed).
	MaxDecompressedMB int `yaml:"max_decompressed_mb"`
	// MaxExpansion bounds the expansion ratio of compressed content that no
	// verified signature covers when it is decompressed (signed then
	// compressed, or unsigned when allowed): default 100 (100:1).
	MaxExpansion int `yaml:"max_expansion"`
}

// Defaults of the partners[].as2 receiving limits.
const (
	DefaultAS2MaxDecompressedMB = 256
	DefaultAS2MaxExpansion      = 100
)

// MaxBodyBytes returns partners[].as2.max_body_mb in bytes, or as2's
// (default 512 MiB) when unset.
func (p PartnerAS2) MaxBodyBytes(a AS2) int64 {
	if p.MaxBodyMB > 0 {
		return int64(p.MaxBodyMB) << 20
	}
	return a.MaxBodyBytes()
}

// MaxDecompressedBytes returns partners[].as2.max_decompressed_mb in bytes,
// 256 MiB when unset.
func (p PartnerAS2) MaxDecompressedBytes() int64 {
	if p.MaxDecompressedMB > 0 {
		return int64(p.MaxDecompressedMB) << 20
	}
	return DefaultAS2MaxDecompressedMB << 20
}

// MaxExpansionRatio returns partners[].as2.max_expansion, 100 when unset.
func (p PartnerAS2) MaxExpansionRatio() int {
	if p.MaxExpansion > 0 {
		return p.MaxExpansion
	}
	return DefaultAS2MaxExpansion
}

// AS2ID returns Wharf's AS2 name: WHARF_AS2_ID, as2.id, or "wharf".
func (c *Config) AS2ID(getenv func(string) string) string {
	if v := getenv("WHARF_AS2_ID"); v != "" {
		return v
	}
	if c.AS2.ID != "" {
		return c.AS2.ID
	}
	return "wharf"
}

// MDNTimeoutDuration returns the async MDN timeout (default 2h).
func (p PartnerAS2) MDNTimeoutDuration() time.Duration {
	d, err := parseDuration(p.MDNTimeout)
	if err != nil || d <= 0 {
		return 2 * time.Hour
	}
	return d
}

func (c *Config) validateAS2() error {
	if (c.AS2.CertFile == "") != (c.AS2.KeyFile == "") {
		return c.errAt("as2.cert_file", "set both as2.cert_file and as2.key_file, or neither (Wharf then generates its own into the data folder)")
	}
	if c.AS2.CertWarnDays < 0 || c.AS2.CertWarnDays > 3650 {
		return c.errAt("as2.cert_warn_days", "%d: use 1 to 3650 days (default 30)", c.AS2.CertWarnDays)
	}
	if c.AS2.MaxBodyMB < 0 || c.AS2.MaxBodyMB > 1<<20 {
		return c.errAt("as2.max_body_mb", "%d: use 1 to 1048576 MiB (default %d)", c.AS2.MaxBodyMB, DefaultAS2MaxBodyMB)
	}
	if u := c.AS2.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return c.errAt("as2.public_url", "%q is not an http(s) URL", u)
		}
	}
	for i, p := range c.Partners {
		a := p.AS2
		if a == nil {
			continue
		}
		f := fmt.Sprintf("partners[%d].as2", i)
		if a.URL != "" {
			if pu, err := url.Parse(a.URL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				return c.errAt(f+".url", "%q is not an http(s) URL", a.URL)
			}
		}
		switch a.Encrypt {
		case "", "none", "aes128-cbc", "aes192-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm":
		default:
			return c.errAt(f+".encrypt", "%q: use aes256-cbc, aes192-cbc, aes128-cbc, aes256-gcm, aes128-gcm or none", a.Encrypt)
		}
		switch a.KeyWrap {
		case "", "rsa-pkcs1v15", "rsa-oaep-sha256":
		default:
			return c.errAt(f+".key_wrap", "%q: use rsa-pkcs1v15 or rsa-oaep-sha256", a.KeyWrap)
		}
		switch a.TransferEncoding {
		case "", "binary", "base64":
		default:
			return c.errAt(f+".transfer_encoding", "%q: use binary or base64", a.TransferEncoding)
		}
		switch a.MDN {
		case "", "sync", "async", "none":
		default:
			return c.errAt(f+".mdn", "%q: use sync, async or none", a.MDN)
		}
		if a.MDN == "async" && c.AS2.PublicURL == "" {
			return c.errAt(f+".mdn", "async MDNs need as2.public_url (Wharf's /as2 URL as the partner reaches it)")
		}
		if a.MaxBodyMB < 0 || a.MaxBodyMB > 1<<20 {
			return c.errAt(f+".max_body_mb", "%d: use 1 to 1048576 MiB (default as2.max_body_mb, %d)", a.MaxBodyMB, c.AS2.MaxBodyBytes()>>20)
		}
		if a.MaxDecompressedMB < 0 || a.MaxDecompressedMB > 1<<20 {
			return c.errAt(f+".max_decompressed_mb", "%d: use 1 to 1048576 MiB (default %d)", a.MaxDecompressedMB, DefaultAS2MaxDecompressedMB)
		}
		if a.MaxExpansion < 0 || a.MaxExpansion > 100000 {
			return c.errAt(f+".max_expansion", "%d: use a ratio from 1 to 100000 (default %d, i.e. %d:1)", a.MaxExpansion, DefaultAS2MaxExpansion, DefaultAS2MaxExpansion)
		}
		if a.MDNTimeout != "" {
			if _, err := parseDuration(a.MDNTimeout); err != nil {
				return c.errAt(f+".mdn_timeout", "%v", err)
			}
		}
		for j, cf := range a.CertFiles {
			if _, err := os.Stat(c.rel(cf)); err != nil {
				return c.errAt(fmt.Sprintf("%s.cert_files[%d]", f, j), "%v", err)
			}
		}
	}
	return nil
}

// AS2CertFile resolves a partner certificate file name relative to the config file.
func (c *Config) AS2CertFile(name string) string { return c.rel(name) }
