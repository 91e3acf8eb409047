// Package store owns Wharf's relational state: trading partners, per-partner
// control-number counters, the message index with its append-only event
// history, and the bookkeeping the job runtime needs (schedule runs).
//
// There is one API ([Store], [Tx], [Queries]) and two drivers chosen by
// [Open]: SQLite (modernc.org/sqlite, WAL, the embedded default) and
// PostgreSQL (pgx/v5). Both run the same SQL through a small querier seam;
// only the schema migrations (embedded, versioned, applied at open) and the
// error translation differ per driver. The package storetest holds the one
// conformance suite both drivers pass.
//
// Concurrency: a Store is safe for concurrent use. Inside [Store.WithTx] use
// only the Tx passed to the function: on SQLite the pool holds a single
// connection, so touching the Store from inside a transaction deadlocks.
// Several processes (the server and the CLI) may open the same database.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/lifecycle"
)

// Sentinel errors. Drivers translate their native errors to these in one place.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule would be broken (for example an X12 ID
	// already claimed by another partner).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the caller passed a value the store refuses.
	ErrInvalid = errors.New("invalid")
)

// InvalidError is an ErrInvalid whose message a person can act on as it
// is ("partner id \"a b\": character ' ' at position 2 is not allowed ..."):
// callers that show it take Msg with errors.As instead of trimming text.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return "invalid: " + e.Msg }
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns an *InvalidError with the formatted message.
func Invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Reason is what a person should read of err: an *InvalidError's message
// without the "invalid: " prefix, else err's text.
func Reason(err error) string {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Msg
	}
	return err.Error()
}

// Partner is a trading partner or an internal system Wharf exchanges files with.
type Partner struct {
	ID      string   // short, stable, used as SFTP user name and in paths
	Name    string   // display name
	X12IDs  []X12ID  // interchange IDs (ISA05/06 and ISA07/08) this partner uses
	SSHKeys []string // authorized_keys lines (public keys) for SFTP login
	// Source says where the partner was last written from: "config" for
	// partners declared in the configuration file, "cli" for `wharf partner add`.
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// DisabledAt is when an operator disabled the partner (zero: enabled):
	// a disabled partner cannot log in to SFTP nor send over inbound HTTP
	// or AS2. UpsertPartner keeps it; SetPartnerDisabled changes it.
	DisabledAt time.Time
}

// SchedulePause is a schedule an operator paused: no instance runs its
// slots until it is resumed.
type SchedulePause struct {
	Name string
	At   time.Time
	By   string // the actor, as audit events name it
}

// Disabled reports whether the partner is disabled.
func (p *Partner) Disabled() bool { return !p.DisabledAt.IsZero() }

// X12ID is an interchange ID qualifier and ID pair such as ZZ:ACME.
type X12ID struct {
	Qualifier string
	ID        string
}

func (x X12ID) String() string { return x.Qualifier + ":" + x.ID }

// ParseX12ID reads QUALIFIER:ID (ZZ:ACME): a 2-character qualifier
// (ISA05/ISA07, upper-cased) and an ID of at most 15 characters.
func ParseX12ID(s string) (X12ID, error) {
	q, id, ok := strings.Cut(s, ":")
	q, id = strings.TrimSpace(q), strings.TrimSpace(id)
	if !ok || q == "" || id == "" {
		return X12ID{}, fmt.Errorf("%q: expected QUALIFIER:ID such as ZZ:ACME", s)
	}
	if len(q) != 2 {
		return X12ID{}, fmt.Errorf("%q: the qualifier (ISA05/ISA07) has 2 characters, got %q", s, q)
	}
	if len(id) > 15 {
		return X12ID{}, fmt.Errorf("%q: the interchange ID (ISA06/ISA08) has at most 15 characters, got %d", s, len(id))
	}
	return X12ID{Qualifier: strings.ToUpper(q), ID: id}, nil
}

// Direction of a message relative to Wharf.
type Direction string

const (
	Inbound  Direction = "in"
	Outbound Direction = "out"
)

