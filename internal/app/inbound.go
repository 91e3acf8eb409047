package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
	"github.com/wharfedi/wharf/transports/folder"
	whttp "github.com/wharfedi/wharf/transports/http"
	ws3 "github.com/wharfedi/wharf/transports/s3"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// Receiving: what Wharf polls (partners' SFTP servers, buckets), watches
// (folders) and serves (inbound HTTP, the SFTP server's options). Every
// path hands the bytes to the gateway, which archives them before the
// transport acknowledges.

func openS3(c *config.Config, p config.Partner) (*ws3.Bucket, error) {
	r := p.S3Remote
	cfg := ws3.Config{Endpoint: r.Endpoint, PlainHTTP: r.PlainHTTP, Region: r.Region, Bucket: r.Bucket}
	if r.AccessKeyEnv != "" {
		cfg.AccessKey, cfg.SecretKey = c.Getenv(r.AccessKeyEnv), c.Getenv(r.SecretKeyEnv)
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, fmt.Errorf("s3: partner %s: environment variables %s and %s must be set", p.ID, r.AccessKeyEnv, r.SecretKeyEnv)
		}
	}
	return ws3.New(cfg)
}

// s3Schedules polls the buckets of partners with s3_remote.pull.
func s3Schedules(c *config.Config, g *gateway.Gateway, log *slog.Logger, rt *jobs.Runtime) {
	for _, p := range c.Partners {
		if p.S3Remote == nil || p.S3Remote.Pull == nil {
			continue
		}
		pull := *p.S3Remote.Pull
		addPull(rt, log, "s3", p.ID, pull.ScheduleOf(p.ID), func(ctx context.Context) (transports.PollResult, error) {
			b, err := openS3(c, p)
			if err != nil {
				return transports.PollResult{}, err
			}
			minAge, _ := config.PartnerFolder{MinAge: pull.MinAge}.Durations()
			return transports.Poll(ctx, b, g, g, transports.PollOptions{
				Partner: p.ID, Transport: transportS3, Origin: p.S3Remote.Endpoint + "/" + p.S3Remote.Bucket + "/" + pull.Prefix,
				Folder: pull.Prefix, Pattern: pull.Pattern, MinAge: minAge,
				After: transports.After(pull.After), MoveTo: pull.MoveTo, Tags: pull.Tags(), Workers: 4, Log: log,
			})
		})
	}
}

// addPull adds the schedule and the task ("KIND.pull:PARTNER") that poll
// one partner's server or bucket. Schedules run on River's leader only, so
// each partner is polled once across all instances.
func addPull(rt *jobs.Runtime, log *slog.Logger, kind, partner string, spec config.Schedule, poll func(context.Context) (transports.PollResult, error)) {
	sched, _ := spec.Parse() // validated
	task := kind + ".pull:" + partner
	rt.AddSchedules(jobs.Schedule{Name: spec.Name, Schedule: sched, Task: task})
	rt.AddTask(task, func(ctx context.Context) error {
		res, err := poll(ctx)
		log.Info(kind+" pull done", "partner", partner, "listed", res.Listed, "received", res.Received, "not_yet_stable", res.Skipped, "already_had", res.AlreadyHad, "err", err)
		return err
	})
}

// folderWorkers is how many files of a watched folder are archived at once.
// Each waits for its durable commit, which concurrent files share (group
// commit, shared flushes), so the folder's rate is about this many files per
// commit: with 8, a 3,000-file burst stopped at 200-250 files/s on SQLite
// while processing waited for files; with 64, 360-370.
const folderWorkers = 64

// startFolderWatchers follows every partner's folder.inbound (fsnotify plus
// a periodic rescan) until ctx is done; wait returns once all have stopped.
// Every instance watches: a folder shared by several instances is safe
// because a file is archived under one idempotency key.
func startFolderWatchers(ctx context.Context, c *config.Config, g *gateway.Gateway, log *slog.Logger) (wait func()) {
	var wg sync.WaitGroup
	for _, p := range c.Partners {
		if p.Folder == nil || p.Folder.Inbound == "" {
			continue
		}
		fc := *p.Folder
		if err := os.MkdirAll(fc.Inbound, 0o755); err != nil {
			log.Error("folder: cannot create the inbound folder", "partner", p.ID, "folder", fc.Inbound, "err", err)
			continue
		}
		f, err := folder.New(fc.Inbound)
		if err != nil {
			log.Error("folder: cannot watch", "partner", p.ID, "err", err)
			continue
		}
		minAge, rescan := fc.Durations()
		processed, errDir := fc.Folders()
		o := transports.PollOptions{Partner: p.ID, Transport: transportFolder, Origin: fc.Inbound,
			Pattern: fc.Pattern, MinAge: minAge, After: transports.After(fc.After), MoveTo: processed, ErrorTo: errDir,
			Workers: folderWorkers, Log: log}
		if o.After == "" {
			o.After = transports.AfterMove
		}
		if fc.IsStable() {
			o.Stable = &transports.Stability{}
		}
		id := p.ID
		wg.Add(1)
		go func() {
			defer wg.Done()
			transports.Follow(ctx, f, "", rescan, 0, func(ctx context.Context) (transports.PollResult, error) {
				res, err := transports.Poll(ctx, f, g, g, o)
				if res.Received > 0 || err != nil {
					log.Info("folder scan", "partner", id, "listed", res.Listed, "received", res.Received, "pending", res.Skipped, "err", err)
				}
				return res, err
			}, func(err error) { log.Warn("folder inbound", "partner", id, "err", err) })
		}()
		log.Info("watching folder", "partner", p.ID, "folder", fc.Inbound, "rescan", rescan, "size_stable", fc.IsStable())
	}
	return wg.Wait
}

