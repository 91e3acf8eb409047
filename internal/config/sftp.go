package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wharfedi/wharf/archive"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// SFTPServer configures the partner-facing SFTP server.
type SFTPServer struct {
	Addr        string `yaml:"addr"`         // HOST:PORT; 0.0.0.0:PORT listens on every interface
	MaxSessions int    `yaml:"max_sessions"` // concurrent connections (default 64)
	// MaxSessionsPerIP caps one address's concurrent connections (default
	// 16), so that one client cannot take every session from the others.
	MaxSessionsPerIP int    `yaml:"max_sessions_per_ip"`
	IdleTimeout      string `yaml:"idle_timeout"`     // e.g. 10m (default)
	MaxFileSizeMB    int    `yaml:"max_file_size_mb"` // 0: no limit
	LockoutAttempts  int    `yaml:"lockout_attempts"` // failed logins from one address (default 5) ...
	LockoutWindow    string `yaml:"lockout_window"`   // ... within this window lock it out as long (default 15m)
	// Ciphers overrides the offered SSH ciphers, in order. The default offers
	// AES-GCM and AES-CTR; offering only aes128-gcm@openssh.com and
	// aes256-gcm@openssh.com makes OpenSSH clients upload faster (docs/sftp.md)
	// but shuts out clients without AES-GCM (older JSch, paramiko, PuTTY < 0.76).
	Ciphers []string `yaml:"ciphers"`
	// HostKeyFile is the SSH host key (an OpenSSH private key file) every
	// instance presents, so that partners who pinned it can log in to any
	// of them (docs/cluster.md); without it each data folder gets its own.
	HostKeyFile string `yaml:"host_key_file"`
}

// HostKey is the key sftp.host_key_file names: nil when none is configured.
func (c *Config) HostKey() (ssh.Signer, error) {
	f := c.SFTP.HostKeyFile
	if f == "" {
		return nil, nil
	}
	b, err := readFile(c.rel(f))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", f, errors.Unwrap(err))
	}
	k, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not an unencrypted SSH private key: %v (e.g. ssh-keygen -t ed25519 -N '' -f %s)", f, err, f)
	}
	return k, nil
}

// SFTPCiphers are the ciphers sftp.ciphers may name.
var SFTPCiphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"}

// PartnerSFTP is a partner's policy on Wharf's SFTP server.
type PartnerSFTP struct {
	AllowIPs    []string `yaml:"allow_ips"`    // addresses or CIDR prefixes; empty: any
	AllowDelete bool     `yaml:"allow_delete"` // may delete documents from outbound/
	// PasswordHashFile names a file holding a bcrypt hash of the partner's
	// password (htpasswd -nbB or `wharf hash-password`); keys are preferred.
	PasswordHashFile string `yaml:"password_hash_file"`
}

// PasswordHash reads the partner's bcrypt password hash, if configured.
func (c *Config) PasswordHash(p Partner) ([]byte, error) {
	if p.SFTP.PasswordHashFile == "" {
		return nil, nil
	}
	b, err := readFile(c.rel(p.SFTP.PasswordHashFile))
	if err != nil {
		return nil, err
	}
	h := strings.TrimSpace(string(b))
	if _, user, ok := strings.Cut(h, ":"); ok && !strings.HasPrefix(h, "$") { // htpasswd's user:hash
		h = user
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return nil, fmt.Errorf("%s is not a bcrypt hash: %v", p.SFTP.PasswordHashFile, err)
	}
	return []byte(h), nil
}

// PartnerX12 is how Wharf acknowledges a partner's X12.
type PartnerX12 struct {
	// Ack is the functional acknowledgment sent per group: 997 (default), 999 or none.
	Ack string `yaml:"ack"`
	// Strict turns length and code-list warnings into errors.
	Strict bool `yaml:"strict"`
	// AckTimeout: X12 groups Wharf sends this partner expect its 997/999
	// within this long (e.g. 4h); past it, an exception. Empty: none expected.
	AckTimeout string `yaml:"ack_timeout"`
}

// AckTimeoutDuration returns the partner's acknowledgment timeout (0: none).
func (x PartnerX12) AckTimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(x.AckTimeout)
	return d
}

