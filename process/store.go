package process

import (
	"context"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Store is what the processing stage (Processor) needs of the store: the
// message being processed, its keys and history, the X12 interchanges
// received and the groups sent (for duplicates and acknowledgments), the
// partner's control numbers, and transactions to record a result in.
// store.Store implements it. Inside WithTx the stage uses only the
// store.Tx it is given (see package store on SQLite's single connection).
type Store interface {
	// WithTx runs fn in a transaction, committed when fn returns nil.
	WithTx(ctx context.Context, fn func(store.Tx) error) error

	GetMessage(ctx context.Context, id string) (*store.Message, error)
	AddMessageKeys(ctx context.Context, messageID string, keys []store.Key) error
	// SearchMessages finds messages (the acknowledgment's name checks the
	// partner's earlier uploads with the same file name).
	SearchMessages(ctx context.Context, f store.MessageFilter) ([]*store.Message, error)
	// AppendEvent adds to the message's history; events are never updated.
	AppendEvent(ctx context.Context, e *store.Event) error

	// RecordInterchange records an X12 interchange control number from a
	// sender and reports another message that carried it within the window.
	RecordInterchange(ctx context.Context, p *store.RecordInterchangeParams) (duplicateOf string, err error)
	RecordSentGroup(ctx context.Context, g *store.SentGroup) error
	SentGroupsByGS06(ctx context.Context, partnerID, gs06 string) ([]*store.SentGroup, error)
	SentGroupsByISA13(ctx context.Context, partnerID, isa13 string) ([]*store.SentGroup, error)
	OverdueSentGroups(ctx context.Context, now time.Time) ([]*store.SentGroup, error)

	// NextCounter atomically increments and returns the partner's named
	// counter (isa13, gs06, ...). The first value is 1.
	NextCounter(ctx context.Context, partnerID, name string) (int64, error)
	// NextCounters increments several counters in one statement.
	NextCounters(ctx context.Context, partnerID string, names ...string) ([]int64, error)
}

// CounterStore is what Counters needs of the store: the partner's
// persistent counters, one or several at once (an ISA13 with its first
// GS06 and ST02). store.Store and Store implement it.
type CounterStore interface {
	// NextCounter atomically increments and returns the partner's named
	// counter (isa13, gs06, ...). The first value is 1.
	NextCounter(ctx context.Context, partnerID, name string) (int64, error)
	// NextCounters increments several in one statement and returns
	// their values in the order of names.
	NextCounters(ctx context.Context, partnerID string, names ...string) ([]int64, error)
}

// interchangeRecorder is what seen needs of the store.
type interchangeRecorder interface {
	RecordInterchange(ctx context.Context, p *store.RecordInterchangeParams) (duplicateOf string, err error)
}