// httpInbound is POST /api/v1/inbound/{partner}.
func httpInbound(c *config.Config, st store.Store, g *gateway.Gateway, guard whttp.Guard, log *slog.Logger) *whttp.Inbound {
	return &whttp.Inbound{
		Receiver: g, Log: log, Guard: guard,
		Authorized: func(partner, token string) bool {
			p, ok := c.PartnerByID(partner)
			if !ok || p.HTTP == nil || (p.HTTP.TokenEnv == "" && p.HTTP.TokenSHA256 == "") {
				// Spend the same time as a real comparison.
				whttp.TokenMatches(token, "", hex.EncodeToString(make([]byte, sha256.Size)))
				return false
			}
			want := ""
			if p.HTTP.TokenEnv != "" {
				want = c.Getenv(p.HTTP.TokenEnv)
			}
			return whttp.TokenMatches(token, want, p.HTTP.TokenSHA256)
		},
		Disabled: func(ctx context.Context, partner string) (bool, error) {
			p, err := st.GetPartner(ctx, partner)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return p.Disabled(), nil
		},
		MaxBytes: func(partner string) int64 {
			if p, ok := c.PartnerByID(partner); ok && p.HTTP != nil && p.HTTP.MaxSizeMB > 0 {
				return int64(p.HTTP.MaxSizeMB) << 20
			}
			return 0
		},
	}
}

func dialRemote(ctx context.Context, c *config.Config, p config.Partner) (*wsftp.Client, error) {
	r := p.SFTPRemote
	key, err := r.Key(c, c.Getenv)
	if err != nil {
		return nil, fmt.Errorf("sftp: partner %s: %w", p.ID, err)
	}
	return wsftp.Dial(ctx, wsftp.ClientConfig{Partner: p.ID, Host: r.Host, Port: r.Port, User: r.User, Key: key, HostKey: r.HostKey, Timeout: r.TimeoutDuration()})
}

func remoteOrigin(r *config.SFTPRemote) string {
	port := r.Port
	if port == 0 {
		port = 22
	}
	return r.User + "@" + net.JoinHostPort(r.Host, strconv.Itoa(port))
}

// remoteSchedules polls the SFTP servers of partners with sftp_remote.pull.
func remoteSchedules(c *config.Config, g *gateway.Gateway, log *slog.Logger, rt *jobs.Runtime) {
	for _, p := range c.Partners {
		if p.SFTPRemote == nil || p.SFTPRemote.Pull == nil {
			continue
		}
		pull := *p.SFTPRemote.Pull
		addPull(rt, log, "sftp", p.ID, pull.ScheduleOf(p.ID), func(ctx context.Context) (transports.PollResult, error) {
			cl, err := dialRemote(ctx, c, p)
			if err != nil {
				return transports.PollResult{}, err
			}
			defer cl.Close()
			return transports.Poll(ctx, cl, g, g, transports.PollOptions{
				Partner: p.ID, Transport: transportSFTPClient, Origin: remoteOrigin(p.SFTPRemote),
				Folder: pull.Folder, Pattern: pull.Pattern, MinAge: pull.MinAgeDuration(),
				After: transports.After(pull.After), MoveTo: pull.MoveTo, Log: log,
			})
		})
	}
}

// sftpOptions turns the configuration into the SFTP server's options.
func sftpOptions(c *config.Config, g *gateway.Gateway, log *slog.Logger, reg prometheus.Registerer) server.SFTPOptions {
	idle, lockout := c.SFTP.Durations()
	return server.SFTPOptions{
		Receiver:    g,
		Outbox:      g,
		SpoolDir:    filepath.Join(c.Data, "spool", "sftp"),
		MaxFileSize: int64(c.SFTP.MaxFileSizeMB) << 20,
		// What the archive keeps in its index needs no staging file either.
		StageInMemory:    c.Archive.InlineMax(),
		MaxSessions:      c.SFTP.MaxSessions,
		MaxSessionsPerIP: c.SFTP.MaxSessionsPerIP,
		IdleTimeout:      idle,
		LockoutAttempts:  c.SFTP.LockoutAttempts,
		LockoutWindow:    lockout,
		Ciphers:          c.SFTP.Ciphers,
		Logger:           log,
		Metrics:          reg,
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
