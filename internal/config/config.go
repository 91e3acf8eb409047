// Package config loads Wharf's one YAML configuration file: where data and
// listeners live, the database and archive, partners and schedules.
//
// Lifecycle: Default fills the embedded defaults; Load decodes a file on top
// of them strictly (an unknown key is an error naming file:line and the
// field); ApplyEnv applies the WHARF_* environment overrides; Validate returns
// the first problem, again with file:line and the field. Nothing is silently
// replaced. Secrets are never read from the file itself: a database password
// comes from WHARF_DATABASE_URL or database.url_file.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/wharfedi/wharf/internal/store"
)

// Config is the whole configuration.
type Config struct {
	// Data is the data folder: SQLite database, archive, SSH host key.
	Data      string          `yaml:"data"`
	Log       Log             `yaml:"log"`
	HTTP      Listener        `yaml:"http"`
	Metrics   Metrics         `yaml:"metrics"`
	SFTP      SFTPServer      `yaml:"sftp"`
	Database  Database        `yaml:"database"`
	Archive   Archive         `yaml:"archive"`
	Partners  []Partner       `yaml:"partners"`
	Schedules []Schedule      `yaml:"schedules"`
	Jobs      JobsConfig      `yaml:"jobs"`
	Layouts   []Layout        `yaml:"layouts"`
	AS2       AS2             `yaml:"as2"`       // as2.go
	Sync      Sync            `yaml:"sync"`      // sync.go
	Events    []EventSub      `yaml:"events"`    // events.go: subscriptions publishing Wharf's events
	EventsIn  []EventIn       `yaml:"events_in"` // events.go: broker subjects and queues Wharf takes documents from
	Limits    Limits          `yaml:"limits"`    // limits.go: rate limits per API token and per partner inbound
	src       *source         // where values came from, for error positions
	env       map[string]bool // fields set from the environment
	getenv    func(string) string
}

// Log selects the log format and level.
type Log struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// Metrics protects GET /metrics: with a token (from TokenFile, or
// WHARF_METRICS_TOKEN, which wins) it answers only requests bearing it; the
// metrics name partners and certificates.
type Metrics struct {
	// TokenFile names a file holding the bearer token GET /metrics then
	// requires (at least 16 characters); unset, /metrics is open.
	TokenFile string `yaml:"token_file"`
}

