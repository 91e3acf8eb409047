package app

import (
	"context"
	"sort"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// TaskDocs names the jobs a schedule can run, with what they do.
var TaskDocs = map[string]string{
	"db.maintenance":    "refresh database statistics (and checkpoint SQLite's WAL)",
	"archive.verify":    "re-hash every archived blob and walk the hash chain (metric wharf_archive_verify_ok; a failure raises an exception naming the first broken entry)",
	"archive.retention": "purge archive entries past their retention rule's delete-after (tombstones stay in the hash chain), then delete the blobs purges kept under Object Lock whose retention date has passed",
	"archive.spool":     "upload blobs spooled locally while S3 was unreachable (each instance also uploads its own spool every 30 s while it holds blobs)",
	"as2.cert_expiry":   "raise an exception for each AS2 certificate (Wharf's own or a partner's) that expires within as2.cert_warn_days (runs daily on its own)",
	"as2.mdn_overdue":   "fail each message sent over AS2 whose async MDN is past the partner's as2.mdn_timeout, with an exception event (runs every minute on its own when a partner gets async MDNs)",
	"sync.sla":          "turn SLA timers past due into exceptions (runs every minute on its own when sync.slas are set)",
	"sync.digest":       "send the open exceptions as a text report to sync.digest.to (on sync.digest.cron)",
	"sync.reconcile":    "raise exceptions for orders not shipped and deliveries not invoiced after sync.reconcile_after (hourly on its own when sync.routes are set)",
	"x12.ack_overdue":   "raise an exception for each X12 group sent whose 997/999 is past the partner's x12.ack_timeout (runs every 5 minutes on its own when a partner sets one)",
}

// maintenanceTasks are the store's and the archive's jobs a schedule can run, by name.
func maintenanceTasks(st store.Store, a *archive.Archive) map[string]jobs.Task {
	return map[string]jobs.Task{
		"db.maintenance": func(ctx context.Context) error { return st.Maintain(ctx) },
		// A broken archive is not a job failure to retry: Verify sets the
		// metric and logs the exception; the job fails only if it cannot run.
		"archive.verify":    func(ctx context.Context) error { _, err := a.Verify(ctx, archive.VerifyOptions{}); return err },
		"archive.retention": func(ctx context.Context) error { _, err := a.PurgeExpired(ctx); return err },
		"archive.spool":     func(ctx context.Context) error { _, err := a.UploadSpool(ctx); return err },
	}
}

// TaskNames lists the jobs a schedule can run (config.ValidateOptions.Jobs).
func TaskNames() []string {
	var names []string
	for n := range TaskDocs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
