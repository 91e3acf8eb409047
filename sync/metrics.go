package sync

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var breaches = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "wharf_sla_breaches_total",
	Help: "SLA breaches raised as exceptions, by SLA and owner.",
}, []string{"sla", "owner"})

// Collector exports the sync's state at scrape time: business objects by
// kind and state, open exceptions by reason and owner, SLA breaches.
func Collector(st MetricsStore) prometheus.Collector { return &collector{st: st} }

type collector struct{ st MetricsStore }

var (
	objectsDesc    = prometheus.NewDesc("wharf_sync_objects", "Business objects the sync follows, by kind and state.", []string{"kind", "state"}, nil)
	exceptionsDesc = prometheus.NewDesc("wharf_exceptions_open", "Open exceptions, by reason and owner.", []string{"reason", "owner"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- exceptionsDesc
	breaches.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if objs, err := c.st.CountSyncObjects(ctx); err == nil {
		for k, n := range objs {
			ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
	}
	if ex, err := c.st.CountOpenExceptions(ctx); err == nil {
		for k, n := range ex {
			ch <- prometheus.MustNewConstMetric(exceptionsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
	}
	breaches.Collect(ch)
}