// MetricsToken is the token /metrics requires, "" for none.
func (c *Config) MetricsToken() (string, error) {
	if v := c.Getenv("WHARF_METRICS_TOKEN"); v != "" {
		return strings.TrimSpace(v), nil
	}
	if f := c.Metrics.TokenFile; f != "" {
		b, err := readFile(c.rel(f))
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %v", f, errors.Unwrap(err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// Listener is the HTTP listener: its address and, to serve HTTPS itself,
// its certificate.
type Listener struct {
	Addr string `yaml:"addr"` // HOST:PORT; 0.0.0.0:PORT listens on every interface
	// TLSCertFile (PEM, the certificate then its chain) and TLSKeyFile (PEM)
	// make the listener serve HTTPS; Wharf reads them again when they
	// change, so a renewed certificate needs no restart. Unset: plain HTTP,
	// for a listener on 127.0.0.1 or behind a TLS reverse proxy
	// (docs/operations.md).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
}

// HTTPTLSFiles returns http.tls_cert_file and http.tls_key_file, resolved
// against the configuration file's folder; "" when HTTP is plain.
func (c *Config) HTTPTLSFiles() (cert, key string) {
	if c.HTTP.TLSCertFile == "" {
		return "", ""
	}
	return c.rel(c.HTTP.TLSCertFile), c.rel(c.HTTP.TLSKeyFile)
}

// HTTPScheme is https when the HTTP listener serves TLS, else http.
func (c *Config) HTTPScheme() string {
	if c.HTTP.TLSCertFile != "" {
		return "https"
	}
	return "http"
}

// Database selects PostgreSQL; without it Wharf uses SQLite in the data folder.
type Database struct {
	// URL is a postgres:// URL or a libpq keyword/value string
	// ("host=db user=wharf dbname=wharf"), without a password. A database
	// on the same machine can be reached through its Unix socket:
	// postgres://wharf@/wharf?host=/run/postgresql.
	URL string `yaml:"url"`
	// URLFile names a file holding the full URL or keyword/value string
	// (password included).
	URLFile string `yaml:"url_file"`
}

// Archive says where archived bytes live: a folder (default: DATA/archive)
// or s3://BUCKET/PREFIX?endpoint=HOST:PORT.
type Archive struct {
	URL string `yaml:"url"` // a folder, or s3://BUCKET/PREFIX?endpoint=HOST:PORT (docs/archive.md); default DATA/archive
	// Retention rules: one without a partner (the default) and one per
	// partner at most. Durations take h, d, w or y (365 days).
	Retention []RetentionRule `yaml:"retention"`
	// A folder archive fsyncs each file and folder it writes
	// instead of sharing one flush of its file system (syncfs) among the
	// files archived at the same moment. For a data folder on a file system
	// that other programs write to heavily, whose data each flush would
	// write too. Linux only; elsewhere every file is fsync'd anyway.
	FsyncEach bool `yaml:"fsync_each"`
	// A folder archive keeps the bytes of files up to this many KiB in its
	// index database, written in the transaction that records them,
	// instead of in files of their own: most EDI files, archived without
	// a file, a link and a flush of the file system each; SFTP uploads that
	// small are staged in memory (16 at most per session). Default 16; 0
	// keeps every file in the folder. Up to 256. An S3 archive keeps every
	// file in its bucket (0 only).
	InlineKB *int `yaml:"inline_kb"`
}

// DefaultArchiveInlineKB is archive.inline_kb when unset, for a folder
// archive; MaxArchiveInlineKB its largest value, which bounds what SFTP
// sessions hold in memory (64 sessions x 16 uploads x 256 KiB) and what
// one group commit of the archive carries (256 entries).
const (
	DefaultArchiveInlineKB = 16
	MaxArchiveInlineKB     = 256
)

// InlineMax is the largest file, in bytes, the archive keeps in its index
// (archive.inline_kb): 0 for an S3 archive.
func (a Archive) InlineMax() int64 {
	if strings.HasPrefix(a.URL, "s3://") {
		return 0
	}
	if a.InlineKB == nil {
		return DefaultArchiveInlineKB << 10
	}
	return int64(*a.InlineKB) << 10
}

// RetentionRule keeps archived entries at least keep and purges them after delete.
type RetentionRule struct {
	Partner string `yaml:"partner"` // empty: every partner without a rule of its own
	Keep    string `yaml:"keep"`    // a purge refuses younger entries, e.g. 7y
	Delete  string `yaml:"delete"`  // the retention job purges older entries, e.g. 10y; empty: never
}

// RetentionSpec renders the rules in the archive's rule syntax
// ("keep=7y,delete=10y;acme:keep=30d").
func (a Archive) RetentionSpec() string {
	var parts []string
	for _, r := range a.Retention {
		var kv []string
		if r.Keep != "" {
			kv = append(kv, "keep="+r.Keep)
		}
		if r.Delete != "" {
			kv = append(kv, "delete="+r.Delete)
		}
		p := strings.Join(kv, ",")
		if r.Partner != "" {
			p = r.Partner + ":" + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ";")
}

// JobsConfig tunes the job runtime.
type JobsConfig struct {
	Workers int `yaml:"workers"` // concurrent jobs; default 300
	// FailoverAfter: an instance silent this long (no heartbeat) is gone,
	// and a survivor returns its running jobs to the queue; default 30s.
	FailoverAfter string `yaml:"failover_after"`
}

// Failover is jobs.failover_after (0: the default).
func (j JobsConfig) Failover() time.Duration {
	d, _ := time.ParseDuration(j.FailoverAfter)
	return d
}

// Partner declares a trading partner; it is upserted into the store at start.
type Partner struct {
	ID          string      `yaml:"id"`            // short and stable: the SFTP user name and a folder name (letters, digits, '.', '_', '-')
	Name        string      `yaml:"name"`          // display name
	X12IDs      []string    `yaml:"x12_ids"`       // QUALIFIER:ID, e.g. ZZ:ACME
	SSHKeys     []string    `yaml:"ssh_keys"`      // authorized_keys lines
	SSHKeyFiles []string    `yaml:"ssh_key_files"` // files of authorized_keys lines
	SFTP        PartnerSFTP `yaml:"sftp"`
	X12         PartnerX12  `yaml:"x12"`
	// SFTPRemote is the partner's own SFTP server that Wharf polls and pushes to.
	SFTPRemote *SFTPRemote     `yaml:"sftp_remote"`
	Mapping    *PartnerMapping `yaml:"mapping"`   // the partner's dialect (mapping.go)
	Folder     *PartnerFolder  `yaml:"folder"`    // watched inbound and outbound folders (transports.go)
	S3Remote   *S3Remote       `yaml:"s3_remote"` // a bucket Wharf polls and pushes to (transports.go)
	HTTP       *PartnerHTTP    `yaml:"http"`      // inbound POST with a token, outbound webhook (transports.go)
	AS2        *PartnerAS2     `yaml:"as2"`       // AS2 name, certificates, signing/encryption, MDN mode (as2.go)
	// Role: erp, tms, wms, invoicing (internal systems), carrier or
	// customer; the sync's ownership rules and routes name roles.
	Role string `yaml:"role"`
	// ChargeTolerance: how far the partner's freight invoices may be from
	// the tendered charge ("2%", "5.00" or "2%,5.00"; default exact).
	ChargeTolerance string `yaml:"charge_tolerance"`
	// Test marks the partner as being onboarded: every file it sends is
	// test traffic (validated, acknowledged and mapped, but changing no
	// order, shipment or invoice), and it receives test traffic only.
	Test bool `yaml:"test"`
	// Limits overrides limits.inbound for this partner's inbound doors
	// (limits.go).
	Limits *Rate `yaml:"limits"`
}

// Schedule runs a job on a cron schedule in a time zone.
type Schedule struct {
	Name     string `yaml:"name"`     // unique; names the schedule in logs, metrics and the console
	Cron     string `yaml:"cron"`     // 5 fields (minute hour day-of-month month day-of-week) or @hourly, @daily, ...
	Timezone string `yaml:"timezone"` // IANA name; default UTC
	Job      string `yaml:"job"`      // job name, see `wharf config check` for the list
}

// Default returns the embedded defaults: everything works with no file.
func Default() *Config {
	return &Config{
		Data: "wharf-data",
		Log:  Log{Format: "text", Level: "info"},
		HTTP: Listener{Addr: "127.0.0.1:8080"},
		SFTP: SFTPServer{Addr: "127.0.0.1:2222", MaxSessions: 64, MaxSessionsPerIP: 16, IdleTimeout: "10m", LockoutAttempts: 5, LockoutWindow: "15m"},
		Jobs: JobsConfig{Workers: 300},
		Limits: Limits{
			API:     Rate{PerMinute: 1200, Burst: 200},
			Inbound: Rate{PerMinute: 12000, Burst: 5000},
		},
	}
}

// Error is a configuration problem with its position.
type Error struct {
	File  string // config file, or "environment"
	Line  int    // 0 when unknown
	Field string // e.g. schedules[1].cron
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads the file at path over the defaults. An empty path returns the
// defaults. When the file parses but has problems (unknown keys, values of
// the wrong shape) Load returns them all, as Errors, together with the
// configuration decoded as far as it could be, so that Validate can add
// its own findings (Join) and a person sees every problem at once. A file
// that cannot be read or parsed returns a nil *Config.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", errors.Unwrap(err))}
	}
	if parsed, err := c.decode(path, b); !parsed {
		return nil, err
	} else if err != nil {
		return c, err
	}
	return c, nil
}

var typeErrorRe = regexp.MustCompile(`^line ([0-9]+): (.*)$`)

// decode reads b over c. parsed is false when b is not YAML; err holds
// every problem found.
func (c *Config) decode(path string, b []byte) (parsed bool, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return false, syntaxError(path, b, err)
	}
	src := &source{file: path, lines: map[string]int{}}
	c.src = src
	if len(doc.Content) == 0 {
		return true, nil // empty file: defaults
	}
	root := doc.Content[0]
	src.check(root, typeOf(c), "")
	errs := src.errs
	if err := root.Decode(c); err != nil {
		// What check did not find already (a value yaml cannot convert).
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return false, &Error{File: path, Msg: err.Error()}
		}
		for _, msg := range te.Errors {
			e := &Error{File: path, Msg: msg}
			if m := typeErrorRe.FindStringSubmatch(msg); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Msg = m[2]
			}
			if !slices.ContainsFunc(src.errs, func(x *Error) bool { return e.Line != 0 && x.Line == e.Line }) {
				errs = append(errs, e)
			}
		}
	}
	return true, errs.err()
}

