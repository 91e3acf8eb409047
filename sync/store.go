package sync

import (
	"context"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Store is what the sync stage (Engine) needs of the store: business
// objects and their history, the messages and exceptions they lead to,
// batches and SLA timers, and transactions to change them in. store.Store
// implements it. Inside WithTx the engine uses only the store.Tx it is
// given (see package store on SQLite's single connection).
type Store interface {
	// WithTx runs fn in a transaction, committed when fn returns nil.
	WithTx(ctx context.Context, fn func(store.Tx) error) error

	GetSyncObject(ctx context.Context, kind, key string) (*store.SyncObject, error)
	// StaleSyncObjects lists objects of a kind in one of the states, not
	// changed since before, oldest first.
	StaleSyncObjects(ctx context.Context, kind string, states []string, before time.Time, limit int) ([]*store.SyncObject, error)
	AppendSyncEvent(ctx context.Context, e *store.SyncEvent) error
	SyncEventsByMessage(ctx context.Context, messageID string) ([]*store.SyncEvent, error)
	// SyncRefsByValue lists the objects a reference value points to.
	SyncRefsByValue(ctx context.Context, value string) ([]store.SyncRef, error)
	// SyncRefs lists an object's references (its business keys).
	SyncRefs(ctx context.Context, kind, key string) ([]store.SyncRef, error)
	// SyncObjectOrRefs tells whether an object of kind has key value and
	// lists the references whose value it is, in one query.
	SyncObjectOrRefs(ctx context.Context, kind, value string) (bool, []store.SyncRef, error)
	GetSyncApplied(ctx context.Context, messageID string, seq int) (*store.SyncApplied, error)
	// GetMasterRecord and CountMasterRecords read the master data
	// documents are checked against.
	GetMasterRecord(ctx context.Context, object, id string) (*store.MasterRecord, error)
	CountMasterRecords(ctx context.Context, object string) (int, error)
	DueSyncTimers(ctx context.Context, now time.Time, limit int) ([]*store.SyncTimer, error)
	ClaimBatch(ctx context.Context, route string, limit int) (claim string, items []*store.BatchItem, err error)
	// ReleaseBatch puts a claim's items back to waiting.
	ReleaseBatch(ctx context.Context, claim string) error

	SearchMessages(ctx context.Context, f store.MessageFilter) ([]*store.Message, error)
	RaiseException(ctx context.Context, e *store.Exception) (created bool, err error)
	ListExceptions(ctx context.Context, f store.ExceptionFilter) ([]*store.Exception, error)
}

// ActStore is what Act needs of the store: an exception, its status and
// history, and the audit log. store.Store implements it.
type ActStore interface {
	GetException(ctx context.Context, id string) (*store.Exception, error)
	SetExceptionStatus(ctx context.Context, p *store.SetExceptionStatusParams) error
	AppendExceptionEvent(ctx context.Context, e *store.ExceptionEvent) error
	AppendAudit(ctx context.Context, e *store.AuditEvent) error
}

// TraceStore is what Trace and TraceWith read from the store: business
// objects with their references, history and timers, messages with their
// keys and history, and exceptions. store.Store implements it.
type TraceStore interface {
	GetSyncObject(ctx context.Context, kind, key string) (*store.SyncObject, error)
	// SyncEvents returns the object's history, oldest first.
	SyncEvents(ctx context.Context, kind, key string) ([]*store.SyncEvent, error)
	// SyncRefsByValue lists the objects a reference value points to.
	SyncRefsByValue(ctx context.Context, value string) ([]store.SyncRef, error)
	SyncRefs(ctx context.Context, kind, key string) ([]store.SyncRef, error)
	SyncTimers(ctx context.Context, kind, key string) ([]*store.SyncTimer, error)

	GetMessage(ctx context.Context, id string) (*store.Message, error)
	SearchMessages(ctx context.Context, f store.MessageFilter) ([]*store.Message, error)
	MessageKeys(ctx context.Context, messageID string) ([]store.Key, error)
	// Events returns the message's history, oldest first.
	Events(ctx context.Context, messageID string) ([]*store.Event, error)

	ListExceptions(ctx context.Context, f store.ExceptionFilter) ([]*store.Exception, error)
}

// ExceptionLister lists exceptions, for Digest. store.Store implements it.
type ExceptionLister interface {
	ListExceptions(ctx context.Context, f store.ExceptionFilter) ([]*store.Exception, error)
}

// MetricsStore is what Collector counts at scrape time. store.Store
// implements it.
type MetricsStore interface {
	CountSyncObjects(ctx context.Context) (map[[2]string]int, error)
	CountOpenExceptions(ctx context.Context) (map[[2]string]int, error)
}
