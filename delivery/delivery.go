// Package delivery is the "deliver" end of the flow: every outbound
// document is archived first (Submit), and its archive commit enqueues a
// delivery job that sends the archived bytes through the route's transport
// and records delivered, or a failed attempt, or after the last attempt a
// dead letter with the reason. Replay sends an outbound message again from
// its archived bytes, or re-runs the processing of an inbound one.
//
// Routes are keyed by the transport name the outbound message carries
// ("folder", "s3", "http", "sftp-client", "as2", ...): each transport
// registers a RouteFunc that returns the partner's Sender. One engine, one
// record of attempts, for every transport.
//
// Retries: the job runtime (River) retries a failed attempt with
// exponential backoff up to the job's maximum attempts; errors that
// retrying cannot fix (lifecycle.ErrPermanent, transports.ErrRejected,
// transports.ErrPermission, no route) dead-letter at once.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"sync"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports"
)

// ErrNoRoute: the partner has no endpoint for the message's transport.
var ErrNoRoute = fmt.Errorf("%w: no route", lifecycle.ErrPermanent)

// Delivery is one attempt to send an archived outbound message.
type Delivery struct {
	MessageID string
	Partner   string
	Transport string
	Name      string // file name: the base of the message's remote name, or its ID
	Size      int64
	SHA256    string
	// IdempotencyKey is the same for every attempt at this message, so a
	// transport that can tell (an HTTP Idempotency-Key header, a fixed
	// object name) never delivers it twice. A replay is a new message with
	// a new key: it is meant to arrive again.
	IdempotencyKey string
	// Open streams the archived bytes (checked against their sha256); a
	// sender may open them more than once (e.g. to sign, then to send).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Sender sends to one partner's endpoint. detail says where it went, for
// the message's history.
type Sender interface {
	Send(ctx context.Context, d *Delivery) (detail string, err error)
}

// Settler is implemented by Senders that record the message's outcome
// themselves once the partner has it: AS2 settles a message with its MDN
// (delivered, or failed on a negative MDN), perhaps only later (an async
// MDN), perhaps before Send returns. After a successful Send the engine
// then records nothing; it still owns retries, attempt_failed events and
// dead letters for the errors Send returns.
type Settler interface {
	Sender
	SettlesItself()
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, d *Delivery) (string, error)

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, d *Delivery) (string, error) { return f(ctx, d) }

// RouteFunc returns the partner's Sender for one transport, or ErrNoRoute.
// The Sender may hold a connection: when it is an io.Closer the engine
// closes it after the attempt.
type RouteFunc func(ctx context.Context, partner string) (Sender, error)

// Registry maps transport names to routes. It is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]RouteFunc
}

// Register adds (or replaces) the route of a transport.
func (r *Registry) Register(transport string, f RouteFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]RouteFunc{}
	}
	r.m[transport] = f
}

// Lookup returns the transport's route.
func (r *Registry) Lookup(transport string) (RouteFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[transport]
	return f, ok
}

// Transports lists the registered transport names.
func (r *Registry) Transports() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for k := range r.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Engine delivers archived outbound messages.
type Engine struct {
	Archive *archive.Archive
	Store   store.Store
	Routes  *Registry
	// Fallback delivers transports that have no route in Routes (a
	// delivery function that records its own events); nil: none.
	Fallback func(ctx context.Context, messageID string) error
	Log      *slog.Logger
}

// Permanent tells whether retrying err cannot help.
func Permanent(err error) bool {
	return lifecycle.IsPermanent(err) || errors.Is(err, transports.ErrRejected) || errors.Is(err, transports.ErrPermission)
}