// Join combines the problems of Load and Validate (either may be nil)
// into one error: nil, an *Error, or Errors in the order of the file.
func Join(errs ...error) error {
	var all Errors
	for _, err := range errs {
		all.add(err)
	}
	return all.err()
}

// EnvOverride is an environment variable that wins over a field of the file.
type EnvOverride struct {
	Field string // e.g. http.addr
	Var   string // e.g. WHARF_HTTP_ADDR
	dst   func(*Config) *string
}

// Env lists the environment overrides, in the order they are applied.
var Env = []EnvOverride{
	{"data", "WHARF_DATA", func(c *Config) *string { return &c.Data }},
	{"database.url", "WHARF_DATABASE_URL", func(c *Config) *string { return &c.Database.URL }},
	{"archive.url", "WHARF_ARCHIVE_URL", func(c *Config) *string { return &c.Archive.URL }},
	{"http.addr", "WHARF_HTTP_ADDR", func(c *Config) *string { return &c.HTTP.Addr }},
	{"sftp.addr", "WHARF_SFTP_ADDR", func(c *Config) *string { return &c.SFTP.Addr }},
	{"log.format", "WHARF_LOG_FORMAT", func(c *Config) *string { return &c.Log.Format }},
	{"log.level", "WHARF_LOG_LEVEL", func(c *Config) *string { return &c.Log.Level }},
}

