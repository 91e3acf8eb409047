package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/transports/as2"
)

// as2Identity loads Wharf's AS2 key and certificate from the config, or
// generates them once into the data folder.
func AS2Identity(c *config.Config) (*as2.Identity, error) {
	name := c.AS2ID(c.Getenv)
	if c.AS2.CertFile != "" {
		return as2.LoadIdentity(name, c.AS2.CertFile, c.AS2.KeyFile)
	}
	return as2.LoadOrCreateIdentity(c.Data, name)
}

// AS2IdentityFiles are the current AS2 certificate and key files, and the
// folder a rotation keeps its next and previous pairs in (the key's).
func AS2IdentityFiles(c *config.Config) (certFile, keyFile, dir string) {
	certFile, keyFile = c.AS2.CertFile, c.AS2.KeyFile
	if certFile == "" {
		certFile, keyFile = filepath.Join(c.Data, as2.IdentityCertFile), filepath.Join(c.Data, as2.IdentityKeyFile)
	}
	return certFile, keyFile, filepath.Dir(keyFile)
}

// as2Books keeps AS2 evidence in the archive and bookkeeping in the store.
type as2Books struct {
	a  *archive.Archive
	st store.Store
}

func (b *as2Books) Evidence(ctx context.Context, partner string, outbound bool, transport, msgID string, data []byte) (string, error) {
	return b.EvidenceFrom(ctx, partner, outbound, transport, msgID, bytes.NewReader(data))
}

// EvidenceFrom archives evidence streamed from r (constant memory: the
// archive's Put streams to its own temporary file).
func (b *as2Books) EvidenceFrom(ctx context.Context, partner string, outbound bool, transport, msgID string, r io.Reader) (string, error) {
	dir := store.Inbound
	if outbound {
		dir = store.Outbound
	}
	e, err := b.a.Put(ctx, r, archive.Meta{Partner: partner, Direction: dir, Transport: transport,
		RemoteName: strings.Trim(msgID, "<>"), CorrelationID: msgID, IdempotencyKey: transport + ":" + msgID})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func (b *as2Books) OpenEvidence(ctx context.Context, id string) ([]byte, error) {
	rc, _, err := b.a.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (b *as2Books) Lookup(ctx context.Context, k *as2.RecordKey) (*as2.Record, error) {
	m, err := b.st.GetAS2Message(ctx, k.PartnerID, k.AS2MessageID, store.Direction(k.Direction))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &as2.Record{PartnerID: m.PartnerID, AS2MessageID: m.AS2MessageID, Direction: string(m.Direction), MessageID: m.MessageID,
		RawID: m.RawID, MDNID: m.MDNID, MIC: m.MIC, Disposition: m.Disposition, MDNMode: as2.MDNMode(m.MDNMode), MDNURL: m.MDNURL,
		Status: m.Status, Deadline: m.Deadline}, nil
}

func (b *as2Books) Record(ctx context.Context, r *as2.Record) error {
	return b.st.PutAS2Message(ctx, storeAS2(r))
}

func (b *as2Books) Event(ctx context.Context, id string, kind lifecycle.EventKind, detail string) error {
	return b.st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: kind, Detail: detail})
}

// Batch commits the writes fn makes in one transaction (as2.Batcher).
func (b *as2Books) Batch(ctx context.Context, fn func(as2.Writes) error) error {
	return b.st.WithTx(ctx, func(tx store.Tx) error { return fn(as2TxWrites{ctx, tx}) })
}

// as2TxWrites are bookkeeping writes in a transaction.
type as2TxWrites struct {
	ctx context.Context
	tx  store.Tx
}

