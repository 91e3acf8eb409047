// Package gateway connects listening transports to the archive: what a
// partner hands Wharf is archived (and its processing committed) before the
// transport acknowledges it, and what waits for a partner is served from
// the archived bytes, with every fetch and removal in the message's history.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports"
)

// Gateway implements transports.Receiver and transports.Outbox.
type Gateway struct {
	Archive *archive.Archive
	Store   store.Store
	// Foreground, when set, counts the receives a sender waits for
	// (transports.Incoming.Awaited): processing gives way to them.
	Foreground *foreground.Gauge
}

var (
	_ transports.Receiver = (*Gateway)(nil)
	_ transports.Outbox   = (*Gateway)(nil)
	_ transports.Ledger   = (*Gateway)(nil)

	_ transports.FileReceiver = (*Gateway)(nil)
)

// Received tells which of these idempotency keys were archived.
func (g *Gateway) Received(ctx context.Context, partner string, keys []string) (map[string]bool, error) {
	return g.Store.ArchivedKeys(ctx, partner, keys)
}

// Receive archives the bytes; the archive's commit hook enqueues processing
// in the same transaction.
func (g *Gateway) Receive(ctx context.Context, in transports.Incoming, r io.Reader) (string, error) {
	defer g.awaited(in)()
	e, err := g.Archive.Put(ctx, r, meta(in))
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// Refuse archives bytes the receiving side refused (a malformed document
// posted to the API), as a rejected message with the reason in its
// history: nothing processes it, nothing is lost.
func (g *Gateway) Refuse(ctx context.Context, in transports.Incoming, r io.Reader, reason string) (string, error) {
	if reason == "" {
		return "", fmt.Errorf("gateway: refuse: %w: a reason is required", store.ErrInvalid)
	}
	defer g.awaited(in)()
	m := meta(in)
	m.Refused = reason
	e, err := g.Archive.Put(ctx, r, m)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// ReceiveFile archives a staged file by linking it (no copy), without
// reading it again when the transport hashed it while writing it.
func (g *Gateway) ReceiveFile(ctx context.Context, in transports.Incoming, f transports.StagedFile) (string, error) {
	defer g.awaited(in)()
	var e *archive.Entry
	var err error
	m := meta(in)
	m.Unsynced = f.Unsynced
	if f.SHA256 != "" {
		e, err = g.Archive.PutHashedFile(ctx, f.Path, f.SHA256, f.Size, m)
	} else {
		e, err = g.Archive.PutFile(ctx, f.Path, m)
	}
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

// awaited tells Foreground that a sender waits for this receive, when one
// does; call what it returns when the receive is done.
func (g *Gateway) awaited(in transports.Incoming) (end func()) {
	if !in.Awaited {
		return func() {}
	}
	return g.Foreground.Begin()
}

func meta(in transports.Incoming) archive.Meta {
	return archive.Meta{
		Partner: in.Partner, Direction: store.Inbound, Transport: in.Transport,
		RemoteName: in.RemoteName, IdempotencyKey: in.IdempotencyKey, KeyLookedUp: in.KeyLookedUp,
		Note: "from " + in.RemoteAddr,
	}
}

// waitingStatuses are the statuses of outbound documents not yet fetched
// nor removed (received until the archive's first status was waiting).
var waitingStatuses = []lifecycle.Status{lifecycle.StatusReceived, lifecycle.StatusWaiting}

// Waiting lists outbound documents for the partner on that transport that
// have been neither fetched nor removed, oldest first; in a cluster, not
// those whose bytes still wait in another instance's spool (this instance
// could list them but not serve them).
func (g *Gateway) Waiting(ctx context.Context, partner, transport string) ([]transports.Waiting, error) {
	var out []transports.Waiting
	f := store.MessageFilter{PartnerID: partner, Direction: store.Outbound, Transport: transport,
		Statuses: waitingStatuses, Limit: 1000}
	for {
		page, err := g.Store.SearchMessages(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			if g.Archive.Readable(m) != nil {
				continue // in another instance's spool: listed once it reached the archive
			}
			out = append(out, waiting(m))
		}
		if len(page) < f.Limit || len(out) >= 10000 {
			break
		}
		last := page[len(page)-1]
		f.Before, f.BeforeID = last.ReceivedAt, last.ID
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// WaitingByName returns the newest document that Waiting would list under
// name, with one indexed query (store.MessageFilter.Name) instead of the
// whole list; transports.ErrNotFound when there is none. A document whose
// remote name has no base name is listed under its message ID; it is found
// by that ID when no document has that base name. Unlike Waiting, it is not
// limited to the newest 10,000 documents.
func (g *Gateway) WaitingByName(ctx context.Context, p *transports.WaitingByNameParams) (transports.Waiting, error) {
	partner, transport, name := p.Partner, p.Transport, p.Name
	if name == "" {
		return transports.Waiting{}, fmt.Errorf("gateway: %w: empty name", transports.ErrNotFound)
	}
	ms, err := g.Store.SearchMessages(ctx, store.MessageFilter{PartnerID: partner, Direction: store.Outbound, Transport: transport,
		Name: name, Statuses: waitingStatuses, Limit: 1})
	if err != nil {
		return transports.Waiting{}, err
	}
	if len(ms) == 1 && g.Archive.Readable(ms[0]) == nil {
		return waiting(ms[0]), nil
	}
	m, err := g.Store.GetMessage(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return transports.Waiting{}, err
	case m.PartnerID == partner && m.Direction == store.Outbound && m.Transport == transport &&
		slices.Contains(waitingStatuses, lifecycle.Status(m.Status)) && baseName(m.RemoteName, "") == "":
		return waiting(m), nil
	}
	return transports.Waiting{}, fmt.Errorf("gateway: %w: no document %q waits for %s on %s", transports.ErrNotFound, name, partner, transport)
}

func waiting(m *store.Message) transports.Waiting {
	return transports.Waiting{MessageID: m.ID, Name: baseName(m.RemoteName, m.ID), Size: m.Size, Created: m.ReceivedAt}
}

// baseName is the name a document has in the partner's folder: its remote
// name after the last '/' (the store's remote_base column, migration 0010),
// or its ID when that is empty.
func baseName(remote, id string) string {
	for i := len(remote) - 1; i >= 0; i-- {
		if remote[i] == '/' {
			remote = remote[i+1:]
			break
		}
	}
	if remote == "" {
		return id
	}
	return remote
}

// Open streams the archived bytes (verified against their sha256 at the end).
func (g *Gateway) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	rc, _, err := g.Archive.Get(ctx, id)
	return rc, err
}

// Fetched records a complete download: delivered.
func (g *Gateway) Fetched(ctx context.Context, id, remoteAddr string, n int64) error {
	return g.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetMessageStatus(ctx, id, lifecycle.StatusDelivered); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventDelivered,
			Detail: fmt.Sprintf("fetched by the partner from %s (%d bytes)", remoteAddr, n)})
	})
}

// Removed records that the partner deleted the document unfetched.
func (g *Gateway) Removed(ctx context.Context, id, remoteAddr string) error {
	return g.Store.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.SetMessageStatus(ctx, id, lifecycle.StatusRemoved); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &store.Event{MessageID: id, Kind: lifecycle.EventRemoved,
			Detail: "deleted by the partner from its outbound folder (from " + remoteAddr + "); the archived copy is kept"})
	})
}
