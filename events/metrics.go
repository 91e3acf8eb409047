package events

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published, failed *prometheus.CounterVec
}

func (p *Publisher) metricsFor() *metrics {
	p.metricsOnce.Do(func() {
		p.metrics = &metrics{
			published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wharf_events_published_total",
				Help: "Events the subscription's broker acknowledged, by subscription."}, []string{"sink"}),
			failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wharf_events_failed_total",
				Help: "Events a publish attempt did not get acknowledged (retried), by subscription."}, []string{"sink"}),
		}
	})
	return p.metrics
}

var (
	lagDesc = prometheus.NewDesc("wharf_events_lag_seconds",
		"Age of the oldest event the subscription has not published yet (0 when it is caught up), by subscription.", []string{"sink"}, nil)
	pendingDesc = prometheus.NewDesc("wharf_events_pending",
		"Events written after the subscription's cursor (those it does not want included), by subscription.", []string{"sink"}, nil)
)

// Collector exports the publisher's counters and, at scrape time, each
// subscription's lag.
func (p *Publisher) Collector() prometheus.Collector { return collector{p} }

type collector struct{ p *Publisher }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	m := c.p.metricsFor()
	m.published.Describe(ch)
	m.failed.Describe(ch)
	ch <- lagDesc
	ch <- pendingDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.p.metricsFor()
	for _, sub := range c.p.Subs { // every subscription appears, at 0 before its first event
		m.published.WithLabelValues(sub.Name)
		m.failed.WithLabelValues(sub.Name)
	}
	m.published.Collect(ch)
	m.failed.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.p.Status(ctx)
	if err != nil {
		return
	}
	for _, s := range st {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, s.Lag.Seconds(), s.Name)
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.Pending), s.Name)
	}
}

// SinkStatus is what an operator sees of a subscription.
type SinkStatus struct {
	Name        string        `json:"name"`
	Pos         int64         `json:"pos"`
	Owner       string        `json:"owner"`
	Published   int64         `json:"published"`
	Failures    int64         `json:"failures"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	Pending     int64         `json:"pending"`
	Oldest      time.Time     `json:"oldest,omitzero"` // the oldest event not published yet
	Lag         time.Duration `json:"lag"`             // now - Oldest
}

// Status returns each configured subscription's cursor, counters and lag
// (a subscription that has not run yet shows every event as pending).
func (p *Publisher) Status(ctx context.Context) ([]SinkStatus, error) {
	ks, err := p.Store.OutboxSinks(ctx)
	if err != nil {
		return nil, err
	}
	now := p.now()
	var out []SinkStatus
	for _, sub := range p.Subs {
		s := SinkStatus{Name: sub.Name}
		for _, k := range ks {
			if k.Name == sub.Name {
				s.Pos, s.Owner, s.Published, s.Failures, s.LastError, s.LastErrorAt = k.Pos, k.Owner, k.Published, k.Failures, k.LastError, k.LastErrorAt
			}
		}
		oldest, n, err := p.Store.OutboxPending(ctx, s.Pos)
		if err != nil {
			return nil, err
		}
		s.Pending, s.Oldest = n, oldest
		if n > 0 && !oldest.IsZero() && now.After(oldest) {
			s.Lag = now.Sub(oldest)
		}
		out = append(out, s)
	}
	return out, nil
}