func (w as2TxWrites) Record(r *as2.Record) error { return w.tx.PutAS2Message(w.ctx, storeAS2(r)) }
func (w as2TxWrites) Event(id string, kind lifecycle.EventKind, detail string) error {
	return w.tx.AppendEvent(w.ctx, &store.Event{MessageID: id, Kind: kind, Detail: detail})
}
func (w as2TxWrites) SettleEvidence(id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error {
	if err := w.tx.SetMessageStatus(w.ctx, id, status); err != nil {
		return err
	}
	return w.Event(id, kind, detail)
}

// SettleEvidence gives archived AS2 evidence its final status with the
// event that says why, in one transaction (as2.EvidenceSettler).
func (b *as2Books) SettleEvidence(ctx context.Context, id string, status lifecycle.Status, kind lifecycle.EventKind, detail string) error {
	return b.st.WithTx(ctx, func(tx store.Tx) error { return as2TxWrites{ctx, tx}.SettleEvidence(id, status, kind, detail) })
}

// as2SpoolDir holds AS2 request bodies being received and compressed
// messages being sent.
func as2SpoolDir(c *config.Config) string { return filepath.Join(c.Data, "as2-spool") }

// as2Server builds the POST /as2 handler.
func as2Server(c *config.Config, st store.Store, a *archive.Archive, gw *gateway.Gateway, log *slog.Logger) (*as2.Server, error) {
	id, err := AS2Identity(c)
	if err != nil {
		return nil, err
	}
	if left := time.Until(id.Cert.NotAfter); left < 30*24*time.Hour {
		log.Warn("as2: Wharf's own AS2 certificate expires soon; replace it (as2.cert_file/key_file) and send partners the new one (wharf as2 cert)",
			"expires", id.Cert.NotAfter.UTC().Format("2006-01-02"))
	}
	books := &as2Books{a: a, st: st}
	client := &as2.Client{Identity: id, Books: books, HTTP: as2HTTP, Log: log}
	// Request bodies and their decoded layers are spooled inside the data
	// folder (on the archive's file system when it is local), never in memory.
	spoolDir := as2SpoolDir(c)
	if err := os.MkdirAll(spoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("as2: spool folder %s: %v (check the data folder's permissions)", spoolDir, err)
	}
	// A request's spool files are removed when it is answered; a crash
	// leaves some behind, which nothing reads again.
	if old, err := filepath.Glob(filepath.Join(spoolDir, "as2-*.tmp")); err == nil {
		for _, f := range old {
			if fi, err := os.Stat(f); err == nil && time.Since(fi.ModTime()) > time.Hour {
				_ = os.Remove(f)
			}
		}
	}
	_, _, rotDir := AS2IdentityFiles(c)
	rotation, err := as2.RotationKeys(rotDir, id.AS2ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rotation {
		log.Info("as2: also decrypting with a rotation key", "certificate", r.Cert.Subject.CommonName, "serial", r.Cert.SerialNumber.Text(16),
			"expires", r.Cert.NotAfter.UTC().Format("2006-01-02"))
	}
	return &as2.Server{Identity: id, RotationKeys: rotation, Partners: &directory{c: c, st: st}, Receiver: gw, Books: books, Log: log, OnMDN: client.HandleMDN,
		Foreground: gw.Foreground, MaxBody: c.AS2.MaxBodyBytes(), MaxDecompressed: config.DefaultAS2MaxDecompressedMB << 20, MaxExpansion: config.DefaultAS2MaxExpansion,
		SpoolDir: spoolDir}, nil
}

// Alert raises an exception for the operator (owner it) when POST /as2
// refuses a message on a limit or on policy: one open exception per
// partner and reason, repeats noted on it.
func (b *as2Books) Alert(ctx context.Context, a *as2.Alert) error {
	_, err := b.st.RaiseException(ctx, &store.Exception{Reason: a.Reason, Owner: store.OwnerIT, Detail: a.Detail, ObjectKind: "message",
		ObjectKey: a.MessageID, PartnerID: a.PartnerID, MessageID: a.MessageID, DedupeKey: a.DedupeKey})
	return err
}

var (
	_ as2.EvidenceStreamer = (*as2Books)(nil)
	_ as2.EvidenceSettler  = (*as2Books)(nil)
	_ as2.Alerter          = (*as2Books)(nil)
)

// AS2 evidence is archived but never processed as a document.
var as2Evidence = map[string]bool{as2.TransportRaw: true, as2.TransportMDN: true, as2.TransportMDNAsync: true, as2.TransportMDNIn: true}

var as2HTTP = &http.Client{Timeout: 5 * time.Minute}

// Sending over AS2: outbound messages with transport "as2" are delivered by
// the delivery engine (retries with backoff, attempt events, dead letters)
// through as2Sender, which settles each message itself with its MDN.

// as2Route is the delivery route of transport "as2".
func as2Route(c *config.Config, st store.Store, a *archive.Archive, now func() time.Time, log *slog.Logger) delivery.RouteFunc {
	client := sync.OnceValues(func() (*as2.Client, error) {
		id, err := AS2Identity(c)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(as2SpoolDir(c), 0o750); err != nil {
			return nil, fmt.Errorf("as2: spool folder %s: %v (check the data folder's permissions)", as2SpoolDir(c), err)
		}
		return &as2.Client{Identity: id, Books: &as2Books{a: a, st: st}, HTTP: as2HTTP, Log: log, TmpDir: as2SpoolDir(c), Now: now}, nil
	})
	dir := &directory{c: c, st: st}
	return func(ctx context.Context, partner string) (delivery.Sender, error) {
		cl, err := client()
		if err != nil {
			return nil, err
		}
		p, err := dir.byPartnerID(ctx, partner)
		if err != nil {
			return nil, err
		}
		return &as2Sender{client: cl, partner: p, st: st}, nil
	}
}

// as2Sender sends one partner's messages; the MDN settles them.
type as2Sender struct {
	client  *as2.Client
	partner *as2.Partner
	st      store.Store
}

func (s *as2Sender) SettlesItself() {}

func (s *as2Sender) Send(ctx context.Context, d *delivery.Delivery) (string, error) {
	m, err := s.st.GetMessage(ctx, d.MessageID)
	if err != nil {
		return "", err
	}
	// The payload streams from the archive, once for the MIC and signature
	// and once into the HTTP body: never whole in memory.
	o := as2.Outgoing{MessageID: d.MessageID, Name: d.Name, ContentType: as2ContentType(m.Format, d.Name), Size: m.Size,
		Open: func() (io.ReadCloser, error) { return d.Open(ctx) }}
	sent, err := s.client.Send(ctx, s.partner, o)
	if err != nil {
		return "", err
	}
	return string(sent.Status) + ": " + sent.Detail, nil
}

var _ delivery.Settler = (*as2Sender)(nil)

// as2ContentType names the payload for the partner (RFC 1767 types for EDI).
func as2ContentType(format, name string) string {
	switch {
	case format == "x12":
		return "application/edi-x12"
	case format == "edifact":
		return "application/edifact"
	case format == "csv" || strings.HasSuffix(strings.ToLower(name), ".csv"):
		return "text/csv"
	case format == "json":
		return "application/json"
	case strings.HasSuffix(strings.ToLower(name), ".xml"):
		return "application/xml"
	}
	return "application/octet-stream"
}

func (b *as2Books) MDNEvidence(ctx context.Context, p *as2.MDNEvidenceParams) (string, error) {
	partner, msgID, parentID, data := p.PartnerID, p.AS2MessageID, p.ParentID, p.MDN
	e, err := b.a.Put(ctx, strings.NewReader(string(data)), archive.Meta{Partner: partner, Direction: store.Inbound, Transport: as2.TransportMDNIn,
		RemoteName: "MDN for " + strings.Trim(msgID, "<>"), CorrelationID: msgID, ParentID: parentID,
		IdempotencyKey: as2.TransportMDNIn + ":" + partner + ":" + msgID})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func (b *as2Books) Await(ctx context.Context, r *as2.Record, detail string) error {
	return b.st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.PutAS2Message(ctx, storeAS2(r)); err != nil {
			return err
		}
		if err := tx.AddAS2PendingMDN(ctx, &store.AS2PendingMDN{PartnerID: r.PartnerID, AS2MessageID: r.AS2MessageID,
			MessageID: r.MessageID, MIC: r.MIC, SignedMDN: r.SignedMDN, Deadline: r.Deadline}); err != nil {
			return err
		}
		if err := tx.SetMessageStatus(ctx, r.MessageID, lifecycle.StatusAwaitingMDN); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, &store.Event{MessageID: r.MessageID, Kind: lifecycle.EventAwaitingMDN, Detail: detail})
	})
}