// ApplyEnv applies WHARF_* overrides from getenv (os.Getenv in production)
// and keeps getenv as the environment the configuration's secret_env,
// token_env and key_env fields are read from (Getenv).
func (c *Config) ApplyEnv(getenv func(string) string) {
	c.getenv = getenv
	if c.env == nil {
		c.env = map[string]bool{}
	}
	for _, e := range Env {
		if v := getenv(e.Var); v != "" {
			*e.dst(c) = v
			c.env[e.Field] = true
		}
	}
}

// Getenv reads a variable of the environment the configuration was
// resolved with (the one given to ApplyEnv; os.Getenv before that). The
// application reads every secret a field names (secret_env, token_env,
// key_env, access_key_env) through it, so a caller such as the demo can give
// its own without changing the process's environment.
func (c *Config) Getenv(name string) string {
	if c.getenv != nil {
		return c.getenv(name)
	}
	return os.Getenv(name)
}

// SetData overrides the data folder (the --data flag).
func (c *Config) SetData(dir string) {
	c.Data = dir
	if c.env == nil {
		c.env = map[string]bool{}
	}
	c.env["data"] = true
}

func (c *Config) errAt(field, format string, args ...any) *Error {
	e := &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
	if c.env[field] {
		e.File = "environment"
		return e
	}
	if c.src != nil {
		e.File = c.src.file
		e.Line = c.src.line(field)
	}
	return e
}

// ValidateOptions carries what Validate cannot know by itself.
type ValidateOptions struct {
	// Jobs are the job names a schedule may run.
	Jobs []string
	// Sync checks the sync section's names (events, objects); it returns
	// the field at fault.
	Sync func(c *Config) (field string, err error)
	// Tolerance checks a partner's charge_tolerance.
	Tolerance func(s string) error
}

