package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// archiveSpoolDir is where an S3 archive spools blobs while S3 is unreachable.
func archiveSpoolDir(c *config.Config) string { return filepath.Join(c.Data, "archive-spool") }

// archiveRetention reads the retention rules from the config's
// archive.retention, or from WHARF_ARCHIVE_RETENTION when set (it wins), e.g.
// "keep=7y,delete=10y;acme:keep=30d,delete=90d".
func archiveRetention(c *config.Config) ([]archive.Rule, error) {
	if s := c.Getenv("WHARF_ARCHIVE_RETENTION"); s != "" {
		r, err := archive.ParseRules(s)
		if err != nil {
			return nil, fmt.Errorf("WHARF_ARCHIVE_RETENTION: %w", err)
		}
		return r, nil
	}
	s := c.Archive.RetentionSpec()
	if s == "" {
		return nil, nil
	}
	r, err := archive.ParseRules(s)
	if err != nil {
		return nil, fmt.Errorf("archive.retention: %w", err)
	}
	return r, nil
}

// ArchiveOptions are OpenArchive's optional parts.
type ArchiveOptions struct {
	Log     *slog.Logger
	Metrics prometheus.Registerer
	Now     func() time.Time
	// registry is the app's transport registry (a command that enqueues
	// deliveries without an app builds its own).
	registry *registry
}

// OpenArchive opens the configured archive. With a job runtime, the
// archive's commit hook decides each new message's next step in the
// transaction that records it: a processing job for what Wharf must read,
// a delivery job for what it sends over a delivering transport, a spool
// upload for a blob spooled while S3 was down. Without one (CLI commands
// that only read), nothing is enqueued.
func OpenArchive(c *config.Config, st store.Store, rt *jobs.Runtime, o ArchiveOptions) (*archive.Archive, error) {
	log, reg := o.Log, o.Metrics
	if err := PrepareData(c.Data); err != nil {
		return nil, err
	}
	blobs, spool, err := archive.OpenBlobs(c.ArchiveURL(), archiveSpoolDir(c), c.Getenv)
	if err != nil {
		return nil, err
	}
	if err := checkObjectLock(blobs, log); err != nil {
		return nil, err
	}
	rules, err := archiveRetention(c)
	if err != nil {
		return nil, err
	}
	opts := archive.Options{Blobs: blobs, Spool: spool, Retention: rules, Logger: log, Metrics: reg, Now: o.Now, FsyncEach: c.Archive.FsyncEach,
		InlineMax: c.Archive.InlineMax()}
	if rt != nil {
		pushes := o.registry
		if pushes == nil {
			pushes = newRegistry()
		}
		opts.OnCommit = func(ctx context.Context, tx store.Tx, e *archive.Entry) error {
			// Inbound messages are processed; outbound ones too, so that the
			// X12 groups Wharf sends are recorded for the partner's 997/999;
			// not Wharf's own acknowledgments, which are never acknowledged
			// (processing them would record nothing).
			// Nor what was refused on receipt (archived as rejected).
			// Its first processing is due in the store's processing queue
			// (jobs.Runtime.ProcessQueue), woken when the entry commits.
			if !as2Evidence[e.Transport] && !e.Generated && e.Refused == "" {
				if err := tx.QueueProcessing(ctx, e.ID); err != nil {
					return err
				}
			}
			if e.Direction == store.Outbound && pushes.pushes(e.Transport) && !e.SentByCaller {
				if _, err := rt.InsertTx(ctx, tx, jobs.DeliverArgs{MessageID: e.ID}, nil); err != nil {
					return err
				}
			}
			if e.Spooled() {
				if _, err := rt.InsertTx(ctx, tx, jobs.SpoolUploadArgs{}, jobs.SpoolUploadOpts); err != nil {
					return err
				}
			}
			return nil
		}
		opts.Committed = rt.Wake
	}
	return archive.New(st, opts)
}

// checkObjectLock refuses to open an S3 archive configured with lock=...
// whose bucket has no Object Lock: every Put would fail. An S3 server that
// cannot be asked now does not stop start-up (Puts spool meanwhile, and the
// first upload names the problem).
func checkObjectLock(blobs archive.BlobStore, log *slog.Logger) error {
	s3b, ok := blobs.(*archive.S3)
	if !ok || !s3b.Locked() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s3b.CheckLock(ctx)
	if errors.Is(err, archive.ErrNoObjectLock) {
		return err
	}
	if err != nil && log != nil {
		log.Warn("archive: could not check the bucket's Object Lock now", "err", err)
	}
	return nil
}

// RegisterArchiveJobs adds the archive's workers to the runtime.
// proc processes inbound messages (nil in CLI commands, which only insert).
func RegisterArchiveJobs(rt *jobs.Runtime, st store.Store, a *archive.Archive, proc jobs.Processor, deliver func(context.Context, string) error) {
	jobs.Register(rt, &jobs.ProcessWorker{Store: st, Processor: proc})
	if proc != nil {
		rt.ProcessQueue(proc)
	}
	jobs.Register(rt, &jobs.DeliverWorker{Deliver: deliver})
	jobs.Register(rt, &jobs.SpoolUploadWorker{Archive: a})
}

// OpenData opens the configured store and archive for a command that reads
// or adds to them without running the flow (no jobs are enqueued); close
// the store when done.
func OpenData(ctx context.Context, c *config.Config, opts ...store.Option) (store.Store, *archive.Archive, error) {
	st, err := OpenStore(ctx, c, opts...)
	if err != nil {
		return nil, nil, err
	}
	a, err := OpenArchive(c, st, nil, ArchiveOptions{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, a, nil
}

// uploadOwnSpool uploads this instance's spool every SpoolEvery while it
// holds blobs, until ctx ends. The spool is this instance's own (in a
// cluster no other instance can read it), so its upload cannot be left to
// a cluster-wide job that may run elsewhere: the job a spooled Put
// enqueues still runs wherever River puts it (and uploads that instance's
// spool); this loop makes sure every spool drains where it lives.
func uploadOwnSpool(ctx context.Context, a *archive.Archive, log *slog.Logger) {
	t := time.NewTicker(SpoolEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := a.SpoolPending(ctx, 1); err != nil || n == 0 {
			continue
		}
		n, err := a.UploadSpool(ctx)
		switch {
		case err != nil && !failing:
			log.Warn("archive: spool upload failed; retrying every "+SpoolEvery.String(), "uploaded", n, "err", err)
			failing = true
		case err == nil:
			if failing || n > 0 {
				log.Info("archive: spool uploaded", "blobs", n)
			}
			failing = false
		}
	}
}

// SpoolEvery is how often an instance looks at its own spool.
const SpoolEvery = 30 * time.Second