func (b *as2Books) Awaited(ctx context.Context, partner, msgID string) (*as2.Record, error) {
	p, err := b.st.GetAS2PendingMDN(ctx, partner, msgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &as2.Record{PartnerID: p.PartnerID, AS2MessageID: p.AS2MessageID, Direction: as2.Outbound, MessageID: p.MessageID,
		MIC: p.MIC, SignedMDN: p.SignedMDN, Deadline: p.Deadline, MDNMode: as2.MDNAsync, Status: as2.StatusPending}, nil
}

func (b *as2Books) Settle(ctx context.Context, r *as2.Record, async bool, status lifecycle.Status, detail string) error {
	return b.st.WithTx(ctx, func(tx store.Tx) error {
		if async {
			if _, err := tx.TakeAS2PendingMDN(ctx, r.PartnerID, r.AS2MessageID); errors.Is(err, store.ErrNotFound) {
				return as2.ErrNotAwaited
			} else if err != nil {
				return err
			}
		}
		if err := tx.PutAS2Message(ctx, storeAS2(r)); err != nil {
			return err
		}
		if err := tx.SetMessageStatus(ctx, r.MessageID, status); err != nil {
			return err
		}
		if status == lifecycle.StatusDelivered {
			// A dead letter whose replay the partner's MDN now proves
			// delivered: its X12 groups are awaited again, its delivery
			// exception resolved.
			if err := tx.RearmSentGroups(ctx, r.MessageID); err != nil {
				return err
			}
			xs, err := tx.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Reason: "delivery", MessageID: r.MessageID, Limit: 1})
			if err != nil {
				return err
			}
			for _, x := range xs {
				if err := tx.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: x.ID, Status: store.ExceptionResolved, Actor: "wharf",
					Comment: "delivered when its delivery was replayed: " + detail}); err != nil {
					return err
				}
			}
		}
		if status == lifecycle.StatusFailed {
			// A partner's refusal, or a receipt that proves nothing: someone must act.
			x := &store.Exception{Reason: "as2_mdn", Owner: store.OwnerIT, Detail: detail, ObjectKind: "message", ObjectKey: r.MessageID,
				PartnerID: r.PartnerID, MessageID: r.MessageID, DedupeKey: "as2_mdn/" + r.MessageID}
			if _, err := tx.RaiseException(ctx, x); err != nil {
				return err
			}
			detail += " (exception " + x.ID + ")"
		}
		// The event of a settled message is named like its status.
		return tx.AppendEvent(ctx, &store.Event{MessageID: r.MessageID, Kind: lifecycle.EventKind(status), Detail: detail})
	})
}