// Validate returns every problem in the configuration: nil, an *Error,
// or Errors in the order of the file. Each field, and each section checked
// as a whole (sftp, a partner's transports, as2, the sync, the layouts), is
// reported once, with its first problem.
func (c *Config) Validate(opts ValidateOptions) error {
	var errs Errors
	add := errs.add
	if strings.TrimSpace(c.Data) == "" {
		add(c.errAt("data", "must name a folder"))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add(c.errAt("log.format", "%q is not a log format: use text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(c.errAt("log.level", "%q is not a log level: use debug, info, warn or error", c.Log.Level))
	}
	for _, l := range []struct{ field, addr string }{{"http.addr", c.HTTP.Addr}, {"sftp.addr", c.SFTP.Addr}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			why := err.Error()
			if ae, ok := errors.AsType[*net.AddrError](err); ok {
				why = ae.Err // without the address, which the message names already
			}
			add(c.errAt(l.field, "%q is not HOST:PORT: %s", l.addr, why))
		}
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		add(c.errAt("http.tls_cert_file", "set both http.tls_cert_file and http.tls_key_file, or neither"))
	} else if cert, key := c.HTTPTLSFiles(); cert != "" {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			add(c.errAt("http.tls_cert_file", "with http.tls_key_file: %v", err))
		}
	}
	add(c.validateSFTP())
	add(c.validateRate("limits.api", c.Limits.API, false))
	add(c.validateRate("limits.inbound", c.Limits.Inbound, false))
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 1000 {
		add(c.errAt("jobs.workers", "%d is out of range 1..1000", c.Jobs.Workers))
	}
	if tok, err := c.MetricsToken(); err != nil {
		add(c.errAt("metrics.token_file", "%v", err))
	} else if tok != "" && len(tok) < 16 {
		add(c.errAt("metrics.token_file", "the metrics token is %d characters: use at least 16 (e.g. openssl rand -hex 24)", len(tok)))
	}
	if f := c.Jobs.FailoverAfter; f != "" {
		// Heartbeats come every 5 s: a shorter bound would fail over live instances.
		if d, err := time.ParseDuration(f); err != nil || d < 15*time.Second {
			add(c.errAt("jobs.failover_after", "%q is not a duration of at least 15s (e.g. 30s, 2m)", f))
		}
	}
	add(c.validateDatabase())
	if u := c.Archive.URL; u != "" && strings.Contains(u, "://") && !strings.HasPrefix(u, "s3://") {
		add(c.errAt("archive.url", "%q: use a folder path or s3://BUCKET/PREFIX?endpoint=HOST:PORT", u))
	}
	if k := c.Archive.InlineKB; k != nil {
		switch {
		case *k < 0 || *k > MaxArchiveInlineKB:
			add(c.errAt("archive.inline_kb", "%d: use 0 (every file in the folder) to %d KiB (default %d)", *k, MaxArchiveInlineKB, DefaultArchiveInlineKB))
		case *k > 0 && strings.HasPrefix(c.Archive.URL, "s3://"):
			add(c.errAt("archive.inline_kb", "%d: an S3 archive keeps every file in its bucket (its Object Lock and lifecycle rules govern them); remove the key or set 0", *k))
		}
	}
	add(c.validateRetention())
	seen := map[string]int{}
	for i, p := range c.Partners {
		f := fmt.Sprintf("partners[%d]", i)
		if err := store.ValidPartnerID(p.ID); err != nil {
			add(c.errAt(f+".id", "%s", store.Reason(err)))
		} else if j, dup := seen[p.ID]; dup {
			add(c.errAt(f+".id", "partner %q is declared twice (also partners[%d])", p.ID, j))
		} else {
			seen[p.ID] = i
		}
		for j, x := range p.X12IDs {
			if _, err := ParseX12ID(x); err != nil {
				add(c.errAt(fmt.Sprintf("%s.x12_ids[%d]", f, j), "%v", err))
			}
		}
		for j, k := range p.SSHKeys {
			if _, _, err := store.ParseSSHKey(k); err != nil {
				add(c.errAt(fmt.Sprintf("%s.ssh_keys[%d]", f, j), "not an authorized_keys line: %v", errors.Unwrap(err)))
			}
		}
		for j, kf := range p.SSHKeyFiles {
			if _, err := readKeyFile(c.rel(kf)); err != nil {
				add(c.errAt(fmt.Sprintf("%s.ssh_key_files[%d]", f, j), "%v", err))
			}
		}
		add(c.validatePartnerPolicy(f, p))
		add(c.validateTransports(f, p))
		if p.Limits != nil {
			add(c.validateRate(f+".limits", *p.Limits, true))
		}
	}
	add(c.validateAS2())
	add(c.validateMapping())
	add(c.validateSync(opts))
	add(c.validateEvents())
	add(c.validateEventsIn())
	jobs := map[string]bool{}
	for _, j := range opts.Jobs {
		jobs[j] = true
	}
	names := map[string]bool{}
	for i, s := range c.Schedules {
		f := fmt.Sprintf("schedules[%d]", i)
		switch {
		case s.Name == "":
			add(c.errAt(f+".name", "is required"))
		case names[s.Name]:
			add(c.errAt(f+".name", "schedule %q is declared twice", s.Name))
		}
		names[s.Name] = true
		if _, err := s.Parse(); err != nil {
			add(c.errAt(scheduleField(err, f+".cron", f+".timezone"), "%v", err))
		}
		if !jobs[s.Job] {
			add(c.errAt(f+".job", "unknown job %q (known: %s)", s.Job, strings.Join(opts.Jobs, ", ")))
		}
	}
	return errs.err()
}

