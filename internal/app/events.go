package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wharfedi/wharf/events"
	wamqp "github.com/wharfedi/wharf/events/amqp"
	wnats "github.com/wharfedi/wharf/events/nats"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// NewPublisher builds the events publisher of the configuration's
// subscriptions (events:), each with a sink that connects on its first
// publish: a broker that is down delays its events, not Wharf's start.
// owner names the instance in the subscriptions' leases. Close the sinks
// with CloseSinks.
func NewPublisher(c *config.Config, st store.Store, owner string, now func() time.Time, log *slog.Logger) (*events.Publisher, error) {
	p := &events.Publisher{Store: st, Owner: owner, Now: now, Logger: log, RoleOf: roleOf(c), OwnerGone: ownerGone(st)}
	for _, e := range c.Events {
		s, err := eventSink(c, e)
		if err != nil {
			return nil, err
		}
		p.Subs = append(p.Subs, &events.Subscription{Name: e.Name, Types: e.Types, Partner: e.Filter.Partner, Role: e.Filter.Role, Sink: s})
	}
	return p, nil
}

// Subscription returns the configured subscription named name, with a sink
// that connects on first use ('wharf events replay').
func Subscription(c *config.Config, name string) (*events.Subscription, error) {
	var names []string
	for _, e := range c.Events {
		if e.Name == name {
			s, err := eventSink(c, e)
			if err != nil {
				return nil, err
			}
			return &events.Subscription{Name: e.Name, Types: e.Types, Partner: e.Filter.Partner, Role: e.Filter.Role, Sink: s}, nil
		}
		names = append(names, e.Name)
	}
	return nil, fmt.Errorf("no event subscription %q in the configuration (events[].name: %v)", name, names)
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
	switch e.Scheme() {
	case "nats":
		o := wnats.Options{URL: u, Prefix: e.Prefix, Stream: e.Stream, Name: "wharf " + e.Name}
		return events.Lazy(func(ctx context.Context) (events.Sink, error) {
			s, err := wnats.Connect(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("event subscription %s: %w", e.Name, err)
			}
			return s, nil
		}), nil
	case "amqp":
		o := wamqp.Options{URL: u, Exchange: e.Exchange, Queue: e.Queue}
		return events.Lazy(func(ctx context.Context) (events.Sink, error) {
			s, err := wamqp.Connect(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("event subscription %s: %w", e.Name, err)
			}
			return s, nil
		}), nil
	}
	return nil, fmt.Errorf("event subscription %s: %q is not a NATS or RabbitMQ address", e.Name, e.Scheme())
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