// storeAS2 is the store's row of an AS2 record.
func storeAS2(r *as2.Record) *store.AS2Message {
	return &store.AS2Message{PartnerID: r.PartnerID, AS2MessageID: r.AS2MessageID, Direction: store.Direction(r.Direction),
		MessageID: r.MessageID, RawID: r.RawID, MDNID: r.MDNID, MIC: r.MIC, Disposition: r.Disposition, MDNMode: string(r.MDNMode),
		MDNURL: r.MDNURL, Status: r.Status, Deadline: r.Deadline}
}

// as2MDNOverdue turns async MDNs past their deadline into exceptions: the
// payload becomes failed, an exception (reason mdn_overdue, owner it) joins
// the queue, and the payload's history says what to do.
// Taking the pending entry, recording the status and the event are one
// transaction, so an MDN arriving at the same moment and this check cannot
// both settle the message.
func as2MDNOverdue(st store.Store, now func() time.Time, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for {
			n := 0
			err := st.WithTx(ctx, func(tx store.Tx) error {
				due, err := tx.TakeOverdueAS2MDNs(ctx, now(), 100)
				if err != nil {
					return err
				}
				n = len(due)
				for _, p := range due {
					m, err := tx.GetMessage(ctx, p.MessageID)
					if err != nil {
						return err
					}
					if m.Status != lifecycle.StatusAwaitingMDN {
						continue // settled otherwise (dead-lettered, replayed over): nothing waits any more
					}
					detail := fmt.Sprintf("mdn_overdue: partner %s sent no MDN for AS2 message %s by %s; ask the partner whether it received the message "+
						"(its MDN is still accepted and archived, but no longer settles the message), or 'wharf replay %s' to send it again",
						p.PartnerID, p.AS2MessageID, p.Deadline.UTC().Format(time.RFC3339), p.MessageID)
					if err := tx.SetMessageStatus(ctx, p.MessageID, lifecycle.StatusFailed); err != nil {
						return err
					}
					x := &store.Exception{Reason: "mdn_overdue", Owner: store.OwnerIT, Detail: detail, ObjectKind: "message", ObjectKey: p.MessageID,
						PartnerID: p.PartnerID, MessageID: p.MessageID, DedupeKey: "mdn_overdue/" + p.MessageID + "/" + p.AS2MessageID}
					if _, err := tx.RaiseException(ctx, x); err != nil {
						return err
					}
					if err := tx.AppendEvent(ctx, &store.Event{MessageID: p.MessageID, Kind: lifecycle.EventMDNOverdue, Detail: detail + " (exception " + x.ID + ")"}); err != nil {
						return err
					}
					rec, err := tx.GetAS2Message(ctx, p.PartnerID, p.AS2MessageID, store.Outbound)
					if err == nil {
						rec.Status, rec.Disposition = "mdn_overdue", "mdn_overdue"
						if err := tx.PutAS2Message(ctx, rec); err != nil {
							return err
						}
					}
					log.Warn("as2: async MDN overdue; exception raised", "partner", p.PartnerID, "as2_message_id", p.AS2MessageID, "message", p.MessageID, "deadline", p.Deadline)
				}
				return nil
			})
			if err != nil || n < 100 {
				return err
			}
		}
	}
}

// as2OverdueSchedule checks for overdue async MDNs every minute when a
// partner gets async MDNs and no configured schedule runs the check already.
func as2OverdueSchedule(c *config.Config, rt *jobs.Runtime) {
	if rt.HasTaskScheduled("as2.mdn_overdue") {
		return
	}
	for _, p := range c.Partners {
		if p.AS2 != nil && p.AS2.MDN == "async" {
			every, _ := config.Schedule{Cron: "@every 1m"}.Parse()
			rt.AddSchedules(jobs.Schedule{Name: "as2-mdn-overdue", Schedule: every, Task: "as2.mdn_overdue"})
			return
		}
	}
}
