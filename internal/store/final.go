package store

import "context"

// A unit of work (a job) can end in the same transaction as the stage's
// last writes: the job runtime puts its completion in the context
// (WithFinal), and the stage runs it (Final) in the transaction that
// records its outcome. A crash before that commit leaves both undone, so
// the job runs again; a crash after it leaves both done, so the job does
// not run again and write the same history twice.

type finalKey struct{}

// WithFinal returns ctx carrying fn, the completion of the unit of work.
func WithFinal(ctx context.Context, fn func(context.Context, Tx) error) context.Context {
	return context.WithValue(ctx, finalKey{}, fn)
}

// Final returns the completion ctx carries, nil if none.
func Final(ctx context.Context) func(context.Context, Tx) error {
	fn, _ := ctx.Value(finalKey{}).(func(context.Context, Tx) error)
	return fn
}

// A unit of work may also know that it runs for the first time (the first
// claim of a message's processing, ProcessingClaim.First): nothing of it
// can have been recorded before, so its idempotency lookups (was this
// written already?) would find nothing and can be skipped. Without the
// mark a stage looks, as a retry must.

type firstKey struct{}

// WithFirstRun returns ctx marked as the unit of work's first run.
func WithFirstRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, firstKey{}, true)
}

// FirstRun tells whether ctx is marked as the unit of work's first run.
func FirstRun(ctx context.Context) bool {
	first, _ := ctx.Value(firstKey{}).(bool)
	return first
}
