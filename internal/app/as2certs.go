package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// AS2 certificates expire; partners pin them, so a replacement must reach
// the other side before the old one lapses. Every certificate Wharf holds
// (its own and each partner's) is exported as a metric, and the daily
// check raises an exception as2.cert_warn_days (default 30) ahead of an expiry.

var as2CertDesc = prometheus.NewDesc("wharf_as2_certificate_expiry_timestamp_seconds",
	"When each AS2 certificate Wharf holds expires (unix seconds); partner=\"\" is Wharf's own. Alert on this minus time().",
	[]string{"partner", "subject", "serial"}, nil)

type as2CertCollector struct {
	c  *config.Config
	st store.Store
}

func (a *as2CertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- as2CertDesc }

func (a *as2CertCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	held, err := (&directory{c: a.c, st: a.st}).heldCerts(ctx)
	if err != nil {
		return
	}
	for _, h := range held {
		ch <- prometheus.MustNewConstMetric(as2CertDesc, prometheus.GaugeValue, float64(h.cert.NotAfter.Unix()),
			h.partner, h.cert.Subject.CommonName, h.cert.SerialNumber.Text(16))
	}
}

// as2CertExpiry raises an exception (reason certificate) for each held
// certificate that expires within the warning window or has expired; one
// per certificate while it stays open.
func as2CertExpiry(c *config.Config, st store.Store, clock func() time.Time, log *slog.Logger) jobs.Task {
	return func(ctx context.Context) error {
		held, err := (&directory{c: c, st: st}).heldCerts(ctx)
		if err != nil {
			return err
		}
		now := clock()
		warn := time.Duration(c.AS2.CertWarnDaysOr30()) * 24 * time.Hour
		for _, h := range held {
			left := h.cert.NotAfter.Sub(now)
			if left > warn {
				continue
			}
			when := "expires on " + h.cert.NotAfter.UTC().Format("2006-01-02")
			if left <= 0 {
				when = "expired on " + h.cert.NotAfter.UTC().Format("2006-01-02")
			}
			var detail string
			if h.partner == "" {
				detail = fmt.Sprintf("Wharf's own AS2 certificate %q (serial %s) %s: make a new key and certificate, set as2.cert_file and as2.key_file, "+
					"and send every AS2 partner the new certificate (wharf as2 cert) before the switch", h.cert.Subject.CommonName, h.cert.SerialNumber.Text(16), when)
			} else {
				detail = fmt.Sprintf("partner %s's AS2 certificate %q (serial %s) %s: ask the partner for its next certificate and add it with "+
					"wharf partner add %s --as2-cert NEW_CERT_PEM (both are accepted during the rotation)", h.partner, h.cert.Subject.CommonName, h.cert.SerialNumber.Text(16), when, h.partner)
			}
			x := &store.Exception{Reason: "certificate", Owner: store.OwnerIT, Detail: detail, ObjectKind: "certificate",
				ObjectKey: h.cert.SerialNumber.Text(16), PartnerID: h.partner, DedupeKey: "certificate/" + h.partner + "/" + h.cert.SerialNumber.Text(16)}
			created, err := st.RaiseException(ctx, x)
			if err != nil {
				return err
			}
			if created {
				log.Warn("as2: certificate expiry; exception raised", "partner", h.partner, "subject", h.cert.Subject.CommonName, "not_after", h.cert.NotAfter, "exception", x.ID)
			}
		}
		return nil
	}
}

// as2CertSchedule runs the certificate check daily unless a configured
// schedule runs it already.
func as2CertSchedule(rt *jobs.Runtime) {
	if rt.HasTaskScheduled("as2.cert_expiry") {
		return
	}
	daily, _ := config.Schedule{Cron: "@daily"}.Parse()
	rt.AddSchedules(jobs.Schedule{Name: "as2-cert-expiry", Schedule: daily, Task: "as2.cert_expiry"})
}