// Message is one entry of the message index: a file or payload received or
// sent, whose bytes live in the archive. Its JSON names are the API's
// (partner, filename, blob: one name per concept in every answer).
type Message struct {
	ID            string           `json:"id"` // time-ordered unique id (UUIDv7 text); assigned by InsertMessage when empty
	PartnerID     string           `json:"partner"`
	Direction     Direction        `json:"direction"`
	Transport     string           `json:"transport"` // sftp, as2, s3, folder, http, cli, ...
	RemoteName    string           `json:"filename"`  // file name or path as the remote side named it
	Size          int64            `json:"size"`
	SHA256        string           `json:"sha256"` // hex
	BlobRef       string           `json:"blob"`   // where the archive keeps the bytes
	Status        lifecycle.Status `json:"status"` // received, processed, delivered, ...
	CorrelationID string           `json:"correlation_id"`
	Format        string           `json:"format"`    // detected format: x12, csv, flat, json, unknown
	DocTypes      []string         `json:"doc_types"` // e.g. 204, 214, order
	ParentID      string           `json:"parent_id"` // the message this one replays or derives from
	ReceivedAt    time.Time        `json:"received_at"`
}

// KeyTest is the key (kind and value) that marks a message as test
// traffic: an interchange with ISA15 T, a file from a partner marked
// test, a document sent along a test route. Test traffic changes no
// business object and reaches no production system (docs/sync.md).
var KeyTest = Key{Kind: "test", Value: "test"}

// Traffic values of MessageFilter.Traffic.
const (
	TrafficTest       = "test"
	TrafficProduction = "production"
)

// IsTest reports whether keys mark their message as test traffic.
func IsTest(keys []Key) bool {
	for _, k := range keys {
		if k == KeyTest {
			return true
		}
	}
	return false
}

// Key is a business key or control number attached to a message.
type Key struct {
	Kind  string `json:"kind"` // isa13, gs06, st02, po, bol, pro, shipment, invoice, ...
	Value string `json:"value"`
}

// Event is one entry of a message's append-only history.
type Event struct {
	ID        int64               `json:"id"`
	MessageID string              `json:"message_id"`
	At        time.Time           `json:"at"`
	Kind      lifecycle.EventKind `json:"kind"`   // received, validated, delivered, ...
	Detail    string              `json:"detail"` // human-readable detail, or JSON
}

// MessageFilter selects messages for SearchMessages. Zero fields do not filter.
// Results are newest first; pass the last result's ReceivedAt and ID as
// Before/BeforeID to fetch the next page.
type MessageFilter struct {
	PartnerID string
	Direction Direction
	Since     time.Time
	Until     time.Time
	Key       string // any indexed business key or control number value
	Transport string
	// NotTransports leaves out messages of these transports (e.g. AS2
	// evidence, which is never processed or delivered).
	NotTransports []string
	// Name is a base name: messages whose RemoteName, after its last '/',
	// is exactly this ("997_X.edi" selects "outbound/997_X.edi" and
	// "997_X.edi"). Indexed with PartnerID (migration 0010).
	Name     string
	Statuses []lifecycle.Status // any of these statuses
	// Traffic: TrafficTest selects only test traffic (messages with the
	// key KeyTest), TrafficProduction leaves it out; empty selects both.
	Traffic  string
	Before   time.Time
	BeforeID string
	Limit    int // default 100, at most 1000
}

