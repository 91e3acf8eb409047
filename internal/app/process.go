package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/process"
)

// newProcessor returns the processing stage with the partners' X12 policies.
func NewProcessor(c *config.Config, st store.Store, a *archive.Archive, emit func(ctx context.Context, m *store.Message, seq int, d canonical.Document) error, now func() time.Time, log *slog.Logger) *process.Processor {
	return &process.Processor{
		Archive: a, Store: st, Logger: log, Emit: emit, Now: now,
		Policy: func(partner string) process.Policy {
			p, _ := c.PartnerByID(partner)
			return process.Policy{Ack: p.X12.Ack, Strict: p.X12.Strict, AckTimeout: p.X12.AckTimeoutDuration()}
		},
		Profile: cachedProfiles(func(partner string) *mapping.Profile {
			var cp *config.Partner
			if p, ok := c.PartnerByID(partner); ok {
				cp = &p
			}
			prof, err := Profile(partner, cp)
			if err != nil {
				log.Error("mapping profile unusable; using the default dialect", "partner", partner, "err", err)
				return nil
			}
			return prof
		}),
		Layout: cachedLayouts(func(partner string) *mapping.RecordLayout {
			p, ok := c.PartnerByID(partner)
			if !ok || p.Mapping == nil || p.Mapping.Layout == "" {
				return nil
			}
			prof, err := Profile(partner, &p)
			if err == nil {
				var l *mapping.RecordLayout
				if l, err = Layout(c, p.Mapping.Layout, prof); err == nil {
					return l
				}
			}
			log.Error("partner's layout unusable; its files are kept unmapped", "partner", partner, "layout", p.Mapping.Layout, "err", err)
			return nil
		}),
	}
}

// cachedLayouts builds each partner's record layout once.
func cachedLayouts(build func(string) *mapping.RecordLayout) func(string) *mapping.RecordLayout {
	var mu sync.Mutex
	cache := map[string]*mapping.RecordLayout{}
	return func(partner string) *mapping.RecordLayout {
		mu.Lock()
		defer mu.Unlock()
		if l, ok := cache[partner]; ok {
			return l
		}
		l := build(partner)
		cache[partner] = l
		return l
	}
}

// sftpOptions turns the configuration into the SFTP server's options.
func sftpOptions(c *config.Config, g *gateway.Gateway, log *slog.Logger, reg prometheus.Registerer) server.SFTPOptions {
	idle, lockout := c.SFTP.Durations()
	return server.SFTPOptions{
		Receiver:        g,
		Outbox:          g,
		SpoolDir:        filepath.Join(c.Data, "spool", "sftp"),
		MaxFileSize:     int64(c.SFTP.MaxFileSizeMB) << 20,
		MaxSessions:     c.SFTP.MaxSessions,
		IdleTimeout:     idle,
		LockoutAttempts: c.SFTP.LockoutAttempts,
		LockoutWindow:   lockout,
		Ciphers:         c.SFTP.Ciphers,
		Logger:          log,
		Metrics:         reg,
		Policy: func(partner string) server.PartnerPolicy {
			p, ok := c.PartnerByID(partner)
			if !ok {
				return server.PartnerPolicy{}
			}
			pol := server.PartnerPolicy{AllowDelete: p.SFTP.AllowDelete}
			pol.PasswordHash, _ = c.PasswordHash(p) // validated at start
			for _, a := range p.SFTP.AllowIPs {
				if pre, err := config.ParsePrefix(a); err == nil {
					pol.AllowIPs = append(pol.AllowIPs, pre)
				}
			}
			return pol
		},
	}
}

// cachedProfiles builds each partner's mapping profile once (the config does
// not change while the server runs).
func cachedProfiles(build func(string) *mapping.Profile) func(string) *mapping.Profile {
	var mu sync.Mutex
	cache := map[string]*mapping.Profile{}
	return func(partner string) *mapping.Profile {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := cache[partner]; ok {
			return p
		}
		p := build(partner)
		cache[partner] = p
		return p
	}
}

// ackOverdueSchedule checks for overdue acknowledgments every 5 minutes when
// a partner expects them and no configured schedule runs the check already.
func ackOverdueSchedule(c *config.Config, rt *jobs.Runtime) {
	if rt.HasTaskScheduled("x12.ack_overdue") {
		return
	}
	for _, p := range c.Partners {
		if p.X12.AckTimeout != "" {
			every, _ := config.Schedule{Cron: "@every 5m"}.Parse()
			rt.AddSchedules(jobs.Schedule{Name: "x12-ack-overdue", Schedule: every, Task: "x12.ack_overdue"})
			return
		}
	}
}
