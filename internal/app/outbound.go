package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/events/webhook"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports/as2"
	"github.com/wharfedi/wharf/transports/folder"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// Transport names recorded with messages (and keys of delivery routes).
const (
	transportFolder     = "folder"
	transportS3         = "s3"
	transportHTTP       = "http"
	transportSFTPClient = "sftp-client" // a partner's own SFTP server, polled and pushed to
	transportSFTPServer = "sftp"        // Wharf's SFTP server: partners fetch from outbound/
)

// registry is the one list of the transports Wharf sends over or polls,
// in the order that picks a partner's outbound transport, with each one's
// delivery route and pull. It is a value built by newRegistry, never a package global: the
// archive's commit hook asks it which outbound messages get a delivery job,
// the delivery engine gets its routes from it, and sync routes documents
// with it. A transport that is not in it (Wharf's SFTP server, AS2
// evidence, inbound-only transports) is never pushed: partners fetch, or
// nothing is sent.
type registry struct {
	list   []*outboundTransport
	byName map[string]*outboundTransport
}

// outboundTransport is one transport Wharf pushes documents over.
type outboundTransport struct {
	name string
	// for reports whether documents for the partner leave over this
	// transport (nil: only messages archived with this transport name, such
	// as async MDNs, which Wharf owes a partner over the URL it asked for).
	for_ func(p config.Partner) bool
	// route builds the delivery route from the application's parts.
	route func(d *routeDeps) delivery.RouteFunc
	// pull, when set, adds a schedule and a task per partner whose server
	// or bucket Wharf polls over this transport.
	pull func(c *config.Config, g *gateway.Gateway, log *slog.Logger, rt *jobs.Runtime)
}

// routeDeps are what routes need, given when the delivery engine is built.
type routeDeps struct {
	cfg  *config.Config
	st   store.Store
	arch *archive.Archive
	now  func() time.Time
	log  *slog.Logger
}

// newRegistry lists the transports Wharf pushes over. The order is the
// routing priority: a partner with an AS2 URL gets AS2; else its outbound
// folder, bucket, webhook or SFTP server; else documents wait in its
// outbound/ folder on Wharf's SFTP server.
func newRegistry() *registry {
	r := &registry{byName: map[string]*outboundTransport{}}
	r.add(&outboundTransport{name: as2.TransportAS2, for_: func(p config.Partner) bool { return p.AS2 != nil && p.AS2.URL != "" },
		route: func(d *routeDeps) delivery.RouteFunc { return as2Route(d.cfg, d.st, d.arch, d.now, d.log) }})
	r.add(&outboundTransport{name: transportFolder, for_: func(p config.Partner) bool { return p.Folder != nil && p.Folder.Outbound != "" },
		route: folderRoute})
	r.add(&outboundTransport{name: transportS3, for_: func(p config.Partner) bool { return p.S3Remote != nil && p.S3Remote.Push != nil },
		route: s3Route, pull: s3Schedules})
	r.add(&outboundTransport{name: transportHTTP, for_: func(p config.Partner) bool { return p.HTTP != nil && p.HTTP.Webhook != nil },
		route: webhookRoute})
	r.add(&outboundTransport{name: transportSFTPClient, for_: func(p config.Partner) bool { return p.SFTPRemote != nil && p.SFTPRemote.Push != nil },
		route: sftpPushRoute, pull: remoteSchedules})
	r.add(&outboundTransport{name: as2.TransportMDNAsync, route: asyncMDNRoute})
	return r
}

func (r *registry) add(t *outboundTransport) {
	r.list = append(r.list, t)
	r.byName[t.name] = t
}

// pushes reports whether Wharf sends outbound messages of the transport
// itself (with a delivery job), rather than leaving them for the partner to
// fetch.
func (r *registry) pushes(transport string) bool {
	return r.byName[transport] != nil || webhook.IsCarrier(transport)
}

// transportFor is how documents for the partner leave (the routing priority).
func (r *registry) transportFor(p config.Partner) string {
	for _, t := range r.list {
		if t.for_ != nil && t.for_(p) {
			return t.name
		}
	}
	return transportSFTPServer
}

// addPulls adds the schedules and tasks of every transport Wharf polls.
// Schedules run on River's leader only, so each partner is polled once
// across all instances.
func (r *registry) addPulls(c *config.Config, g *gateway.Gateway, log *slog.Logger, rt *jobs.Runtime) {
	for _, t := range r.list {
		if t.pull != nil {
			t.pull(c, g, log.With("component", t.name), rt)
		}
	}
}

// routes builds the delivery engine's routes.
func (r *registry) routes(d *routeDeps) *delivery.Registry {
	routes := &delivery.Registry{}
	for _, t := range r.list {
		routes.Register(t.name, t.route(d))
	}
	for name, f := range webhookRoutes(d.cfg, d.now) {
		routes.Register(name, f)
	}
	return routes
}

// Pushes reports whether Wharf sends outbound messages of the transport
// itself (a delivery job), rather than waiting for the partner to fetch them.
func Pushes(transport string) bool { return newRegistry().pushes(transport) }

// newDelivery builds the delivery engine: one engine, one route per
// transport of the registry, the engine's retries and dead letters for all.
func newDelivery(reg *registry, d *routeDeps) *delivery.Engine {
	return &delivery.Engine{Archive: d.arch, Store: d.st, Routes: reg.routes(d), Log: d.log}
}

