package main

import (
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/process"
)

// newProcessor returns the processing stage with the partners' X12 policies.
func newProcessor(c *config.Config, st store.Store, a *archive.Archive, log *slog.Logger) *process.Processor {
	return &process.Processor{
		Archive: a, Store: st, Logger: log,
		Policy: func(partner string) process.Policy {
			p, _ := c.PartnerByID(partner)
			return process.Policy{Ack: p.X12.Ack, Strict: p.X12.Strict}
		},
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
		Logger:          log,
		Metrics:         reg,
		Policy: func(partner string) server.PartnerPolicy {
			p, ok := c.PartnerByID(partner)
			if !ok {
				return server.PartnerPolicy{}
			}
			pol := server.PartnerPolicy{AllowDelete: p.SFTP.AllowDelete}
			for _, a := range p.SFTP.AllowIPs {
				if pre, err := config.ParsePrefix(a); err == nil {
					pol.AllowIPs = append(pol.AllowIPs, pre)
				}
			}
			return pol
		},
	}
}