// Deliver makes one attempt at a message (jobs.DeliverWorker's Deliver).
// The attempt number comes from ctx (jobs.AttemptOf). A message already
// delivered or dead-lettered is left alone, so a job retried after a crash
// between sending and recording does not send again where the status was
// recorded.
func (e *Engine) Deliver(ctx context.Context, id string) error {
	log := e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := e.Store.GetMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: deliver %s: %w", lifecycle.ErrPermanent, id, err)
	}
	if err != nil { // the database is down or busy: retried
		return fmt.Errorf("deliver %s: %w", id, err)
	}
	if m.Direction != store.Outbound {
		return fmt.Errorf("%w: deliver %s: an inbound message", lifecycle.ErrPermanent, id)
	}
	if s := lifecycle.Status(m.Status); s == lifecycle.StatusDelivered || s == lifecycle.StatusDeadLetter {
		return nil
	}
	// Bytes still in another instance's spool: wait for their upload
	// without spending an attempt (the job snoozes).
	if err := e.Archive.Readable(m); err != nil {
		return err
	}
	att := jobs.AttemptOf(ctx)
	route, ok := e.Routes.Lookup(m.Transport)
	if !ok && e.Fallback != nil {
		err := e.Fallback(ctx, id)
		if err != nil && (Permanent(err) || att.N >= att.Max) {
			return e.deadLetter(ctx, m, att, err)
		}
		return err
	}
	if !ok {
		return e.deadLetter(ctx, m, att, e.noRoute(m))
	}
	detail, settled, err := e.send(ctx, m, route, nil, true)
	if err != nil {
		if Permanent(err) || att.N >= att.Max {
			return e.deadLetter(ctx, m, att, err)
		}
		_ = e.Store.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventAttemptFailed,
			Detail: fmt.Sprintf("attempt %d of %d over %s: %v (retried with backoff)", att.N, att.Max, m.Transport, err)})
		log.Warn("delivery attempt failed", "message", id, "partner", m.PartnerID, "transport", m.Transport, "attempt", att.N, "max", att.Max, "err", err)
		return err
	}
	if settled {
		log.Info("sent; the transport settles the outcome", "message", id, "partner", m.PartnerID, "transport", m.Transport, "bytes", m.Size, "attempt", att.N, "detail", detail)
		return nil
	}
	log.Info("delivered", "message", id, "partner", m.PartnerID, "transport", m.Transport, "bytes", m.Size, "attempt", att.N)
	// A dead letter's replay that arrives (the message itself, or a message
	// derived from it) settles its delivery exception.
	x, err := e.replayedException(ctx, m)
	if err != nil {
		return err
	}
	return e.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetMessageStatus(ctx, id, lifecycle.StatusDelivered); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventDelivered,
			Detail: fmt.Sprintf("attempt %d over %s: %s", att.N, m.Transport, detail)}); err != nil {
			return err
		}
		// Its X12 groups, given up on when it was dead-lettered, left now:
		// their acknowledgments are awaited again.
		if err := tx.RearmSentGroups(ctx, id); err != nil {
			return err
		}
		return settleDeadLetter(ctx, tx, x, id)
	})
}

// settleDeadLetter resolves x, the delivery exception of a dead letter
// whose replay (message id: the dead letter itself, or a re-send of it)
// was delivered, and says so in the dead letter's history. Nothing when x
// is nil.
func settleDeadLetter(ctx context.Context, tx store.Tx, x *store.Exception, id string) error {
	if x == nil {
		return nil
	}
	how := "delivered by its replay, message " + id
	if x.MessageID == id {
		how = "delivered when its delivery was replayed"
	}
	if err := tx.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: x.ID, Status: store.ExceptionResolved, Actor: "wharf",
		Comment: how}); err != nil {
		return err
	}
	if x.MessageID == id {
		return nil // its own delivered event says it
	}
	return tx.AppendEvent(ctx, &store.Event{MessageID: x.MessageID, Kind: lifecycle.EventDelivered,
		Detail: fmt.Sprintf("%s; exception %s resolved", how, x.ID)})
}

