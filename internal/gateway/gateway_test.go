package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// newGateway returns a gateway over a fresh store of the driver and a
// filesystem archive in the test's temporary folder.
func newGateway(t testing.TB, driver string) *gateway.Gateway {
	t.Helper()
	st := testenv.OpenStore(t, driver)
	fsb, err := archive.NewFS(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := archive.New(st, archive.Options{Blobs: fsb})
	if err != nil {
		t.Fatal(err)
	}
	return &gateway.Gateway{Archive: a, Store: st}
}

// fillWaiting adds n waiting outbound index rows for the partner on sftp,
// named 997_loadNNNNNN.edi (no blobs: they are only listed, never opened),
// received one millisecond apart, in one transaction.
func fillWaiting(t testing.TB, st store.Store, partner string, n int) {
	t.Helper()
	base := time.Now().UTC().Add(-time.Duration(n) * time.Millisecond)
	err := st.WithTx(context.Background(), func(tx store.Tx) error {
		for i := range n {
			m := &store.Message{PartnerID: partner, Direction: store.Outbound, Transport: "sftp",
				RemoteName: fmt.Sprintf("997_load%06d.edi", i), Size: 300, SHA256: fmt.Sprintf("%064x", i),
				Status: lifecycle.StatusWaiting, ReceivedAt: base.Add(time.Duration(i) * time.Millisecond)}
			if err := tx.InsertMessage(context.Background(), m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWaitingByName holds the lookup by name to what a scan of Waiting
// finds (the newest waiting document listed under the name), on each driver.
func TestWaitingByName(t *testing.T) {
	for _, driver := range testenv.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			g := newGateway(t, driver)
			base := time.Now().UTC().Add(-time.Hour)
			i := 0
			add := func(partner, transport, remote string, status lifecycle.Status) string {
				t.Helper()
				i++
				m := &store.Message{PartnerID: partner, Direction: store.Outbound, Transport: transport, RemoteName: remote,
					Size: int64(i), Status: status, ReceivedAt: base.Add(time.Duration(i) * time.Second)}
				if err := g.Store.InsertMessage(ctx, m); err != nil {
					t.Fatal(err)
				}
				return m.ID
			}
			add("acme", "sftp", "997_A.edi", lifecycle.StatusWaiting)
			newestA := add("acme", "sftp", "outbound/997_A.edi", lifecycle.StatusReceived)
			add("acme", "sftp", "997_A.edi", lifecycle.StatusDelivered)
			add("acme", "as2", "997_A.edi", lifecycle.StatusWaiting)
			add("beta", "sftp", "997_A.edi", lifecycle.StatusWaiting)
			add("acme", "sftp", "997_B.edi", lifecycle.StatusRemoved)
			add("acme", "sftp", "x/y/997_C.edi", lifecycle.StatusWaiting)
			noName := add("acme", "sftp", "", lifecycle.StatusWaiting)
			folder := add("acme", "sftp", "outbound/", lifecycle.StatusWaiting)
			gone := add("acme", "sftp", "", lifecycle.StatusDelivered)
			otherPartner := add("beta", "sftp", "", lifecycle.StatusWaiting)
			if err := g.Store.InsertMessage(ctx, &store.Message{PartnerID: "acme", Direction: store.Inbound, Transport: "sftp",
				RemoteName: "inbound/997_D.edi", Status: lifecycle.StatusReceived}); err != nil {
				t.Fatal(err)
			}

			list, err := g.Waiting(ctx, "acme", "sftp")
			if err != nil {
				t.Fatal(err)
			}
			scan := func(name string) (transports.Waiting, bool) {
				for i := len(list) - 1; i >= 0; i-- {
					if list[i].Name == name {
						return list[i], true
					}
				}
				return transports.Waiting{}, false
			}
			names := []string{"997_A.edi", "997_B.edi", "997_C.edi", "997_D.edi", "y/997_C.edi", noName, folder, gone, otherPartner, "", "nope"}
			for _, name := range names {
				want, ok := scan(name)
				got, err := g.WaitingByName(ctx, &transports.WaitingByNameParams{Partner: "acme", Transport: "sftp", Name: name})
				if !ok {
					if !errors.Is(err, transports.ErrNotFound) {
						t.Errorf("%q: want ErrNotFound, got %+v, %v", name, got, err)
					}
					continue
				}
				if err != nil || got.MessageID != want.MessageID || got.Name != want.Name || got.Size != want.Size || !got.Created.Equal(want.Created) {
					t.Errorf("%q: got %+v, %v; want %+v", name, got, err, want)
				}
			}
			if w, _ := g.WaitingByName(ctx, &transports.WaitingByNameParams{Partner: "acme", Transport: "sftp", Name: "997_A.edi"}); w.MessageID != newestA {
				t.Errorf("997_A.edi: got %s, want the newest waiting %s", w.MessageID, newestA)
			}
		})
	}
}

// BenchmarkSFTPStatOpen is what an SFTP client's "get outbound/NAME" costs
// the server before the bytes flow: a Stat of the name and an Open
// (Fileread), with 10,000 documents waiting for the partner.
func BenchmarkSFTPStatOpen(b *testing.B) {
	for _, driver := range testenv.Drivers {
		b.Run(driver, func(b *testing.B) {
			g := newGateway(b, driver)
			const waiting = 10000
			fillWaiting(b, g.Store, "acme", waiting/2)
			// The one that is opened, in the middle of the list.
			doc := []byte("ISA*00*...~IEA*1*000000001~\n")
			if _, err := g.Archive.Put(context.Background(), bytes.NewReader(doc), archive.Meta{Partner: "acme", Direction: store.Outbound,
				Transport: "sftp", RemoteName: "997_target.edi", Status: lifecycle.StatusWaiting}); err != nil {
				b.Fatal(err)
			}
			fillWaiting(b, g.Store, "acme", waiting/2-1)
			s := wsftp.NewSession(wsftp.ServerOptions{Partner: "acme", RemoteAddr: "127.0.0.1:1", Receiver: g, Outbox: g, SpoolDir: b.TempDir()})
			b.ResetTimer()
			for b.Loop() {
				l, err := s.Filelist(sftp.NewRequest("Stat", "/outbound/997_target.edi"))
				if err != nil {
					b.Fatal(err)
				}
				var fi [1]os.FileInfo
				if n, _ := l.ListAt(fi[:], 0); n != 1 || fi[0].Size() != int64(len(doc)) {
					b.Fatalf("stat: %d entries", n)
				}
				ra, err := s.Fileread(sftp.NewRequest("Open", "/outbound/997_target.edi"))
				if err != nil {
					b.Fatal(err)
				}
				// Read all but the last byte: an incomplete download stays waiting.
				buf := make([]byte, len(doc)-1)
				if n, err := ra.ReadAt(buf, 0); n != len(buf) {
					b.Fatalf("read %d: %v", n, err)
				}
				ra.(io.Closer).Close()
			}
		})
	}
}

// TestRefuseArchivesAsRejected: refused bytes are kept, rejected, with the
// reason; a refusal without a reason is a programming error.
func TestRefuseArchivesAsRejected(t *testing.T) {
	g := newGateway(t, "SQLite")
	ctx := context.Background()
	in := transports.Incoming{Partner: "acme", Transport: "api", RemoteName: "order.json", RemoteAddr: "127.0.0.1:1"}
	if _, err := g.Refuse(ctx, in, bytes.NewReader([]byte("{}")), ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	id, err := g.Refuse(ctx, in, bytes.NewReader([]byte(`{"type": "order"}`)), "order_number: required")
	if err != nil {
		t.Fatal(err)
	}
	m, err := g.Store.GetMessage(ctx, id)
	if err != nil || m.Status != lifecycle.StatusRejected || m.Transport != "api" {
		t.Fatalf("refused message %+v %v", m, err)
	}
}

// A receive the sender waits for (Incoming.Awaited) counts on the
// Foreground gauge while it runs, whichever way the bytes come, and stops
// counting when it is done; one Wharf fetched itself does not count.
func TestAwaitedReceivesCount(t *testing.T) {
	ctx := context.Background()
	staged := filepath.Join(t.TempDir(), "staged.edi")
	if err := os.WriteFile(staged, []byte("ISA*staged"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		awaited bool
		receive func(g *gateway.Gateway, in transports.Incoming, r io.Reader) error
	}{
		{"Receive", true, func(g *gateway.Gateway, in transports.Incoming, r io.Reader) error {
			_, err := g.Receive(ctx, in, r)
			return err
		}},
		{"ReceiveFile", true, func(g *gateway.Gateway, in transports.Incoming, _ io.Reader) error {
			_, err := g.ReceiveFile(ctx, in, transports.StagedFile{Path: staged})
			return err
		}},
		{"Refuse", true, func(g *gateway.Gateway, in transports.Incoming, r io.Reader) error {
			_, err := g.Refuse(ctx, in, r, "order_number: required")
			return err
		}},
		{"polled", false, func(g *gateway.Gateway, in transports.Incoming, r io.Reader) error {
			_, err := g.Receive(ctx, in, r)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
			g := newGateway(t, "SQLite")
			g.Foreground = foreground.New(func() time.Time { return at })
			in := transports.Incoming{Partner: "acme", Transport: "sftp", RemoteName: "inbound/a.edi", Awaited: c.awaited}
			r := &probe{r: bytes.NewReader([]byte("ISA*" + c.name)), busy: g.Foreground.Busy}
			if err := c.receive(g, in, r); err != nil {
				t.Fatal(err)
			}
			if r.read && r.sawBusy != c.awaited {
				t.Fatalf("the gauge busy while the bytes were read: %v, with Awaited %v", r.sawBusy, c.awaited)
			}
			if busy := g.Foreground.Busy(); busy != c.awaited {
				t.Fatalf("the gauge busy right after the receive: %v, with Awaited %v", busy, c.awaited)
			}
			at = at.Add(foreground.Linger)
			if g.Foreground.Busy() {
				t.Fatal("the gauge still busy Linger after the receive: it never ended")
			}
		})
	}
}

// probe is a reader that notes whether busy held while it was read.
type probe struct {
	r             io.Reader
	busy          func() bool
	read, sawBusy bool
}

func (p *probe) Read(b []byte) (int, error) {
	if !p.read {
		p.read, p.sawBusy = true, p.busy()
	}
	return p.r.Read(b)
}
