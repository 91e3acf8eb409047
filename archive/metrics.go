package archive

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	puts       *prometheus.CounterVec
	putBytes   prometheus.Counter
	putErrors  prometheus.Counter
	spooled    prometheus.Counter
	uploaded   prometheus.Counter
	purged     prometheus.Counter
	verifyOK   prometheus.Gauge
	verifyLast prometheus.Gauge
	verifyRecs prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		puts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_archive_puts_total", Help: "Entries archived, by where the blob went (fs, s3, spool).",
		}, []string{"store"}),
		putBytes:  prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_archive_put_bytes_total", Help: "Bytes archived."}),
		putErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_archive_put_errors_total", Help: "Puts that failed (nothing recorded)."}),
		spooled:   prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_archive_spooled_total", Help: "Blobs written to the local spool because the blob store failed."}),
		uploaded:  prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_archive_spool_uploaded_total", Help: "Spooled blobs uploaded to the blob store."}),
		purged:    prometheus.NewCounter(prometheus.CounterOpts{Name: "wharf_archive_purged_total", Help: "Entries turned into tombstones by retention."}),
		verifyOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wharf_archive_verify_ok", Help: "1 when the last archive verify found every blob and the hash chain intact, 0 when it did not.",
		}),
		verifyLast: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wharf_archive_verify_last_run_timestamp_seconds", Help: "When the last archive verify finished."}),
		verifyRecs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "wharf_archive_verify_records", Help: "Chain records walked by the last verify."}),
	}
	if reg != nil {
		reg.MustRegister(m.puts, m.putBytes, m.putErrors, m.spooled, m.uploaded, m.purged, m.verifyOK, m.verifyLast, m.verifyRecs)
	}
	return m
}

func (m *metrics) observeVerify(r *Report, at time.Time) {
	ok := 0.0
	if r.OK() {
		ok = 1
	}
	m.verifyOK.Set(ok)
	m.verifyLast.Set(float64(at.Unix()))
	m.verifyRecs.Set(float64(r.Records))
}