// SendNow sends an outbound message at once, for a caller that records the
// outcome in a transaction of its own (processing delivers the
// acknowledgment of a file received from a folder before it records the
// file's outcome, so a 997 needs no delivery job of its own). body, when
// not nil, is the message's archived bytes. It returns the writes that
// record "delivered"; on an error nothing was recorded and the caller
// enqueues an ordinary delivery job, which retries and dead-letters as
// usual. A transport that settles its outcome itself (AS2) is not sent
// here (lifecycle.ErrPermanent).
func (e *Engine) SendNow(ctx context.Context, m *store.Message, body []byte) (func(store.Tx) error, error) {
	route, ok := e.Routes.Lookup(m.Transport)
	if !ok {
		return nil, e.noRoute(m)
	}
	detail, _, err := e.send(ctx, m, route, body, false)
	if err != nil {
		return nil, err
	}
	if e.Log != nil {
		e.Log.Debug("delivered", "message", m.ID, "partner", m.PartnerID, "transport", m.Transport, "bytes", m.Size)
	}
	return func(tx store.Tx) error {
		// m is the acknowledgment as archived, waiting: its file's
		// processing, which holds its claim, delivers it.
		if err := tx.SetStatusOf(ctx, m, lifecycle.StatusDelivered); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventDelivered,
			Detail: fmt.Sprintf("sent with the outcome of message %s, over %s: %s", m.ParentID, m.Transport, detail)})
	}, nil
}

// replayedException is the open delivery exception of the dead letter m
// replays: m itself (its delivery replayed), or the message it re-sends
// (directly, or through earlier re-sends that failed too); nil when there
// is none. Only outbound ancestors are looked at: a 997's parent is the
// inbound file it acknowledges, which has no delivery exception.
func (e *Engine) replayedException(ctx context.Context, m *store.Message) (*store.Exception, error) {
	own, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: "delivery", MessageID: m.ID, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(own) == 1 {
		return own[0], nil
	}
	for i, id := 0, m.ParentID; i < 10 && id != ""; i++ {
		p, err := e.Store.GetMessage(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && p.Direction != store.Outbound {
			return nil, nil // an ancestor gone, or inbound: nothing to settle
		}
		if err != nil {
			return nil, err
		}
		xs, err := e.Store.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: "delivery", MessageID: id, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(xs) == 1 {
			return xs[0], nil
		}
		id = p.ParentID
	}
	return nil, nil
}

// send sends m's archived bytes (body when the caller holds them, else
// read from the archive) through the partner's Sender on route, and says
// whether that Sender settles the outcome itself. settlers false refuses
// such a Sender before anything is sent (lifecycle.ErrPermanent).
func (e *Engine) send(ctx context.Context, m *store.Message, route RouteFunc, body []byte, settlers bool) (string, bool, error) {
	s, err := route(ctx, m.PartnerID)
	if err != nil {
		return "", false, err
	}
	if c, ok := s.(io.Closer); ok {
		defer c.Close()
	}
	_, settles := s.(Settler)
	if settles && !settlers {
		return "", true, fmt.Errorf("%w: transport %q settles its own outcome; deliver it with a job", lifecycle.ErrPermanent, m.Transport)
	}
	d := &Delivery{
		MessageID: m.ID, Partner: m.PartnerID, Transport: m.Transport, Name: FileName(m),
		Size: m.Size, SHA256: m.SHA256, IdempotencyKey: m.ID,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			if body != nil {
				return io.NopCloser(bytes.NewReader(body)), nil
			}
			rc, _, err := e.Archive.Get(ctx, m.ID)
			return rc, err
		},
	}
	detail, err := s.Send(ctx, d)
	return detail, settles, err
}

// noRoute is the permanent failure of a transport without a route.
func (e *Engine) noRoute(m *store.Message) error {
	return fmt.Errorf("%w: transport %q cannot send (known: %v)", ErrNoRoute, m.Transport, e.Routes.Transports())
}