func (c *Config) validateSFTP() error {
	s := c.SFTP
	if s.MaxSessions < 1 || s.MaxSessions > 10000 {
		return c.errAt("sftp.max_sessions", "%d is out of range 1..10000", s.MaxSessions)
	}
	if s.MaxSessionsPerIP < 1 || s.MaxSessionsPerIP > s.MaxSessions {
		return c.errAt("sftp.max_sessions_per_ip", "%d is out of range 1..%d (sftp.max_sessions)", s.MaxSessionsPerIP, s.MaxSessions)
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
	if _, err := c.HostKey(); err != nil {
		return c.errAt("sftp.host_key_file", "%v", err)
	}
	for i, ci := range s.Ciphers {
		if !slices.Contains(SFTPCiphers, ci) {
			return c.errAt(fmt.Sprintf("sftp.ciphers[%d]", i), "%q is not a cipher Wharf offers (use %s)", ci, strings.Join(SFTPCiphers, ", "))
		}
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

// SFTPRemote is a partner's SFTP server.
type SFTPRemote struct {
	Host    string `yaml:"host"`     // the partner's server
	Port    int    `yaml:"port"`     // default 22
	User    string `yaml:"user"`     // the user Wharf logs in as
	KeyFile string `yaml:"key_file"` // private key file ...
	KeyEnv  string `yaml:"key_env"`  // ... or the name of an environment variable holding it
	// HostKey pins the server's public host key (authorized_keys format, as
	// `ssh-keyscan` prints it without the host name). Required.
	HostKey string `yaml:"host_key"`
	// Timeout bounds the connection, the SSH handshake and the SFTP
	// session's start (default 30s): a server that accepts and never
	// answers holds a poll or a delivery no longer.
	Timeout string    `yaml:"timeout"`
	Pull    *SFTPPull `yaml:"pull"`
	Push    *SFTPPush `yaml:"push"`
}

// SFTPPull polls a remote folder on a schedule.
type SFTPPull struct {
	Folder   string `yaml:"folder"`   // the folder on the partner's server to fetch from
	Pattern  string `yaml:"pattern"`  // e.g. *.edi; default all files
	MinAge   string `yaml:"min_age"`  // skip files modified more recently (default 30s)
	After    string `yaml:"after"`    // delete (default), move or keep
	MoveTo   string `yaml:"move_to"`  // folder for after: move
	Schedule string `yaml:"schedule"` // cron (5 fields or @every 5m, @hourly, ...)
	Timezone string `yaml:"timezone"` // of schedule; IANA name, default UTC
}

// SFTPPush uploads outbound documents (acknowledgments included) to a remote folder.
type SFTPPush struct {
	Folder string `yaml:"folder"` // the folder on the partner's server to put documents in
}

// MinAgeDuration returns the pull's minimum file age.
func (p SFTPPull) MinAgeDuration() time.Duration {
	if p.MinAge == "" {
		return 30 * time.Second
	}
	d, _ := time.ParseDuration(p.MinAge)
	return d
}

// ScheduleOf returns the pull's schedule as a Schedule.
func (p SFTPPull) ScheduleOf(partner string) Schedule {
	return Schedule{Name: "sftp-pull:" + partner, Cron: p.Schedule, Timezone: p.Timezone, Job: "sftp.pull"}
}

// Key returns the remote's private key from its file or environment variable.
func (r SFTPRemote) Key(c *Config, getenv func(string) string) ([]byte, error) {
	if r.KeyEnv != "" {
		v := getenv(r.KeyEnv)
		if v == "" {
			return nil, fmt.Errorf("environment variable %s (sftp_remote.key_env) is empty", r.KeyEnv)
		}
		return []byte(v), nil
	}
	b, err := readFile(c.rel(r.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("sftp_remote.key_file: %v", err)
	}
	return b, nil
}

// TimeoutDuration is sftp_remote.timeout; 0 (the client's default, 30 s) when unset.
func (r *SFTPRemote) TimeoutDuration() time.Duration {
	d, _ := time.ParseDuration(r.Timeout)
	return d
}

func (c *Config) validateRemote(f string, r *SFTPRemote) error {
	f += ".sftp_remote"
	if r.Host == "" {
		return c.errAt(f+".host", "is required")
	}
	if r.User == "" {
		return c.errAt(f+".user", "is required")
	}
	if r.Port < 0 || r.Port > 65535 {
		return c.errAt(f+".port", "%d is not a port", r.Port)
	}
	if (r.KeyFile == "") == (r.KeyEnv == "") {
		return c.errAt(f, "set exactly one of key_file and key_env (the private key never goes in this file)")
	}
	if r.KeyFile != "" {
		if _, err := os.Stat(c.rel(r.KeyFile)); err != nil {
			return c.errAt(f+".key_file", "cannot read %s: %v", r.KeyFile, errors.Unwrap(err))
		}
	}
	if r.HostKey == "" {
		return c.errAt(f+".host_key", "is required: pin the server's host key (ssh-keyscan -p PORT HOST shows it)")
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(r.HostKey)); err != nil {
		return c.errAt(f+".host_key", "not a public key such as \"ssh-ed25519 AAAA...\": %v", err)
	}
	if r.Timeout != "" {
		if d, err := time.ParseDuration(r.Timeout); err != nil || d < time.Second || d > 10*time.Minute {
			return c.errAt(f+".timeout", "%q is not a duration from 1s to 10m (e.g. 30s)", r.Timeout)
		}
	}
	if p := r.Pull; p != nil {
		if p.Folder == "" {
			return c.errAt(f+".pull.folder", "is required")
		}
		if p.Pattern != "" {
			if _, err := path.Match(p.Pattern, ""); err != nil {
				return c.errAt(f+".pull.pattern", "%q: %v", p.Pattern, err)
			}
		}
		if p.MinAge != "" {
			if d, err := time.ParseDuration(p.MinAge); err != nil || d < 0 {
				return c.errAt(f+".pull.min_age", "%q is not a duration such as 30s or 5m", p.MinAge)
			}
		}
		switch p.After {
		case "", "delete", "keep":
		case "move":
			if p.MoveTo == "" {
				return c.errAt(f+".pull.move_to", "is required with after: move")
			}
		default:
			return c.errAt(f+".pull.after", "%q: use delete, move or keep", p.After)
		}
		if p.Schedule == "" {
			return c.errAt(f+".pull.schedule", "is required (e.g. \"*/5 * * * *\" or \"@every 5m\")")
		}
		if _, err := p.ScheduleOf("x").Parse(); err != nil {
			return c.errAt(scheduleField(err, f+".pull.schedule", f+".pull.timezone"), "%v", err)
		}
	}
	if p := r.Push; p != nil && p.Folder == "" {
		return c.errAt(f+".push.folder", "is required")
	}
	return nil
}

func (c *Config) validatePartnerPolicy(f string, p Partner) error {
	if _, err := c.PasswordHash(p); err != nil {
		return c.errAt(f+".sftp.password_hash_file", "%v", err)
	}
	if p.SFTPRemote != nil {
		if err := c.validateRemote(f, p.SFTPRemote); err != nil {
			return err
		}
	}
	for j, a := range p.SFTP.AllowIPs {
		if _, err := ParsePrefix(a); err != nil {
			return c.errAt(fmt.Sprintf("%s.sftp.allow_ips[%d]", f, j), "%v", err)
		}
	}
	if p.X12.AckTimeout != "" {
		if _, err := parseDuration(p.X12.AckTimeout); err != nil {
			return c.errAt(f+".x12.ack_timeout", "%v", err)
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
		for _, field := range []string{"keep", "delete"} {
			v := map[string]string{"keep": r.Keep, "delete": r.Delete}[field]
			if v != "" && !retentionRe.MatchString(v) {
				return c.errAt(f+"."+field, "%q is not a duration such as 30d, 12w or 7y", v)
			}
		}
		keep, del := retentionDays(r.Keep), retentionDays(r.Delete)
		if r.Delete != "" && del == 0 {
			return c.errAt(f+".delete", "%q would purge entries at once (0 is not \"never\"): give a duration such as 10y, or leave delete out to keep them forever", r.Delete)
		}
		if r.Delete != "" && del < keep {
			return c.errAt(f+".delete", "%q is shorter than keep %q: entries cannot be purged before they may be", r.Delete, r.Keep)
		}
	}
	return nil
}

// retentionDays is a retention duration (validated by retentionRe), 0 if empty.
func retentionDays(v string) time.Duration {
	if v == "" {
		return 0
	}
	d, _ := archive.ParseDays(v)
	return d
}

var retentionRe = regexp.MustCompile(`^[0-9]+(h|d|w|y)$`)