// Queries are the operations available both on a Store and inside a Tx.
type Queries interface {
	// UpsertPartner creates or replaces the partner with p.ID, including its
	// X12 IDs and SSH keys. ErrConflict when an X12 ID or key belongs to
	// another partner.
	UpsertPartner(ctx context.Context, p *Partner) error
	GetPartner(ctx context.Context, id string) (*Partner, error)
	ListPartners(ctx context.Context) ([]*Partner, error)
	PartnerByX12ID(ctx context.Context, id X12ID) (*Partner, error)
	// PartnerBySSHKey finds the partner holding the public key with the given
	// SHA256 fingerprint (ssh.FingerprintSHA256 format).
	PartnerBySSHKey(ctx context.Context, fingerprint string) (*Partner, error)
	// SetPartnerDisabled disables the partner (from the store's clock; a
	// disabled one keeps its first time) or enables it again.
	// ErrNotFound for an unknown partner.
	SetPartnerDisabled(ctx context.Context, id string, disabled bool) error

	// NextCounter atomically increments and returns the partner's named
	// counter (isa13, gs06, ...). The first value is 1. Values are never
	// handed out twice, across restarts and processes.
	NextCounter(ctx context.Context, partnerID, name string) (int64, error)
	// NextCounters increments several of the partner's counters in one
	// statement (atomic without a transaction) and returns their new
	// values in the order of names, each named once.
	NextCounters(ctx context.Context, partnerID string, names ...string) ([]int64, error)

	InsertMessage(ctx context.Context, m *Message) error
	GetMessage(ctx context.Context, id string) (*Message, error)
	// SetMessageStatus moves the message to a status (ErrInvalid for one
	// lifecycle does not know). lifecycle.CanTransition describes the moves
	// Wharf makes; they are not checked here.
	SetMessageStatus(ctx context.Context, id string, status lifecycle.Status) error
	// SetMessageFormat records the detected format and document types.
	SetMessageFormat(ctx context.Context, id, format string, docTypes []string) error
	// SetMessageOutcome is SetMessageStatus and SetMessageFormat at once:
	// one statement when the status changes.
	SetMessageOutcome(ctx context.Context, id string, status lifecycle.Status, format string, docTypes []string) error
	// SetStatusOf and SetOutcomeOf are SetMessageStatus and
	// SetMessageOutcome for a caller that holds m (its processing claim,
	// the acknowledgment it archived): the status change's event is built
	// from m, with the new status (and format and types), and nothing is
	// read back, so in a PostgreSQL transaction the change waits with the
	// other writes instead of a round trip of its own (one statement
	// changes the row and, when its status changed, writes the event). A
	// message that is not there changes nothing, and is no error.
	SetStatusOf(ctx context.Context, m *Message, status lifecycle.Status) error
	SetOutcomeOf(ctx context.Context, m *Message, status lifecycle.Status, format string, docTypes []string) error
	SearchMessages(ctx context.Context, f MessageFilter) ([]*Message, error)
	AddMessageKeys(ctx context.Context, messageID string, keys []Key) error
	MessageKeys(ctx context.Context, messageID string) ([]Key, error)
	// AppendEvent adds to the message's history; events are never updated.
	// e.ID stays 0: the store numbers events as they are written (Events
	// returns them with their IDs), and in a PostgreSQL transaction the
	// insert waits to go with the next statement.
	AppendEvent(ctx context.Context, e *Event) error
	// Events returns the message's history, oldest first.
	Events(ctx context.Context, messageID string) ([]*Event, error)

	// RecordInterchange records an X12 interchange control number from a
	// sender and reports another message that carried it within the window.
	RecordInterchange(ctx context.Context, p *RecordInterchangeParams) (duplicateOf string, err error)

	// Functional groups sent, for reconciling the partner's 997/999/TA1.
	RecordSentGroup(ctx context.Context, g *SentGroup) error
	SentGroupsByGS06(ctx context.Context, partnerID, gs06 string) ([]*SentGroup, error)
	SentGroupsByISA13(ctx context.Context, partnerID, isa13 string) ([]*SentGroup, error)
	OverdueSentGroups(ctx context.Context, now time.Time) ([]*SentGroup, error)
	SetSentGroupAck(ctx context.Context, p *SetSentGroupAckParams) error
	// ExpectNoAcks: the message's awaited groups will never be
	// acknowledged (it was dead-lettered): lifecycle.AckNotSent.
	ExpectNoAcks(ctx context.Context, messageID string) error
	// RearmSentGroups: the message's groups that were not sent
	// (lifecycle.AckNotSent) have been sent now (its replay was
	// delivered): awaited again from the store's clock, due as long after
	// it as before.
	RearmSentGroups(ctx context.Context, messageID string) error

	// Audit events: logins, refusals, sessions, operator actions.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, actor string, limit int) ([]*AuditEvent, error)

	// ScheduleLastRun returns the latest slot recorded for a schedule.
	ScheduleLastRun(ctx context.Context, name string) (time.Time, bool, error)
	// RecordScheduleRun records that the schedule's slot ran; the stored
	// value only moves forward.
	RecordScheduleRun(ctx context.Context, name string, slot time.Time) error
	// PauseSchedule pauses the schedule (from the store's clock, by whom;
	// pausing a paused one keeps its first pause); ResumeSchedule resumes
	// it (resuming a running one does nothing). SchedulePauses lists the
	// paused schedules by name.
	PauseSchedule(ctx context.Context, name, by string) error
	ResumeSchedule(ctx context.Context, name string) error
	SchedulePauses(ctx context.Context) (map[string]SchedulePause, error)

	// MessageStats counts messages received since a time by partner,
	// transport, direction and status (stats.go).
	MessageStats(ctx context.Context, since time.Time) ([]*MessageStat, error)
	// HourlyStats counts messages received since a time by partner and
	// hour (UTC), with their errors and the latency of those settled
	// (stats.go); one grouped query.
	HourlyStats(ctx context.Context, since time.Time) ([]*HourlyStat, error)
	// UnacknowledgedSentGroups: sent groups past their acknowledgment's due
	// time without one ("" or "overdue"), newest first (stats.go).
	UnacknowledgedSentGroups(ctx context.Context, now time.Time) ([]*SentGroup, error)

	ArchiveQueries    // archive.go
	AS2Queries        // as2.go
	ExceptionQueries  // exceptions.go
	SyncQueries       // sync.go
	AccessQueries     // access.go
	ObjectQueries     // objects.go
	InstanceQueries   // instances.go
	IDQueries         // ids.go
	OutboxQueries     // outbox.go
	MasterQueries     // master.go
	RateLimitQueries  // ratelimits.go
	ProcessingQueries // processing.go
}

