package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/events"
	wamqp "github.com/wharfedi/wharf/events/amqp"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/events/webhook"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
)

// NewPublisher builds the events publisher of the configuration's
// subscriptions (events:), each with a sink that connects on its first
// publish: a broker that is down delays its events, not Wharf's start.
// owner names the instance in the subscriptions' leases. arch archives
// the messages of webhook subscriptions (nil: they cannot publish, for
// tools without the archive). Close the sinks with CloseSinks.
func NewPublisher(c *config.Config, st store.Store, arch *archive.Archive, owner string, now func() time.Time, log *slog.Logger) (*events.Publisher, error) {
	p := &events.Publisher{Store: st, Owner: owner, Now: now, Logger: log, RoleOf: roleOf(c), OwnerGone: ownerGone(st)}
	for _, e := range c.Events {
		s, err := subscription(c, st, arch, e)
		if err != nil {
			return nil, err
		}
		p.Subs = append(p.Subs, s)
	}
	return p, nil
}

// Subscription returns the configured subscription named name, with a sink
// that connects on first use ('wharf events replay').
func Subscription(c *config.Config, st store.Store, arch *archive.Archive, name string) (*events.Subscription, error) {
	var names []string
	for _, e := range c.Events {
		if e.Name == name {
			return subscription(c, st, arch, e)
		}
		names = append(names, e.Name)
	}
	return nil, fmt.Errorf("no event subscription %q in the configuration (events[].name: %v)", name, names)
}

func subscription(c *config.Config, st store.Store, arch *archive.Archive, e config.EventSub) (*events.Subscription, error) {
	sub := &events.Subscription{Name: e.Name, Types: e.Types, Partner: e.Filter.Partner, Role: e.Filter.Role}
	if e.Scheme() == "webhook" {
		// The messages that carry events make events: never sent as events
		// again, by this webhook subscription or another (a loop).
		sub.Exclude = webhook.Carrier(st)
		if arch == nil {
			sub.Sink = events.Lazy(func(context.Context) (events.Sink, error) {
				return nil, fmt.Errorf("event subscription %s is a webhook: its events become archived messages, which only wharf serve publishes (send one again with wharf replay MESSAGE)", e.Name)
			})
		} else {
			sub.Sink = &webhook.Sink{Archive: arch, Subscription: e.Name, Partner: e.Partner}
		}
		return sub, nil
	}
	s, err := eventSink(c, e)
	if err != nil {
		return nil, err
	}
	sub.Sink = s
	return sub, nil
}

// webhookRoutes are the delivery routes of the webhook subscriptions:
// transport cloudevents:NAME posts to the subscription's URL.
func webhookRoutes(c *config.Config, now func() time.Time) map[string]delivery.RouteFunc {
	out := map[string]delivery.RouteFunc{}
	for _, e := range c.Events {
		if e.Scheme() != "webhook" {
			continue
		}
		out[webhook.Transport(e.Name)] = func(ctx context.Context, partner string) (delivery.Sender, error) {
			secret := c.Getenv(e.SecretEnv)
			if secret == "" {
				return nil, fmt.Errorf("%w: event subscription %s: environment variable %s (secret_env) is empty", lifecycle.ErrPermanent, e.Name, e.SecretEnv)
			}
			return &webhook.Sender{URL: e.To, Secret: []byte(secret), Mode: e.Mode, Now: now}, nil
		}
	}
	return out
}

// CloseSinks closes the subscriptions' sinks.
func CloseSinks(p *events.Publisher) {
	for _, s := range p.Subs {
		_ = s.Sink.Close()
	}
}

func eventSink(c *config.Config, e config.EventSub) (events.Sink, error) {
	u, err := c.EventURL(e)
	if err != nil {
		return nil, err
	}
	var connect func(ctx context.Context) (events.Sink, error)
	switch e.Scheme() {
	case "nats":
		o := wnats.Options{URL: u, Prefix: e.Prefix, Stream: e.Stream, Name: "wharf " + e.Name}
		connect = func(ctx context.Context) (events.Sink, error) { return wnats.Connect(ctx, o) }
	case "amqp":
		o := wamqp.Options{URL: u, Exchange: e.Exchange, Queue: e.Queue}
		connect = func(ctx context.Context) (events.Sink, error) { return wamqp.Connect(ctx, o) }
	default:
		return nil, fmt.Errorf("event subscription %s: %q is not a NATS or RabbitMQ address", e.Name, e.Scheme())
	}
	return events.Lazy(func(ctx context.Context) (events.Sink, error) {
		s, err := connect(ctx)
		if err != nil {
			return nil, fmt.Errorf("event subscription %s: %w", e.Name, err)
		}
		return s, nil
	}), nil
}

// ownerGone: an instance is gone when the cluster forgot it (it stopped,
// or a survivor failed it over) or it ran on this machine and its process
// is dead (a kill -9 and a restart).
func ownerGone(st store.Store) func(context.Context, string) bool {
	return func(ctx context.Context, owner string) bool {
		all, err := st.Instances(ctx)
		if err != nil {
			return false
		}
		for _, in := range all {
			if in.ID == owner {
				return jobs.DeadHere(in)
			}
		}
		return true
	}
}

// roleOf gives the role the configuration declares for a partner.
func roleOf(c *config.Config) func(string) string {
	roles := map[string]string{}
	for _, p := range c.Partners {
		roles[p.ID] = p.Role
	}
	return func(id string) string { return roles[id] }
}

// startEventsIn starts a consumer per inbound event subscription
// (events_in:): each message is archived through the gateway as the
// partner's inbound document before the broker is told it was taken. A
// consumer whose connection fails connects again (1 s, doubling to 1
// min). The function returned waits for the consumers to stop once ctx
// ended.
func startEventsIn(ctx context.Context, c *config.Config, g transports.Receiver, st store.Store, log *slog.Logger) (wait func()) {
	var wg sync.WaitGroup
	for _, e := range c.EventsIn {
		in := &events.Inbound{Receiver: g, History: st, Partner: e.Partner, Transport: e.Scheme()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var backoff time.Duration
			for ctx.Err() == nil {
				u, err := c.EventInURL(e)
				if err == nil {
					switch e.Scheme() {
					case "nats":
						err = wnats.Consume(ctx, wnats.ConsumeOptions{URL: u, Stream: e.Stream, Subject: e.Subject, Durable: e.Name, Name: "wharf in " + e.Name}, in.Handle)
					default:
						err = wamqp.Consume(ctx, wamqp.ConsumeOptions{URL: u, Queue: e.Queue}, in.Handle)
					}
				}
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(2*backoff, time.Second), time.Minute)
				log.Warn("events in: consumer stopped; connecting again", "subscription", e.Name, "partner", e.Partner, "in", backoff, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
			}
		}()
	}
	return wg.Wait
}

// eventSinks gives the console each subscription's state (nil: none configured).
func eventSinks(p *events.Publisher) func(context.Context) ([]web.EventSink, error) {
	if len(p.Subs) == 0 {
		return nil
	}
	return func(ctx context.Context) ([]web.EventSink, error) {
		st, err := p.Status(ctx)
		out := make([]web.EventSink, len(st))
		for i, s := range st {
			out[i] = web.EventSink{Name: s.Name, Publisher: s.Owner, Published: s.Published, Pending: s.Pending, Oldest: s.Oldest,
				Lag: s.Lag, Failures: s.Failures, LastError: s.LastError, LastAt: s.LastErrorAt}
		}
		return out, err
	}
}
