package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"strconv"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
	"github.com/wharfedi/wharf/transports/as2"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// transportSFTPClient names messages that Wharf fetched from or sends to a
// partner's own SFTP server.
const transportSFTPClient = "sftp-client"

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

// addPulls adds a schedule and a task per partner server and bucket Wharf
// polls. Schedules run on River's leader only, so each is polled once
// across all instances.
func (a *App) addPulls(rt *jobs.Runtime) {
	remoteSchedules(a.cfg, a.Gateway, a.log.With("component", "sftp-client"), rt)
	s3Schedules(a.cfg, a.Gateway, a.log.With("component", "s3"), rt)
}

// delivered names the transports whose outbound messages the archive's
// commit hook queues for delivery; deliverer has a sender for each.
var delivered = map[string]bool{transportSFTPClient: true, as2.TransportMDNAsync: true}

// deliverer sends an archived outbound message with the sender for its transport.
func deliverer(c *config.Config, a *archive.Archive, st store.Store, log *slog.Logger) func(ctx context.Context, id string) error {
	senders := map[string]func(ctx context.Context, m *store.Message) error{
		transportSFTPClient: sftpPush(c, a, st, log),
		as2.TransportMDNAsync: func(ctx context.Context, m *store.Message) error {
			return deliverAS2MDN(ctx, st, a, m, log)
		},
	}
	return func(ctx context.Context, id string) error {
		m, err := st.GetMessage(ctx, id)
		if err != nil {
			return fmt.Errorf("%w: %v", jobs.ErrPermanent, err)
		}
		send, ok := senders[m.Transport]
		if !ok {
			err := fmt.Errorf("%w: message %s for partner %s: Wharf cannot send over transport %q", jobs.ErrPermanent, id, m.PartnerID, m.Transport)
			_ = st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: "failed", Detail: err.Error()})
			return err
		}
		return send(ctx, m)
	}
}

// sftpPush uploads an archived outbound message to the partner's server.
func sftpPush(c *config.Config, a *archive.Archive, st store.Store, log *slog.Logger) func(ctx context.Context, m *store.Message) error {
	return func(ctx context.Context, m *store.Message) error {
		id := m.ID
		p, ok := c.PartnerByID(m.PartnerID)
		if !ok || p.SFTPRemote == nil || p.SFTPRemote.Push == nil {
			err := fmt.Errorf("%w: message %s for partner %s: no sftp_remote.push folder configured for this partner", jobs.ErrPermanent, id, m.PartnerID)
			_ = st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: "failed", Detail: err.Error()})
			return err
		}
		rc, _, err := a.Get(ctx, id)
		if err != nil {
			return err
		}
		defer rc.Close()
		cl, err := dialRemote(ctx, c, p)
		if err != nil {
			_ = st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: "attempt_failed", Detail: err.Error()})
			return err
		}
		defer cl.Close()
		name := path.Join(p.SFTPRemote.Push.Folder, path.Base(m.RemoteName))
		if err := cl.Put(ctx, name, rc); err != nil {
			_ = st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: "attempt_failed", Detail: err.Error()})
			return err
		}
		log.Info("sftp push delivered", "partner", p.ID, "message", id, "remote", name, "bytes", m.Size)
		return st.WithTx(ctx, func(tx store.Tx) error {
			if err := tx.SetMessageStatus(ctx, id, gateway.StatusDelivered); err != nil {
				return err
			}
			return tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: "delivered",
				Detail: fmt.Sprintf("uploaded to %s:%s (temporary name, then renamed)", remoteOrigin(p.SFTPRemote), name)})
		})
	}
}

// Delivered reports whether Wharf sends outbound messages of the transport
// itself (a delivery job), rather than waiting for the partner to fetch them.
func Delivered(transport string) bool { return delivered[transport] }
