package config

// Limits are the rate limits (docs/operations.md, "Rate limits"). Over a
// limit the REST API, the HTTP inbound and AS2 answer 429 with
// Retry-After, and the SFTP server refuses to open a file for writing.
// With PostgreSQL every instance shares the limits; with SQLite they are
// kept in memory.
type Limits struct {
	// API limits each API token's requests to the REST API; default 1200
	// per minute, burst 200.
	API Rate `yaml:"api"`
	// Inbound limits each partner at each inbound door: HTTP inbound
	// requests, AS2 messages, SFTP uploads (files); default 12000 per
	// minute (200 a second), burst 5000: a month-end burst of a few
	// thousand small files passes, a runaway sender is held. A partner's
	// own limits replace it.
	Inbound Rate `yaml:"inbound"`
}

// Rate is a sustained rate with a burst.
type Rate struct {
	// PerMinute is the sustained rate: requests (SFTP: files) per minute;
	// 0 turns the limit off.
	PerMinute int `yaml:"per_minute"`
	// Burst is how many may come at once before the rate applies (at
	// least 1 when per_minute is set). In a partner's limits, 0 takes
	// limits.inbound.burst.
	Burst int `yaml:"burst"`
}

// PartnerInbound is the inbound limit of partner id: its own limits if it
// has some, else limits.inbound.
func (c *Config) PartnerInbound(id string) Rate {
	r := c.Limits.Inbound
	p, ok := c.PartnerByID(id)
	if !ok || p.Limits == nil {
		return r
	}
	own := *p.Limits
	if own.Burst == 0 {
		own.Burst = r.Burst
	}
	return own
}

// validateRate checks a rate at field f; own is a partner's override,
// whose burst may be 0 (limits.inbound's).
func (c *Config) validateRate(f string, r Rate, own bool) error {
	if r.PerMinute < 0 || r.PerMinute > 1_000_000 {
		return c.errAt(f+".per_minute", "%d is out of range 0..1000000 (0: no limit)", r.PerMinute)
	}
	if r.Burst < 0 || r.Burst > 100_000 {
		return c.errAt(f+".burst", "%d is out of range 1..100000", r.Burst)
	}
	if r.Burst == 0 && r.PerMinute > 0 && !own {
		return c.errAt(f+".burst", "must be at least 1 when per_minute is set")
	}
	return nil
}
