package config

import (
	"encoding/hex"
	"net/url"
	"path"
	"strings"
	"time"
)

// PartnerFolder exchanges files with a partner (or an internal system such
// as an ERP's batch interface) through local or mounted folders.
type PartnerFolder struct {
	// Inbound is watched (fsnotify plus a periodic rescan); finished files
	// are archived, then moved to Processed (or deleted, or kept).
	Inbound string `yaml:"inbound"`
	Pattern string `yaml:"pattern"` // e.g. *.csv; default all files (dot names are always skipped)
	MinAge  string `yaml:"min_age"` // skip files modified more recently (default 0s)
	// Stable applies the size-stable rule: a file is taken once two scans
	// a second apart saw the same size and time (default true; writers
	// that write a dot name and rename can set false for lower latency).
	Stable    *bool  `yaml:"stable"`
	After     string `yaml:"after"`     // move (default), delete or keep
	Processed string `yaml:"processed"` // folder for after: move, relative to inbound (default processed)
	Error     string `yaml:"error"`     // folder for files the archive refuses for good (default error)
	Rescan    string `yaml:"rescan"`    // periodic rescan (default 30s)
	// Outbound receives the partner's outbound documents (transport
	// "folder"): a temporary dot name, fsync, then a rename.
	Outbound string `yaml:"outbound"`
}

// IsStable reports the size-stable rule's setting.
func (f PartnerFolder) IsStable() bool { return f.Stable == nil || *f.Stable }

// Durations returns min_age and rescan.
func (f PartnerFolder) Durations() (minAge, rescan time.Duration) {
	minAge, _ = time.ParseDuration(f.MinAge)
	rescan = 30 * time.Second
	if f.Rescan != "" {
		rescan, _ = time.ParseDuration(f.Rescan)
	}
	return minAge, rescan
}

// Folders returns the processed and error folders with their defaults.
func (f PartnerFolder) Folders() (processed, errorDir string) {
	processed, errorDir = f.Processed, f.Error
	if processed == "" {
		processed = "processed"
	}
	if errorDir == "" {
		errorDir = "error"
	}
	return processed, errorDir
}

// S3Remote is a bucket Wharf polls and pushes to (AWS S3, MinIO, any
// S3-compatible store).
type S3Remote struct {
	Endpoint  string `yaml:"endpoint"`   // host:port, e.g. s3.eu-west-1.amazonaws.com
	PlainHTTP bool   `yaml:"plain_http"` // http instead of https (a local MinIO)
	Region    string `yaml:"region"`     // e.g. eu-west-1
	Bucket    string `yaml:"bucket"`     // the bucket's name
	// AccessKeyEnv and SecretKeyEnv name environment variables holding the
	// credentials; unset, the usual AWS variables are used.
	AccessKeyEnv string  `yaml:"access_key_env"`
	SecretKeyEnv string  `yaml:"secret_key_env"`
	Pull         *S3Pull `yaml:"pull"`
	Push         *S3Push `yaml:"push"`
}

// S3Pull polls a prefix on a schedule.
type S3Pull struct {
	Prefix   string `yaml:"prefix"`   // objects under this prefix are fetched
	Pattern  string `yaml:"pattern"`  // e.g. *.edi, on the name after the prefix; default all
	MinAge   string `yaml:"min_age"`  // default 0s: S3 objects appear complete
	After    string `yaml:"after"`    // delete (default), move, tag or keep
	MoveTo   string `yaml:"move_to"`  // prefix for after: move
	Tag      string `yaml:"tag"`      // KEY=VALUE for after: tag (default wharf=archived)
	Schedule string `yaml:"schedule"` // cron (5 fields or @every 5m, @hourly, ...)
	Timezone string `yaml:"timezone"` // of schedule; IANA name, default UTC
}

// S3Push puts outbound documents under a prefix.
type S3Push struct {
	Prefix string `yaml:"prefix"` // documents for the partner are put under this prefix
}

// ScheduleOf returns the pull's schedule.
func (p S3Pull) ScheduleOf(partner string) Schedule {
	return Schedule{Name: "s3-pull:" + partner, Cron: p.Schedule, Timezone: p.Timezone, Job: "s3.pull"}
}

// Tags returns the after: tag tags.
func (p S3Pull) Tags() map[string]string {
	if p.Tag == "" {
		return nil
	}
	k, v, _ := strings.Cut(p.Tag, "=")
	return map[string]string{k: v}
}

// PartnerHTTP is HTTP in both directions.
type PartnerHTTP struct {
	// Inbound: POST /api/v1/inbound/{partner} with "Authorization: Bearer
	// TOKEN". The token comes from the environment variable TokenEnv, or
	// only its SHA-256 (hex) is configured in TokenSHA256.
	TokenEnv    string   `yaml:"token_env"`
	TokenSHA256 string   `yaml:"token_sha256"`
	MaxSizeMB   int      `yaml:"max_size_mb"` // default 100
	Webhook     *Webhook `yaml:"webhook"`
}

