package store

import "context"

// The statements TestQueryPlans explains.
const (
	CountBlobRefsSQL = countBlobRefsSQL
)

var (
	FirstWithContentsSQL = firstWithContentsSQL(2)
	SpooledSQL           = blobPrefixSQL("spool:", 100)
)

// PostgreSQL's group commit, for pggroup_test.go (package store_test, as
// testenv imports the store).
const (
	PGLanes    = pgLanes
	PGMaxGroup = pgMaxGroup
)

// WaitFor polls cond until it holds, for at most 10 s.
var WaitFor = waitFor

// PGGroupCall is a call of a shared transaction.
type PGGroupCall struct {
	Ctx   context.Context
	Fn    func(Tx) error
	Err   error
	Panic any
}

// PGGroupRun runs calls, in their order, in s's shared transactions, as a
// lane does a batch.
func PGGroupRun(s Store, calls []*PGGroupCall) {
	batch := make([]*groupCall, len(calls))
	for i, c := range calls {
		batch[i] = &groupCall{ctx: c.Ctx, fn: c.Fn, done: make(chan struct{})}
	}
	s.(*pgStore).group.run(batch)
	for i, c := range batch {
		calls[i].Err, calls[i].Panic = c.err, c.panic
	}
}

// PGGroupState is how many lanes are led and how many calls wait.
func PGGroupState(s Store) (leaders, queued int) {
	g := s.(*pgStore).group
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leaders, len(g.queue)
}

// TxID is the ID of tx's PostgreSQL transaction.
func TxID(ctx context.Context, tx Tx) (int64, error) {
	var id int64
	err := tx.Raw().(connTx).QueryRow(ctx, `SELECT txid_current()`).Scan(&id)
	return id, err
}

// TxExec runs q in tx now, on its connection.
func TxExec(ctx context.Context, tx Tx, q string) error {
	_, err := tx.Raw().(connTx).Exec(ctx, q)
	return err
}

// ExecLater leaves q waiting in tx (execLater).
func ExecLater(ctx context.Context, tx Tx, label, q string) error {
	return tx.(*pgTx).execLater(ctx, label, q)
}
