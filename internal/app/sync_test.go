package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
)

// loadConfig loads and validates the configuration at path, as serve does.
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	if err == nil {
		err = Validate(c)
	}
	return c, err
}

// mustConfig is loadConfig for a configuration the test needs.
func mustConfig(t *testing.T, path string) *config.Config {
	t.Helper()
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openConfigured loads the configuration at path and opens its store
// (closed when the test ends) and archive, as a wharf command does.
func openConfigured(t *testing.T, path string) (*config.Config, store.Store, *archive.Archive) {
	t.Helper()
	c := mustConfig(t, path)
	st, a, err := OpenData(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return c, st, a
}

// TestBatchRouteSendsOneFile: a batch route's documents go out as one file
// in the partner's layout, once per idempotency key, over the partner's
// transport; a route whose format cannot carry them is ErrUnsendable.
func TestBatchRouteSendsOneFile(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgPath, []byte(`data: `+filepath.Join(dir, "data")+`
partners:
  - id: erp
    role: erp
    folder: {outbound: `+filepath.Join(dir, "erp-import")+`}
layouts:
  - name: erp-invoices
    format: csv
    document: invoice
    header: true
    records:
      - fields:
          - {path: invoice_number, column: 1, header: invoice}
          - {path: total, column: 2, type: decimal, header: total}
sync:
  routes:
    - {name: nightly, on: invoice.approved, to: erp, send: "csv:erp-invoices", batch: "0 2 * * *", timezone: America/Chicago}
    - {name: bad, on: invoice.approved, to: erp, send: "x12:810"}
`), 0o600)
	ctx := context.Background()
	c, st, a := openConfigured(t, cfgPath)
	rules, err := syncRules(c)
	if err != nil || !rules.Routes[0].Batch || rules.Routes[0].DocType != canonical.TypeInvoice {
		t.Fatalf("rules: %v %+v", err, rules.Routes)
	}
	inv := func(n, total string) canonical.Document {
		d, _ := canonical.Decode([]byte(`{"type":"invoice","version":"1","invoice_number":"` + n + `","total":"` + total + `"}`))
		return d
	}
	reg := newRegistry()
	snd := newSyncSender(c, st, newDelivery(reg, &routeDeps{cfg: c, st: st, arch: a, now: fixedNow, log: slog.New(slog.DiscardHandler)}), reg, fixedNow)
	id, err := snd.SendBatch(ctx, rules.Routes[0], []canonical.Document{inv("INV-1", "10.00"), inv("INV-2", "20.50")}, nil, "batch:nightly:claim-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := snd.SendBatch(ctx, rules.Routes[0], []canonical.Document{inv("INV-1", "10.00"), inv("INV-2", "20.50")}, nil, "batch:nightly:claim-1")
	if err != nil || again != id {
		t.Fatalf("the same batch twice: %s vs %s (%v)", again, id, err)
	}
	m, err := st.GetMessage(ctx, id)
	if err != nil || m.Transport != transportFolder || m.PartnerID != "erp" || !strings.HasPrefix(m.RemoteName, "nightly_batch_") || !strings.HasSuffix(m.RemoteName, ".csv") {
		t.Fatalf("batch message: %v %+v", err, m)
	}
	rc, _, err := a.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if got := strings.ReplaceAll(string(b), "\r\n", "\n"); got != "invoice,total\nINV-1,10.00\nINV-2,20.50\n" {
		t.Fatalf("batch file:\n%q", got)
	}
	// An 810 needs an invoice date: not sendable, said so, not retried.
	if _, err := snd.Send(ctx, &wsync.Outbound{Route: rules.Routes[1], Doc: inv("INV-3", "1.00"), Source: m, Kind: "invoice", Key: "INV-3", IdempotencyKey: "x"}); err == nil ||
		!strings.Contains(err.Error(), "cannot be rendered") {
		t.Fatalf("unsendable: %v", err)
	}
}

func fixedNow() time.Time { return time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC) }

// TestSyncConfigErrorsNameTheLine: event names and formats are checked by
// the sync stage, and the error still names the file, line and field.
func TestSyncConfigErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ route, want string }{
		{`{name: t, on: order.made, to: erp, send: json}`, `wharf.yaml:6: sync.routes[0].on: route t: "order.made" is not an event`},
		{`{name: t, on: order.created, to: erp, send: "x12:999x"}`, `wharf.yaml:6: sync.routes[0].send: "x12:999x": no outbound map for X12 "999x"`},
		{`{name: t, on: order.created, to: erp, send: "csv:nope"}`, `wharf.yaml:6: sync.routes[0].send: "csv:nope": no layout "nope"`},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "wharf.yaml")
		os.WriteFile(p, []byte("partners:\n  - id: erp\n    role: erp\nsync:\n  routes:\n    - "+tc.route+"\n"), 0o600)
		c, err := config.Load(p)
		if err == nil {
			err = Validate(c)
		}
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), p, "wharf.yaml"), tc.want) {
			t.Errorf("%s: %v\nwant %q", tc.route, err, tc.want)
		}
	}
}