// deadLetter records the reason and stops retrying.
func (e *Engine) deadLetter(ctx context.Context, m *store.Message, att jobs.Attempt, cause error) error {
	why := "permanent failure"
	if !Permanent(cause) {
		why = fmt.Sprintf("no attempts left (%d of %d)", att.N, att.Max)
	}
	detail := fmt.Sprintf("not delivered over %s: %s: %v; 'wharf replay %s' sends it again", m.Transport, why, cause, m.ID)
	// A replay that fails again belongs to its original's exception (raised
	// again, "repeated"), not to a new one per attempt.
	dedupe := "delivery/" + m.ID
	if x, err := e.replayedException(ctx, m); err != nil {
		return err
	} else if x != nil {
		dedupe = x.DedupeKey
	}
	if err := e.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetMessageStatus(ctx, m.ID, lifecycle.StatusDeadLetter); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventDeadLetter, Detail: detail}); err != nil {
			return err
		}
		// What never left is not waited for: no overdue 997 on top of
		// the dead letter.
		if err := tx.ExpectNoAcks(ctx, m.ID); err != nil {
			return err
		}
		owner := store.OwnerOperations
		if errors.Is(cause, ErrNoRoute) || errors.Is(cause, transports.ErrPermission) {
			owner = store.OwnerIT // configuration or credentials, not the partner's day
		}
		_, err := tx.RaiseException(ctx, &store.Exception{Reason: "delivery", Owner: owner, ObjectKind: "message", ObjectKey: m.ID,
			PartnerID: m.PartnerID, MessageID: m.ID, DedupeKey: dedupe,
			Detail: fmt.Sprintf("%s for partner %s (%s) %s; fix the cause, then replay it", m.RemoteName, m.PartnerID, m.ID, detail)})
		return err
	}); err != nil {
		return err // not recorded: let the job retry
	}
	if e.Log != nil {
		e.Log.Error("delivery dead-lettered", "message", m.ID, "partner", m.PartnerID, "transport", m.Transport, "reason", cause)
	}
	return fmt.Errorf("%w: %s", lifecycle.ErrPermanent, detail)
}

// FileName is the name an outbound message is sent under.
func FileName(m *store.Message) string {
	if b := path.Base(m.RemoteName); m.RemoteName != "" && b != "." && b != "/" {
		return b
	}
	return m.ID
}

// Outbound is a document to send.
type Outbound struct {
	Partner       string
	Transport     string // how it leaves: a pushed transport ("folder", "s3", "http", "as2", ...) or "sftp" (fetched)
	Name          string
	CorrelationID string
	ParentID      string // the message it derives from
	// IdempotencyKey identifies the document across retries, namespaced by
	// its source ("route:NAME:EVENT:KIND:KEY:MESSAGE" for a sync route,
	// "digest:HOUR" for the exception digest): one key, one archived
	// message, one delivery. It is the archive's idempotency key as given.
	IdempotencyKey string
	Keys           []store.Key
	// Status is the message's first status (lifecycle.StatusReceived when
	// empty; lifecycle.StatusWaiting for a document waiting to leave).
	Status lifecycle.Status
	Note   string // the first event's detail, e.g. which route sent it
}

// Submit archives an outbound document once per idempotency key; the
// archive's commit hook enqueues its delivery in the same transaction when
// its transport is pushed. body is called only when the partner has no
// message with o.IdempotencyKey yet, so a retried send finds its message
// before rendering again (which would draw control numbers for nothing).
// It returns the archived message's ID.
func (e *Engine) Submit(ctx context.Context, o Outbound, body func() (io.Reader, error)) (string, error) {
	if o.IdempotencyKey != "" {
		if ae, err := e.Store.ArchiveEntryByKey(ctx, o.Partner, o.IdempotencyKey); err == nil {
			return ae.MessageID, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	r, err := body()
	if err != nil {
		return "", err
	}
	ent, err := e.Archive.Put(ctx, r, archive.Meta{
		Partner: o.Partner, Direction: store.Outbound, Transport: o.Transport, RemoteName: o.Name,
		CorrelationID: o.CorrelationID, ParentID: o.ParentID, IdempotencyKey: o.IdempotencyKey, Keys: o.Keys,
		KeyLookedUp: o.IdempotencyKey != "", Status: o.Status, Note: o.Note,
	})
	if err != nil {
		return "", err
	}
	return ent.ID, nil
}