func (c *Config) validateDatabase() error {
	if c.Database.URL != "" && c.Database.URLFile != "" && !c.env["database.url"] {
		return c.errAt("database", "set url or url_file, not both")
	}
	if u := c.Database.URL; u != "" {
		// Messages name the address only through store.RedactURL: it may
		// come from WHARF_DATABASE_URL with its password.
		pg, password, err := store.InspectDSN(u)
		if pg && err == nil && (strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")) {
			// A URL must name its host: after the @, or in a parameter
			// (host, for a Unix socket's folder as well:
			// postgres://wharf@/wharf?host=/run/postgresql; or service, a
			// pg_service.conf entry that holds it).
			if pu, perr := url.Parse(u); perr != nil || pu.Host == "" && !namesHost(pu.Query()) {
				pg = false
			}
		}
		if !pg || err != nil {
			return c.errAt("database.url", "%s is not a postgres://USER@HOST:PORT/DATABASE URL (postgres://USER@/DATABASE?host=SOCKET_FOLDER for a Unix socket) or a host=HOST port=PORT user=USER dbname=DATABASE connection string", store.RedactURL(u))
		}
		if password && !c.env["database.url"] {
			return c.errAt("database.url", "holds a password: keep secrets out of the config file (use WHARF_DATABASE_URL or database.url_file)")
		}
	}
	if f := c.Database.URLFile; f != "" {
		if _, err := readFile(c.rel(f)); err != nil {
			return c.errAt("database.url_file", "cannot read %s: %v", f, errors.Unwrap(err))
		}
	}
	return nil
}

// namesHost tells whether a postgres:// URL's parameters name the server.
func namesHost(q url.Values) bool {
	return q.Get("host") != "" || q.Get("service") != ""
}

// readFile reads a file the configuration names (a secret, a key, a
// hash): a regular file of at most 1 MiB, so that a path to a device or a
// pipe (/dev/stdin, /dev/zero) is refused instead of blocking or filling
// memory.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	if fi.Size() > 1<<20 {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%d bytes, more than the 1 MiB a secret or key file may hold", fi.Size())}
	}
	return os.ReadFile(path)
}

// rel resolves a path relative to the config file's folder.
func (c *Config) rel(p string) string {
	if filepath.IsAbs(p) || c.src == nil || c.src.file == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.src.file), p)
}