// Store is the database. Open one with Open.
type Store interface {
	Queries
	// WithTx runs fn in a transaction, committed when fn returns nil.
	WithTx(ctx context.Context, fn func(Tx) error) error
	// Driver names the driver: "sqlite" or "postgres".
	Driver() string
	// Handle is the underlying pool, for components that share the database
	// (the job runtime): *sql.DB for SQLite, *pgxpool.Pool for PostgreSQL.
	Handle() any
	// Describe says where the database is, without credentials.
	Describe() string
	Ping(ctx context.Context) error
	// Maintain refreshes planner statistics and, on SQLite, checkpoints the WAL.
	Maintain(ctx context.Context) error
	Close() error
}

// WriterStater is a store whose writes share transactions: SQLite's one
// writer (sqliteStore.WriterStats), PostgreSQL's lanes
// (pgStore.WriterStats).
type WriterStater interface {
	WriterStats() (busy time.Duration, commits, txs int64)
}

// Merger is a store whose concurrent transactions share commits (SQLite's
// group commit). WithTxMerged writes item in a transaction of the group
// commit as WithTx would, except that the calls for the same Merge that
// share a commit are written by one call of its Run with all their items:
// the writes that would be each caller's statements, as one caller's (one
// lock of a shared row, one multi-row insert). If that Run fails, each
// item is written again alone, so that every caller gets its own outcome
// and one failure fails no other. A caller batching of its own would wait
// for its previous batch's commit before it could start the next one; here
// a call joins the next commit at once.
type Merger interface {
	WithTxMerged(ctx context.Context, m *Merge, item any) error
}

// Merge is a kind of write that Merger writes for several callers at once.
type Merge struct {
	// Run writes items (one or more, in the order their calls came) in
	// tx. ctx is the first caller's, without its cancellation: the write
	// is theirs together.
	Run func(ctx context.Context, tx Tx, items []any) error
}

// Tx is a transaction. Raw returns the driver's transaction (*sql.Tx or
// pgx.Tx) so jobs can be enqueued in the same transaction as the rows they
// depend on.
type Tx interface {
	Queries
	Raw() any
}
