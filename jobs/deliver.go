package jobs

import (
	"context"
	"errors"

	"github.com/riverqueue/river"
)

// DeliverArgs sends one archived outbound message through its partner's
// transport. The archive's commit hook inserts it in the same transaction
// as the outbound message, so nothing archived for sending is forgotten.
type DeliverArgs struct {
	MessageID string `json:"message_id" river:"unique"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "wharf_deliver" }

// DeliverWorker works DeliverArgs with Deliver; River retries failures with
// exponential backoff up to the client's MaxAttempts, except permanent
// ones (lifecycle.ErrPermanent), which cancel the job.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Deliver func(ctx context.Context, messageID string) error
}

// Attempt numbers a job's tries: N counts from 1 and the job is not
// retried after N == Max.
type Attempt struct{ N, Max int }

type attemptKey struct{}

// WithAttempt returns ctx carrying the attempt (DeliverWorker does this, so
// Deliver can dead-letter on the last one; tests set it directly).
func WithAttempt(ctx context.Context, a Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// AttemptOf returns the attempt ctx carries; without one, a single try.
func AttemptOf(ctx context.Context) Attempt {
	if a, ok := ctx.Value(attemptKey{}).(Attempt); ok {
		return a
	}
	return Attempt{N: 1, Max: 1}
}

// Work implements river.Worker.
func (w *DeliverWorker) Work(ctx context.Context, j *river.Job[DeliverArgs]) error {
	if w.Deliver == nil {
		return errors.New("deliver: this process does not deliver; wharf serve does")
	}
	ctx = WithAttempt(ctx, Attempt{N: j.Attempt, Max: j.MaxAttempts})
	return cancelPermanent(w.Deliver(ctx, j.Args.MessageID))
}
