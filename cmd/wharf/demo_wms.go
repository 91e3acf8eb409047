package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/transports/as2"
)

// demoWMS is the 3PL warehouse of the demo: an AS2 station of its own (own
// AS2 name, key and certificate, books in memory) that receives Wharf's
// 940s on its endpoint and sends signed, encrypted 945s to Wharf's /as2,
// requiring signed MDNs.
type demoWMS struct {
	addr   string
	id     *as2.Identity
	books  *as2.MemoryBooks
	recv   *as2.MemoryReceiver
	srv    *http.Server
	client *as2.Client
	// numbers are the warehouse's own X12 control numbers.
	numbers x12.ControlNumbers

	mu    sync.Mutex
	wharf *as2.Partner // Wharf, as the warehouse knows it
	sent  int
}

const demoWMSName = "LAKESIDE-3PL"

func startWMS(dir string) (*demoWMS, error) {
	certPEM, keyPEM, err := as2.GenerateIdentity(demoWMSName, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	certs, err := as2.ParseCertificates(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := as2.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	// Wharf gets the warehouse's certificate, as a partner would hand it over.
	if err := os.WriteFile(filepath.Join(dir, "wms-as2.pem"), certPEM, 0o644); err != nil {
		return nil, err
	}
	w := &demoWMS{id: &as2.Identity{AS2ID: demoWMSName, Cert: certs[0], Key: key}, books: as2.NewMemoryBooks(), recv: as2.NewMemoryReceiver(),
		numbers: &x12.MemoryControlNumbers{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w.addr = ln.Addr().String()
	w.client = &as2.Client{Identity: w.id, Books: w.books, HTTP: &http.Client{Timeout: 30 * time.Second}}
	srv := &as2.Server{Identity: w.id, Partners: w, Receiver: w.recv, Books: w.books}
	w.srv = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go w.srv.Serve(ln)
	return w, nil
}

// ByAS2ID is the warehouse's partner directory: it trades with Wharf only.
func (w *demoWMS) ByAS2ID(_ context.Context, id string) (*as2.Partner, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wharf == nil || id != w.wharf.AS2ID {
		return nil, as2.ErrUnknownPartner
	}
	p := *w.wharf
	return &p, nil
}

// connect learns Wharf's AS2 certificate (from its data folder, as
// `wharf as2 cert` prints it) and endpoint.
func (w *demoWMS) connect(data, url string) error {
	b, err := os.ReadFile(filepath.Join(data, as2.IdentityCertFile))
	if err != nil {
		return fmt.Errorf("the warehouse cannot read Wharf's AS2 certificate: %w", err)
	}
	certs, err := as2.ParseCertificates(b)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wharf = &as2.Partner{ID: "wharf", AS2ID: "WHARF-DEMO", Certs: []*x509.Certificate{certs[0]}, URL: url,
		Sign: true, Cipher: as2.AES256CBC, MDN: as2.MDNSync, SignedMDN: true}
	return nil
}

// received counts the warehouse orders received.
func (w *demoWMS) received() int { return w.recv.Len() }

// send confirms orders' shipments ([order, shipment] pairs) with 945s in
// one AS2 message and checks the MDN.
func (w *demoWMS) send(ctx context.Context, confirms [][2]string) error {
	day := canonical.At(time.Now().UTC().Truncate(24 * time.Hour))
	var docs []canonical.Document
	for _, c := range confirms {
		docs = append(docs, &canonical.ShipConfirmation{Header: canonical.Header{Dates: []canonical.Date{{Type: "ship", Time: day}}},
			OrderNumber: c[0], ShipmentID: c[1], Carrier: "ACME", Mode: "motor",
			Lines: []canonical.WarehouseLine{{LineNumber: "1", Item: canonical.Item{IDs: []canonical.Reference{{Type: "sku", Value: "WIDGET-A"}}},
				Quantity: canonical.Quantity{Value: "1", Unit: "each"}}}})
	}
	payload, err := renderFrom(ctx, w.numbers, "945", mapping.Envelope{SenderQual: "ZZ", SenderID: "LAKESIDE3PL", ReceiverQual: "ZZ", ReceiverID: "WHARF", Version: "004010"}, docs...)
	if err != nil {
		return err
	}
	w.mu.Lock()
	p := *w.wharf
	w.mu.Unlock()
	w.sent++
	id := fmt.Sprintf("945-%d", w.sent)
	sent, err := w.client.Send(ctx, &p, as2.Outgoing{MessageID: id, Name: id + ".x12", ContentType: "application/edi-x12", Payload: payload})
	if err != nil {
		return err
	}
	if sent.Status != lifecycle.StatusDelivered {
		return errors.New(sent.Detail)
	}
	return nil
}

func (w *demoWMS) close() {
	if w != nil {
		w.srv.Close()
	}
}
