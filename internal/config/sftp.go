package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// SFTPServer configures the partner-facing SFTP server.
type SFTPServer struct {
	Addr            string `yaml:"addr"`
	MaxSessions     int    `yaml:"max_sessions"`     // concurrent connections (default 64)
	IdleTimeout     string `yaml:"idle_timeout"`     // e.g. 10m (default)
	MaxFileSizeMB   int    `yaml:"max_file_size_mb"` // 0: no limit
	LockoutAttempts int    `yaml:"lockout_attempts"` // failed logins from one address (default 5) ...
	LockoutWindow   string `yaml:"lockout_window"`   // ... within this window lock it out as long (default 15m)
}

// PartnerSFTP is a partner's policy on Wharf's SFTP server.
type PartnerSFTP struct {
	AllowIPs    []string `yaml:"allow_ips"`    // addresses or CIDR prefixes; empty: any
	AllowDelete bool     `yaml:"allow_delete"` // may delete documents from outbound/
}

// PartnerX12 is how Wharf acknowledges a partner's X12.
type PartnerX12 struct {
	// Ack is the functional acknowledgment sent per group: 997 (default), 999 or none.
	Ack string `yaml:"ack"`
	// Strict turns length and code-list warnings into errors.
	Strict bool `yaml:"strict"`
}

func (c *Config) validateSFTP() error {
	s := c.SFTP
	if s.MaxSessions < 1 || s.MaxSessions > 10000 {
		return c.errAt("sftp.max_sessions", "%d is out of range 1..10000", s.MaxSessions)
	}
	if _, err := parseDuration(s.IdleTimeout); err != nil {
		return c.errAt("sftp.idle_timeout", "%v", err)
	}
	if _, err := parseDuration(s.LockoutWindow); err != nil {
		return c.errAt("sftp.lockout_window", "%v", err)
	}
	if s.LockoutAttempts < 1 {
		return c.errAt("sftp.lockout_attempts", "must be at least 1")
	}
	if s.MaxFileSizeMB < 0 {
		return c.errAt("sftp.max_file_size_mb", "must not be negative")
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 90s, 10m or 2h", s)
	}
	return d, nil
}

// Durations returns the SFTP server's idle timeout and lockout window.
func (s SFTPServer) Durations() (idle, lockout time.Duration) {
	idle, _ = parseDuration(s.IdleTimeout)
	lockout, _ = parseDuration(s.LockoutWindow)
	return idle, lockout
}

func (c *Config) validatePartnerPolicy(f string, p Partner) error {
	for j, a := range p.SFTP.AllowIPs {
		if _, err := ParsePrefix(a); err != nil {
			return c.errAt(fmt.Sprintf("%s.sftp.allow_ips[%d]", f, j), "%v", err)
		}
	}
	switch p.X12.Ack {
	case "", "997", "999", "none":
	default:
		return c.errAt(f+".x12.ack", "%q: use 997, 999 or none", p.X12.Ack)
	}
	return nil
}

// ParsePrefix parses an address (a /32 or /128) or a CIDR prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix such as 203.0.113.0/24", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix such as 203.0.113.0/24", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// PartnerByID returns the declared partner, if the file declares it.
func (c *Config) PartnerByID(id string) (Partner, bool) {
	for _, p := range c.Partners {
		if p.ID == id {
			return p, true
		}
	}
	return Partner{}, false
}

// validateRetention checks the archive's retention rules' shape; the
// archive parses the durations (h, d, w, y).
func (c *Config) validateRetention() error {
	seen := map[string]bool{}
	for i, r := range c.Archive.Retention {
		f := fmt.Sprintf("archive.retention[%d]", i)
		if seen[r.Partner] {
			return c.errAt(f+".partner", "a second rule for %q: one rule per partner, and one default", r.Partner)
		}
		seen[r.Partner] = true
		if r.Keep == "" && r.Delete == "" {
			return c.errAt(f, "set keep, delete or both")
		}
		for field, v := range map[string]string{"keep": r.Keep, "delete": r.Delete} {
			if v != "" && !retentionRe.MatchString(v) {
				return c.errAt(f+"."+field, "%q is not a duration such as 30d, 12w or 7y", v)
			}
		}
	}
	return nil
}

var retentionRe = regexp.MustCompile(`^[0-9]+(h|d|w|y)$`)