// DatabaseURL returns the PostgreSQL URL, or "" for SQLite.
func (c *Config) DatabaseURL() (string, error) {
	if c.Database.URL != "" {
		return c.Database.URL, nil
	}
	if f := c.Database.URLFile; f != "" {
		b, err := readFile(c.rel(f))
		if err != nil {
			return "", c.errAt("database.url_file", "cannot read %s: %v", f, errors.Unwrap(err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// SQLitePath is the SQLite database file inside the data folder.
func (c *Config) SQLitePath() string { return filepath.Join(c.Data, "wharf.db") }

// ArchiveURL is the archive location: the configured one, or DATA/archive.
func (c *Config) ArchiveURL() string {
	if c.Archive.URL != "" {
		return c.Archive.URL
	}
	return filepath.Join(c.Data, "archive")
}

// StorePartners converts the declared partners for the store, reading key files.
func (c *Config) StorePartners() ([]*store.Partner, error) {
	var out []*store.Partner
	for i, p := range c.Partners {
		sp := &store.Partner{ID: p.ID, Name: p.Name, Source: "config", SSHKeys: append([]string(nil), p.SSHKeys...)}
		for _, x := range p.X12IDs {
			id, err := ParseX12ID(x)
			if err != nil {
				return nil, c.errAt(fmt.Sprintf("partners[%d].x12_ids", i), "%v", err)
			}
			sp.X12IDs = append(sp.X12IDs, id)
		}
		for j, kf := range p.SSHKeyFiles {
			keys, err := readKeyFile(c.rel(kf))
			if err != nil {
				return nil, c.errAt(fmt.Sprintf("partners[%d].ssh_key_files[%d]", i, j), "%v", err)
			}
			sp.SSHKeys = append(sp.SSHKeys, keys...)
		}
		out = append(out, sp)
	}
	return out, nil
}

// ParseX12ID parses QUALIFIER:ID as used in ISA05/06 and ISA07/08.
func ParseX12ID(s string) (store.X12ID, error) { return store.ParseX12ID(s) }

func readKeyFile(path string) ([]string, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	var keys []string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, _, err := store.ParseSSHKey(line); err != nil {
			return nil, fmt.Errorf("%s:%d: not an authorized_keys line: %v", path, n+1, errors.Unwrap(err))
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public key", path)
	}
	return keys, nil
}

// Parse returns the schedule's cron schedule in its time zone.
func (s Schedule) Parse() (cron.Schedule, error) {
	if strings.Contains(s.Cron, "TZ=") {
		return nil, errors.New("set the time zone with the timezone field, not inside the cron expression")
	}
	tz := s.Timezone
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, &FieldError{Field: FieldTimezone, Msg: fmt.Sprintf("unknown time zone %q (use an IANA name such as Europe/Berlin)", tz)}
	}
	sched, err := cronParser.Parse("CRON_TZ=" + tz + " " + s.Cron)
	if err != nil {
		return nil, &FieldError{Field: FieldCron, Msg: fmt.Sprintf("bad cron expression %q: %v (use 5 fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly)", s.Cron, err)}
	}
	return sched, nil
}

// FieldError is a problem with one part of a value, named by its role
// (FieldCron, FieldTimezone) rather than by its path: Validate turns it into
// an *Error naming the file, line and the field where the value came from.
type FieldError struct {
	Field string
	Msg   string
}

// The parts of a schedule a FieldError can name.
const (
	FieldCron     = "cron"
	FieldTimezone = "timezone"
)

func (e *FieldError) Error() string { return e.Msg }

// scheduleField picks the field a schedule's parse error belongs to: the
// time zone field when the zone is the problem, else the expression's.
func scheduleField(err error, cronField, tzField string) string {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Field == FieldTimezone {
		return tzField
	}
	return cronField
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Note: @every DURATION (e.g. @every 5m) is accepted as a descriptor.

// File is the configuration file c was loaded from ("" for defaults and
// the environment alone).
func (c *Config) File() string {
	if c.src == nil {
		return ""
	}
	return c.src.file
}
