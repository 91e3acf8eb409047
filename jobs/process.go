package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// ProcessArgs is the job that processes an archived message (detect, parse,
// acknowledge, map, route). The archive's OnCommit hook inserts it in the
// same transaction as the message's index row.
type ProcessArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (ProcessArgs) Kind() string { return "wharf_process" }

// Processor processes one archived message (package process).
type Processor interface {
	// Process fails permanently (lifecycle.ErrPermanent) for a message
	// that does not exist.
	Process(ctx context.Context, messageID string) error
}

// ProcessWorker works ProcessArgs through its Processor; without one it
// only records in the message's history that it ran. A permanent failure
// (lifecycle.ErrPermanent) cancels the job; others are retried.
type ProcessWorker struct {
	river.WorkerDefaults[ProcessArgs]
	Store     store.Store
	Processor Processor
}

// Work implements river.Worker.
func (w *ProcessWorker) Work(ctx context.Context, j *river.Job[ProcessArgs]) error {
	if w.Processor != nil {
		// The job completes in the stage's last transaction (see
		// store.WithFinal): a crash after it does not run the stage again.
		// A message that is gone is the processor's permanent failure.
		ctx = store.WithFinal(ctx, func(ctx context.Context, tx store.Tx) error { return completeTx(ctx, tx, j) })
		return cancelPermanent(w.Processor.Process(ctx, j.Args.MessageID))
	}
	if _, err := w.Store.GetMessage(ctx, j.Args.MessageID); errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("process: %w", err))
	} else if err != nil {
		return fmt.Errorf("process: %w", err) // retried
	}
	return w.Store.AppendEvent(ctx, &store.Event{MessageID: j.Args.MessageID, Kind: lifecycle.EventQueued,
		Detail: "queued for processing; no processor is registered yet"})
}

// SpoolUploadArgs uploads the archive's local spool to its blob store.
type SpoolUploadArgs struct{}

// Kind implements river.JobArgs.
func (SpoolUploadArgs) Kind() string { return "wharf_archive_spool_upload" }

// SpoolUploadOpts keep at most one upload job waiting or running: insert it
// whenever a blob was spooled (in the same transaction); one run uploads
// everything spooled until it finds nothing left. A finished job does not
// count (it did before: a blob spooled after a drain in the same minute got
// no job of its own); while one runs, each instance's own spool loop
// (internal/app, every 30 s) catches a blob spooled as it finishes.
var SpoolUploadOpts = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}}}

// SpoolUploader is what the spool upload job drives (an *archive.Archive).
type SpoolUploader interface {
	UploadSpool(ctx context.Context) (int, error)
}

// SpoolUploadWorker works SpoolUploadArgs; while the blob store stays
// unreachable it snoozes (which does not use up attempts) and tries again.
// A permanent failure (lifecycle.ErrPermanent) cancels the job.
type SpoolUploadWorker struct {
	river.WorkerDefaults[SpoolUploadArgs]
	Archive SpoolUploader
	Retry   time.Duration // default 1 minute
}

// Work implements river.Worker.
func (w *SpoolUploadWorker) Work(ctx context.Context, j *river.Job[SpoolUploadArgs]) error {
	if _, err := w.Archive.UploadSpool(ctx); err != nil {
		if lifecycle.IsPermanent(err) {
			return cancelPermanent(err)
		}
		if ctx.Err() != nil {
			return err
		}
		retry := w.Retry
		if retry <= 0 {
			retry = time.Minute
		}
		return river.JobSnooze(retry)
	}
	return nil
}

// completeTx marks the running job completed in the caller's transaction
// (River's JobCompleteTx for the store's driver); River's own completion
// after Work returns then finds it completed and leaves it.
func completeTx[T river.JobArgs](ctx context.Context, tx store.Tx, j *river.Job[T]) error {
	var err error
	switch raw := tx.Raw().(type) {
	case *sql.Tx:
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, raw, j)
	case pgx.Tx:
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, raw, j)
	default:
		err = fmt.Errorf("transaction of type %T does not belong to a job database", raw)
	}
	if err != nil {
		return fmt.Errorf("jobs: complete job %d in the stage's transaction: %w", j.ID, err)
	}
	return nil
}