// partnerFor returns the partner's configuration, or ErrNoRoute naming what
// to configure.
func partnerFor(c *config.Config, partner, what string, ok func(config.Partner) bool) (config.Partner, error) {
	p, found := c.PartnerByID(partner)
	if !found || !ok(p) {
		return p, fmt.Errorf("%w: partner %s has no %s in the config", delivery.ErrNoRoute, partner, what)
	}
	return p, nil
}

func folderRoute(d *routeDeps) delivery.RouteFunc {
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		p, err := partnerFor(d.cfg, partner, "folder.outbound", func(p config.Partner) bool { return p.Folder != nil && p.Folder.Outbound != "" })
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(p.Folder.Outbound, 0o755); err != nil {
			return nil, fmt.Errorf("folder: partner %s: %w", partner, err)
		}
		f, err := folder.New(p.Folder.Outbound)
		if err != nil {
			return nil, err
		}
		return &delivery.PutSender{Transport: f, Where: "folder " + p.Folder.Outbound}, nil
	}
}

func s3Route(d *routeDeps) delivery.RouteFunc {
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		p, err := partnerFor(d.cfg, partner, "s3_remote.push", func(p config.Partner) bool { return p.S3Remote != nil && p.S3Remote.Push != nil })
		if err != nil {
			return nil, err
		}
		b, err := openS3(d.cfg, p)
		if err != nil {
			return nil, err
		}
		return &delivery.PutSender{Transport: b, Folder: p.S3Remote.Push.Prefix,
			Where: "s3://" + p.S3Remote.Bucket + " at " + p.S3Remote.Endpoint}, nil
	}
}

func webhookRoute(d *routeDeps) delivery.RouteFunc {
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		p, err := partnerFor(d.cfg, partner, "http.webhook", func(p config.Partner) bool { return p.HTTP != nil && p.HTTP.Webhook != nil })
		if err != nil {
			return nil, err
		}
		w := p.HTTP.Webhook
		secret := d.cfg.Getenv(w.SecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("%w: partner %s: environment variable %s (http.webhook.secret_env) is empty", lifecycle.ErrPermanent, partner, w.SecretEnv)
		}
		wh := &whttp.Webhook{URL: w.URL, Secret: []byte(secret), Timeout: w.TimeoutDuration()}
		return delivery.SenderFunc(func(ctx context.Context, d *delivery.Delivery) (string, error) {
			return wh.Send(ctx, whttp.Outgoing{MessageID: d.MessageID, Partner: d.Partner, Name: d.Name,
				SHA256: d.SHA256, IdempotencyKey: d.IdempotencyKey, Open: d.Open})
		}), nil
	}
}

// sftpPushRoute uploads to the partner's own SFTP server (a temporary name,
// then renamed), through the delivery engine like every other transport.
func sftpPushRoute(d *routeDeps) delivery.RouteFunc {
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		p, err := partnerFor(d.cfg, partner, "sftp_remote.push folder", func(p config.Partner) bool { return p.SFTPRemote != nil && p.SFTPRemote.Push != nil })
		if err != nil {
			return nil, err
		}
		cl, err := dialRemote(ctx, d.cfg, p)
		if err != nil {
			return nil, err
		}
		return &delivery.PutSender{Transport: cl, Folder: p.SFTPRemote.Push.Folder, Where: "sftp://" + remoteOrigin(p.SFTPRemote)}, nil
	}
}

// asyncMDNRoute posts the asynchronous MDNs Wharf owes partners to the URL
// each asked for (Receipt-Delivery-Option), from the archived MDN.
func asyncMDNRoute(d *routeDeps) delivery.RouteFunc {
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		return &asyncMDNSender{st: d.st, log: d.log}, nil
	}
}

type asyncMDNSender struct {
	st  store.Store
	log *slog.Logger
}

func (s *asyncMDNSender) Send(ctx context.Context, d *delivery.Delivery) (string, error) {
	rec, err := s.st.AS2MessageByArchiveID(ctx, d.MessageID)
	if err != nil {
		return "", err // the record follows the archive entry: retry
	}
	rc, err := d.Open(ctx)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return "", err
	}
	e, err := as2.ParseEntity(b)
	if err != nil {
		return "", fmt.Errorf("%w: archived MDN %s: %w", lifecycle.ErrPermanent, d.MessageID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.MDNURL, bytes.NewReader(e.Body))
	if err != nil {
		return "", fmt.Errorf("%w: partner %s asked for its MDN at %q: %w", lifecycle.ErrPermanent, d.Partner, rec.MDNURL, err)
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := as2HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("as2: async MDN for %s to %s: %w", rec.AS2MessageID, rec.MDNURL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("as2: async MDN for %s to partner %s at %s: HTTP %s", rec.AS2MessageID, d.Partner, rec.MDNURL, res.Status)
	}
	rec.Status = "mdn-sent"
	if err := s.st.PutAS2Message(ctx, rec); err != nil {
		return "", err
	}
	s.log.Info("as2: async MDN delivered", "partner", d.Partner, "as2_message_id", rec.AS2MessageID, "url", rec.MDNURL)
	return "async MDN for " + rec.AS2MessageID + " posted to " + rec.MDNURL, nil
}
