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
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports/as2"
)

// as2Identity loads Wharf's AS2 key and certificate from the config, or
// generates them once into the data folder.
func AS2Identity(c *config.Config) (*as2.Identity, error) {
	name := c.AS2ID(os.Getenv)
	if c.AS2.CertFile != "" {
		return as2.LoadIdentity(name, c.AS2.CertFile, c.AS2.KeyFile)
	}
	return as2.LoadOrCreateIdentity(c.Data, name)
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
	return b.st.PutAS2Message(ctx, &store.AS2Message{PartnerID: r.PartnerID, AS2MessageID: r.AS2MessageID, Direction: store.Direction(r.Direction),
		MessageID: r.MessageID, RawID: r.RawID, MDNID: r.MDNID, MIC: r.MIC, Disposition: r.Disposition, MDNMode: string(r.MDNMode),
		MDNURL: r.MDNURL, Status: r.Status, Deadline: r.Deadline})
}

func (b *as2Books) Event(ctx context.Context, id string, kind lifecycle.EventKind, detail string) error {
	return b.st.AppendEvent(ctx, &store.Event{MessageID: id, Kind: kind, Detail: detail})
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
	return &as2.Server{Identity: id, Partners: &directory{c: c, st: st}, Receiver: gw, Books: books, Log: log, OnMDN: client.HandleMDN,
		MaxBody: c.AS2.MaxBodyBytes(), SpoolDir: spoolDir}, nil
}

var _ as2.EvidenceStreamer = (*as2Books)(nil)

// AS2 evidence is archived but never processed as a document.
var as2Evidence = map[string]bool{as2.TransportRaw: true, as2.TransportMDN: true, as2.TransportMDNAsync: true, as2.TransportMDNIn: true}

var as2HTTP = &http.Client{Timeout: 5 * time.Minute}