// TestTestTrafficAndMasterDataFromConfig: partners[].test, sync.routes[].test
// and sync.master_data reach the sync's rules and the processor, and a
// document sent along a test route is archived marked test.
func TestTestTrafficAndMasterDataFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgPath, []byte(`data: `+filepath.Join(dir, "data")+`
partners:
  - {id: erp, role: erp}
  - {id: wms-qa, role: wms, test: true, folder: {outbound: `+filepath.Join(dir, "wms-qa")+`}}
  - {id: acme-qa, role: carrier, folder: {outbound: `+filepath.Join(dir, "acme-qa")+`}}
sync:
  ownership: {location_master: [erp]}
  master_data: {item: hold, location: warn, owner: it}
  routes:
    - {name: qa-tender, on: order.created, to: acme-qa, send: json, test: true}
    - {name: qa-pick, on: order.created, to: wms-qa, send: json}
`), 0o600)
	ctx := context.Background()
	c, st, a := openConfigured(t, cfgPath)
	rules, err := syncRules(c)
	if err != nil {
		t.Fatal(err)
	}
	if !rules.TestPartners["wms-qa"] || rules.TestPartners["acme-qa"] || !rules.Routes[0].Test || rules.Routes[1].Test {
		t.Fatalf("test partners %v, routes %+v", rules.TestPartners, rules.Routes)
	}
	if rules.Master["item"] != wsync.MasterHold || rules.Master["location"] != wsync.MasterWarn || len(rules.Master) != 2 || rules.MasterOwner != "it" {
		t.Fatalf("master data rules %v, owner %q", rules.Master, rules.MasterOwner)
	}
	p := NewProcessor(c, st, a, nil, fixedNow, slog.New(slog.DiscardHandler))
	if !p.Test("wms-qa") || p.Test("erp") {
		t.Fatal("the processor does not know which partners are test partners")
	}
	reg := newRegistry()
	snd := newSyncSender(c, st, newDelivery(reg, &routeDeps{cfg: c, st: st, arch: a, now: fixedNow, log: slog.New(slog.DiscardHandler)}), reg, fixedNow)
	doc, _ := canonical.Decode([]byte(`{"type":"order","version":"1","order_number":"PO-QA"}`))
	src := &store.Message{PartnerID: "erp", Direction: store.Inbound, Transport: "cli", RemoteName: "po.json"}
	if err := st.InsertMessage(ctx, src); err != nil {
		t.Fatal(err)
	}
	id, err := snd.Send(ctx, &wsync.Outbound{Route: rules.Routes[0], Doc: doc, Source: src, Kind: "order", Key: "PO-QA", Event: "order.created",
		IdempotencyKey: "route:qa-tender:PO-QA", Test: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.MessageKeys(ctx, id)
	if err != nil || !store.IsTest(keys) {
		t.Fatalf("the test route's document is not archived marked test: %v %v", keys, err)
	}
}