// Webhook posts the partner's outbound documents (transport "http").
type Webhook struct {
	URL       string `yaml:"url"`        // where documents are POSTed
	SecretEnv string `yaml:"secret_env"` // HMAC-SHA256 key for the X-Wharf-Signature header (required)
	Timeout   string `yaml:"timeout"`    // per attempt (default 30s)
}

// TimeoutDuration returns the webhook's per-attempt timeout.
func (w Webhook) TimeoutDuration() time.Duration {
	if d, err := time.ParseDuration(w.Timeout); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

func (c *Config) validateTransports(f string, p Partner) error {
	if fo := p.Folder; fo != nil {
		g := f + ".folder"
		if fo.Inbound == "" && fo.Outbound == "" {
			return c.errAt(g, "set inbound, outbound or both")
		}
		if fo.Pattern != "" {
			if _, err := path.Match(fo.Pattern, ""); err != nil {
				return c.errAt(g+".pattern", "%q: %v", fo.Pattern, err)
			}
		}
		for field, v := range map[string]string{"min_age": fo.MinAge, "rescan": fo.Rescan} {
			if v == "" {
				continue
			}
			if d, err := time.ParseDuration(v); err != nil || d < 0 || (field == "rescan" && d < time.Second) {
				return c.errAt(g+"."+field, "%q is not a duration such as 2s or 5m (rescan: at least 1s)", v)
			}
		}
		switch fo.After {
		case "", "move", "delete", "keep":
		default:
			return c.errAt(g+".after", "%q: use move, delete or keep", fo.After)
		}
		for field, v := range map[string]string{"processed": fo.Processed, "error": fo.Error} {
			if strings.HasPrefix(v, "/") || strings.Contains(v, "..") {
				return c.errAt(g+"."+field, "%q: a folder name inside inbound", v)
			}
		}
	}
	if s := p.S3Remote; s != nil {
		g := f + ".s3_remote"
		if s.Endpoint == "" {
			return c.errAt(g+".endpoint", "is required (host:port, e.g. s3.eu-west-1.amazonaws.com)")
		}
		if strings.Contains(s.Endpoint, "://") {
			return c.errAt(g+".endpoint", "%q: host:port without a scheme (plain_http: true for http)", s.Endpoint)
		}
		if len(s.Bucket) < 3 {
			return c.errAt(g+".bucket", "is required (at least 3 characters)")
		}
		if (s.AccessKeyEnv == "") != (s.SecretKeyEnv == "") {
			return c.errAt(g, "set both access_key_env and secret_key_env, or neither (then AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are used)")
		}
		if s.Pull == nil && s.Push == nil {
			return c.errAt(g, "set pull, push or both")
		}
		if pl := s.Pull; pl != nil {
			if pl.Pattern != "" {
				if _, err := path.Match(pl.Pattern, ""); err != nil {
					return c.errAt(g+".pull.pattern", "%q: %v", pl.Pattern, err)
				}
			}
			if pl.MinAge != "" {
				if d, err := time.ParseDuration(pl.MinAge); err != nil || d < 0 {
					return c.errAt(g+".pull.min_age", "%q is not a duration such as 30s", pl.MinAge)
				}
			}
			switch pl.After {
			case "", "delete", "keep":
			case "move":
				if pl.MoveTo == "" {
					return c.errAt(g+".pull.move_to", "is required with after: move")
				}
			case "tag":
				if pl.Tag != "" && !strings.Contains(pl.Tag, "=") {
					return c.errAt(g+".pull.tag", "%q: use KEY=VALUE", pl.Tag)
				}
			default:
				return c.errAt(g+".pull.after", "%q: use delete, move, tag or keep", pl.After)
			}
			if pl.Schedule == "" {
				return c.errAt(g+".pull.schedule", "is required (e.g. \"@every 1m\")")
			}
			if _, err := pl.ScheduleOf("x").Parse(); err != nil {
				return c.errAt(scheduleField(err, g+".pull.schedule", g+".pull.timezone"), "%v", err)
			}
		}
	}
	if h := p.HTTP; h != nil {
		g := f + ".http"
		if h.TokenEnv != "" && h.TokenSHA256 != "" {
			return c.errAt(g, "set token_env or token_sha256, not both")
		}
		if h.TokenSHA256 != "" {
			if b, err := hex.DecodeString(h.TokenSHA256); err != nil || len(b) != 32 {
				return c.errAt(g+".token_sha256", "64 hex digits (sha256sum of the token)")
			}
		}
		if h.MaxSizeMB < 0 {
			return c.errAt(g+".max_size_mb", "must not be negative")
		}
		if w := h.Webhook; w != nil {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return c.errAt(g+".webhook.url", "%q is not an http(s) URL", w.URL)
			}
			if w.SecretEnv == "" {
				return c.errAt(g+".webhook.secret_env", "is required: the receiver checks the HMAC signature with this secret")
			}
			if w.Timeout != "" {
				if d, err := time.ParseDuration(w.Timeout); err != nil || d <= 0 {
					return c.errAt(g+".webhook.timeout", "%q is not a duration such as 30s", w.Timeout)
				}
			}
		}
	}
	return nil
}
