package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// overviewMetrics exports what the console's overview shows (open
// exceptions are wharf_exceptions_open, from the sync package), computed
// from the database at scrape time (so every instance reports the same
// numbers and nothing is lost on restart).
type overviewMetrics struct {
	s                              *Server
	msgs, errs, ratio, stuck, cert *prometheus.Desc
	scrapeOK                       *prometheus.Desc
}

func newOverviewMetrics(s *Server) *overviewMetrics {
	return &overviewMetrics{s: s,
		msgs: prometheus.NewDesc("wharf_overview_messages", "Messages received or sent in the window (24h, 7d), by partner, transport and direction.",
			[]string{"window", "partner", "transport", "direction"}, nil),
		errs: prometheus.NewDesc("wharf_overview_message_errors", "Messages in the window that ended rejected, failed or dead-lettered, by partner and transport.",
			[]string{"window", "partner", "transport"}, nil),
		ratio: prometheus.NewDesc("wharf_overview_error_ratio", "Errors divided by messages in the window, by partner and transport.",
			[]string{"window", "partner", "transport"}, nil),
		stuck: prometheus.NewDesc("wharf_overview_stuck_documents", "Documents of the last 7 days stopped at a step (received not mapped, mapped not delivered, delivered not acknowledged).",
			[]string{"stage"}, nil),
		cert: prometheus.NewDesc("wharf_certificate_expiry_timestamp_seconds", "When each AS2 certificate (Wharf's own and partners') expires.",
			[]string{"owner", "subject", "serial"}, nil),
		scrapeOK: prometheus.NewDesc("wharf_overview_scrape_ok", "1 when the overview metrics could be read from the database.", nil, nil),
	}
}

func (m *overviewMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.msgs, m.errs, m.ratio, m.stuck, m.cert, m.scrapeOK} {
		ch <- d
	}
}

func (m *overviewMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok := 1.0
	if err := m.collect(ctx, ch); err != nil {
		m.s.log.Warn("overview metrics", "err", err)
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(m.scrapeOK, prometheus.GaugeValue, ok)
}

func (m *overviewMetrics) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	ws, err := m.s.Overview(ctx)
	if err != nil {
		return err
	}
	for _, w := range ws {
		for _, g := range w.Groups {
			ch <- prometheus.MustNewConstMetric(m.msgs, prometheus.GaugeValue, float64(g.In), w.Name, g.Partner, g.Transport, "in")
			ch <- prometheus.MustNewConstMetric(m.msgs, prometheus.GaugeValue, float64(g.Out), w.Name, g.Partner, g.Transport, "out")
			ch <- prometheus.MustNewConstMetric(m.errs, prometheus.GaugeValue, float64(g.Errors), w.Name, g.Partner, g.Transport)
			ch <- prometheus.MustNewConstMetric(m.ratio, prometheus.GaugeValue, g.ErrorRate, w.Name, g.Partner, g.Transport)
		}
	}
	stuck, err := m.s.Stuck(ctx)
	if err != nil {
		return err
	}
	counts := map[string]int{StageNotMapped: 0, StageNotDelivered: 0, StageNotAcked: 0}
	for _, d := range stuck {
		counts[d.Stage]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.stuck, prometheus.GaugeValue, float64(n), st)
	}
	certs, err := m.s.Certificates(ctx)
	if err != nil {
		return err
	}
	for _, c := range certs {
		ch <- prometheus.MustNewConstMetric(m.cert, prometheus.GaugeValue, float64(c.NotAfter.Unix()), c.Owner, c.Subject, c.Serial)
	}
	return nil
}
