package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

func dialRemote(ctx context.Context, c *config.Config, p config.Partner) (*wsftp.Client, error) {
	r := p.SFTPRemote
	key, err := r.Key(c, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("sftp: partner %s: %w", p.ID, err)
	}
	return wsftp.Dial(ctx, wsftp.ClientConfig{Partner: p.ID, Host: r.Host, Port: r.Port, User: r.User, Key: key, HostKey: r.HostKey})
}

func remoteOrigin(r *config.SFTPRemote) string {
	port := r.Port
	if port == 0 {
		port = 22
	}
	return r.User + "@" + net.JoinHostPort(r.Host, strconv.Itoa(port))
}

// remoteSchedules returns a schedule and a task per partner whose server
// Wharf polls. Schedules run on River's leader only, so each partner is
// polled once across all instances.
func remoteSchedules(c *config.Config, g *gateway.Gateway, log *slog.Logger, rt *jobs.Runtime) {
	for _, p := range c.Partners {
		if p.SFTPRemote == nil || p.SFTPRemote.Pull == nil {
			continue
		}
		p := p
		pull := *p.SFTPRemote.Pull
		spec := pull.ScheduleOf(p.ID)
		sched, _ := spec.Parse() // validated
		task := "sftp.pull:" + p.ID
		rt.AddSchedules(jobs.Schedule{Name: spec.Name, Schedule: sched, Task: task})
		rt.AddTask(task, func(ctx context.Context) error {
			cl, err := dialRemote(ctx, c, p)
			if err != nil {
				return err
			}
			defer cl.Close()
			res, err := transports.Poll(ctx, cl, g, g, transports.PollOptions{
				Partner: p.ID, Transport: transportSFTPClient, Origin: remoteOrigin(p.SFTPRemote),
				Folder: pull.Folder, Pattern: pull.Pattern, MinAge: pull.MinAgeDuration(),
				After: transports.After(pull.After), MoveTo: pull.MoveTo, Log: log,
			})
			log.Info("sftp pull done", "partner", p.ID, "listed", res.Listed, "received", res.Received, "not_yet_stable", res.Skipped, "already_had", res.AlreadyHad, "err", err)
			return err
		})
	}
}
