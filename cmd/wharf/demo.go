package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/examples"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	wsync "github.com/wharfedi/wharf/sync"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// demo is one run of the demo: its folder, the server's config, and the
// simulated systems' state.
type demo struct {
	dir, data, cfgPath string
	httpAddr, sftpAddr string            // the server's addresses
	httpLn, sftpLn     net.Listener      // bound before the configuration names them (port 0 works)
	secrets            map[string]string // the demo's secrets, by the variable the configuration names
	app                *app.App
	wmsAddr, invAddr   string // the simulated WMS and invoicing platform
	cfg                *config.Config
	st                 store.Store
	out                io.Writer
	timeout            time.Duration
	carrierKey         ssh.Signer
	customerKey        ssh.Signer         // Big Retail's: it fetches its 810s over SFTP
	carrierNumbers     x12.ControlNumbers // the carrier's own interchange counters
	orders             int                // how many orders the ERP exports
	tendered           []string           // each order's freight charge
	marks              map[string]time.Time
	wms                *demoWMS
	inv                *demoInvoicing
	step               int
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, _ := newFlags("demo", stderr)
	dirFlag := fs.String("dir", "", "folder for the demo's files and data (default: a new temporary folder)")
	serve := fs.Bool("serve", false, "keep the server running afterwards so the console can be explored (Ctrl-C stops it)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long each step may take")
	orders := fs.Int("orders", 2, "how many orders the ERP exports (2 tell the story; more measure the flow at scale)")
	report := fs.Bool("latency", false, "print per-stage latency figures at the end (p50, p99)")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	if *orders < 2 {
		fmt.Fprintln(stderr, "wharf demo: --orders must be at least 2 (the late proof of delivery and the disputed charge)")
		return 2
	}
	d := &demo{out: stdout, timeout: *timeout, carrierNumbers: &x12.MemoryControlNumbers{}, orders: *orders, secrets: map[string]string{
		"WHARF_DEMO_INVOICING_TOKEN": "demo-invoicing-token-" + randomHex(8),
		"WHARF_DEMO_WEBHOOK_SECRET":  "demo-webhook-secret-" + randomHex(8),
	}}
	d.dir = *dirFlag
	if d.dir == "" {
		var err error
		if d.dir, err = os.MkdirTemp("", "wharf-demo-"); err != nil {
			return fail(stderr, err)
		}
	} else if err := os.MkdirAll(d.dir, 0o750); err != nil {
		return fail(stderr, err)
	}
	d.dir, _ = filepath.Abs(d.dir)
	d.data = filepath.Join(d.dir, "wharf-data")
	if err := d.configure(); err != nil {
		var used *demoDataInUse
		if errors.As(err, &used) {
			fmt.Fprintf(stderr, "wharf demo: %v\n", err)
			return 2
		}
		return fail(stderr, fmt.Errorf("demo: %w", err))
	}
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	serverDone, err := d.start(srvCtx)
	stop := func() {
		stopServer()
		if serverDone != nil {
			select {
			case <-serverDone:
			case <-time.After(35 * time.Second):
			}
		}
		if d.app != nil {
			d.app.Close()
		}
		if d.wms != nil {
			d.wms.close()
		}
		if d.inv != nil {
			d.inv.close()
		}
	}
	if err != nil {
		stop()
		return fail(stderr, fmt.Errorf("demo: %w", err))
	}
	if err := d.play(ctx); err != nil {
		fmt.Fprintf(stdout, "\nDEMO FAILED at step %d: %v\n", d.step, err)
		fmt.Fprintf(stdout, "The server's log: %s\n", filepath.Join(d.dir, "wharf.log"))
		stop()
		return 1
	}
	d.summary(ctx, *serve)
	if *report {
		if err := d.latency(ctx); err != nil {
			fmt.Fprintf(stdout, "latency report: %v\n", err)
		}
	}
	if *serve {
		tok, _, err := web.MintToken(ctx, d.st, "admin", "demo")
		if err != nil {
			fmt.Fprintf(stdout, "\n(no console token: %v; create one with 'wharf token create --config %s --role admin')\n", err, d.cfgPath)
		}
		fmt.Fprintf(stdout, "\nThe server keeps running (--serve): open http://%s/ and sign in with the token\n  %s\nCtrl-C stops it.\n", d.cfg.HTTP.Addr, tok)
		<-ctx.Done()
	}
	stop()
	return 0
}

// demoDataInUse: the data folder or database the demo would use already
// holds data (the demo starts from nothing and never writes into it).
type demoDataInUse struct{ what, hint string }

func (e *demoDataInUse) Error() string {
	return e.what + " already holds data; " + e.hint + " (the demo starts from nothing)"
}

// configure resolves the demo's configuration the way every wharf command
// does (the demo's wharf.yaml, then WHARF_* variables), so the server, the
// simulated systems and the commands the demo prints afterwards all see the
// same data folder and database: WHARF_DATA moves the data folder,
// WHARF_DATABASE_URL the database. Either must be empty.
func (d *demo) configure() error {
	c, err := config.Load("")
	if err != nil {
		return err
	}
	c.Data = d.data
	c.ApplyEnv(os.Getenv)
	d.data = app.AbsPath(c.Data)
	d.httpAddr, d.sftpAddr = c.HTTP.Addr, c.SFTP.Addr
	if entries, _ := os.ReadDir(d.data); len(entries) > 0 {
		hint := "pass another --dir"
		if os.Getenv("WHARF_DATA") != "" {
			hint = "unset WHARF_DATA or point it at an empty folder"
		}
		return &demoDataInUse{what: "data folder " + d.data, hint: hint}
	}
	if dsn, err := c.DatabaseURL(); err != nil {
		return err
	} else if dsn != "" {
		st, err := store.Open(context.Background(), dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		msgs, err := st.SearchMessages(context.Background(), store.MessageFilter{Limit: 1})
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			return &demoDataInUse{what: "database " + store.RedactURL(dsn), hint: "unset WHARF_DATABASE_URL or point it at an empty database"}
		}
	}
	return nil
}

// loadDemoConfig writes the demo's wharf.yaml with data as its data folder
// and loads it like any command would.
func (d *demo) loadDemoConfig(data string) (*config.Config, error) {
	for _, k := range []*ssh.Signer{&d.carrierKey, &d.customerKey} {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		signer, err := ssh.NewSignerFromKey(priv)
		if err != nil {
			return nil, err
		}
		*k = signer
	}
	authorized := func(k ssh.Signer, comment string) string {
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.PublicKey()))) + " " + comment
	}
	tmpl, err := template.ParseFS(examples.Demo, "demo/wharf.yaml.tmpl")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]string{
		"Dir": d.dir, "Data": data, "HTTPAddr": d.httpAddr, "CarrierKey": authorized(d.carrierKey, "acme-demo"), "CustomerKey": authorized(d.customerKey, "bigretail-demo"),
		"WMSAddr": d.wmsAddr, "InvoicingAddr": d.invAddr,
	}); err != nil {
		return nil, err
	}
	d.cfgPath = filepath.Join(d.dir, "wharf.yaml")
	if err := os.WriteFile(d.cfgPath, buf.Bytes(), 0o640); err != nil {
		return nil, err
	}
	c, err := (&commonFlags{config: d.cfgPath}).loadConfig()
	if err != nil {
		return nil, fmt.Errorf("the demo configuration %s: %w", d.cfgPath, err)
	}
	// The secrets the configuration names (the invoicing platform's token,
	// the webhook's signing secret) come from the demo, not from the
	// process's environment.
	c.ApplyEnv(d.getenv)
	d.demoEvents(c)
	return c, nil
}

// getenv is the environment the demo's server sees: the process's, with the
// demo's own secrets where the process has none.
func (d *demo) getenv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return d.secrets[name]
}

// start writes the demo's configuration, starts the simulated systems and
// the server, and waits until it is ready.
func (d *demo) start(ctx context.Context) (<-chan struct{}, error) {
	for _, sub := range []string{"erp/export", "erp/import"} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o750); err != nil {
			return nil, err
		}
	}
	// The server's ports are bound first, so that port 0 (any free port)
	// works and the configuration names the real addresses; then the
	// simulated systems listen, and the configuration names theirs too
	// (the carrier's SSH key is made anew for this run).
	var err error
	if d.httpLn, err = app.Listen("HTTP", d.httpAddr); err != nil {
		return nil, err
	}
	if d.sftpLn, err = app.Listen("SFTP", d.sftpAddr); err != nil {
		d.httpLn.Close()
		return nil, err
	}
	defer func() {
		if d.app == nil { // the App closes them once it has them
			d.httpLn.Close()
			d.sftpLn.Close()
		}
	}()
	d.httpAddr, d.sftpAddr = d.httpLn.Addr().String(), d.sftpLn.Addr().String()
	if d.inv, err = startInvoicing(d.httpAddr); err != nil {
		return nil, err
	}
	d.inv.token, d.inv.secret = d.getenv("WHARF_DEMO_INVOICING_TOKEN"), d.getenv("WHARF_DEMO_WEBHOOK_SECRET")
	if d.wms, err = startWMS(d.dir); err != nil {
		return nil, err
	}
	d.wmsAddr, d.invAddr = d.wms.addr, d.inv.addr
	if d.cfg, err = d.loadDemoConfig(d.data); err != nil {
		return nil, err
	}
	d.cfg.HTTP.Addr, d.cfg.SFTP.Addr = d.httpAddr, d.sftpAddr
	logf, err := os.Create(filepath.Join(d.dir, "wharf.log"))
	if err != nil {
		return nil, err
	}
	// The server is an application value in this process: a port in use
	// or a bad configuration is an error here, before any step runs.
	a, err := app.New(ctx, d.cfg, app.Options{Log: newLogger(logf, d.cfg.Log.Format, d.cfg.Log.Level), Version: versionString(),
		HTTPListener: d.httpLn, SFTPListener: d.sftpLn})
	if err != nil {
		logf.Close()
		return nil, err
	}
	d.app, d.st = a, a.Store
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer logf.Close()
		if err := a.Run(ctx); err != nil {
			fmt.Fprintf(d.out, "the server stopped: %v\n", err)
		}
	}()
	fmt.Fprintf(d.out, "Wharf demo in %s\n  server: http://%s (SFTP %s), log %s\n", d.dir, a.HTTPAddr(), a.SFTPAddr(), filepath.Join(d.dir, "wharf.log"))
	deadline := time.Now().Add(d.timeout)
	for {
		if r, err := http.Get("http://" + a.HTTPAddr() + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return done, fmt.Errorf("the server did not answer /healthz on %s within %s", a.HTTPAddr(), d.timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.inv.wharf = "http://" + d.cfg.HTTP.Addr
	return done, d.wms.connect(d.data, "http://"+d.cfg.HTTP.Addr+"/as2")
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// say prints a step's heading.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demo) note(format string, args ...any) {
	fmt.Fprintf(d.out, "   %s\n", fmt.Sprintf(format, args...))
}

// await polls cond until it holds; the error says what was still missing.
func (d *demo) await(ctx context.Context, what string, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(d.timeout)
	last := ""
	for {
		ok, state, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		last = state
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %s (last seen: %s)", what, d.timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.poll()):
		}
	}
}

// poll is how often a step checks its condition: often for the story,
// rarely at scale, where each check reads the server's database.
func (d *demo) poll() time.Duration {
	if d.orders > 100 {
		return time.Second
	}
	return 100 * time.Millisecond
}

// object reads a sync object's state and data.
func (d *demo) object(ctx context.Context, kind, key string) (string, wsync.Data, error) {
	o, err := d.st.GetSyncObject(ctx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return "(not yet known)", wsync.Data{}, nil
	}
	if err != nil {
		return "", wsync.Data{}, err
	}
	var dt wsync.Data
	_ = json.Unmarshal([]byte(o.Data), &dt)
	return o.State, dt, nil
}

func (d *demo) awaitState(ctx context.Context, kind, key string, states ...string) error {
	return d.await(ctx, fmt.Sprintf("%s %s to be %s", kind, key, strings.Join(states, " or ")), func() (bool, string, error) {
		s, _, err := d.object(ctx, kind, key)
		return slices.Contains(states, s), s, err
	})
}

func (d *demo) awaitFiles(ctx context.Context, what, dir, pattern string, n int) ([]string, error) {
	var files []string
	err := d.await(ctx, what, func() (bool, string, error) {
		files, _ = filepath.Glob(filepath.Join(dir, pattern))
		return len(files) >= n, fmt.Sprintf("%d file(s) in %s", len(files), dir), nil
	})
	return files, err
}

// play runs the flow step by step. Orders SO-1001 (its proof of delivery
// comes late) and SO-1002 (its freight charge is disputed) are the story;
// with --orders N, orders SO-1003 on are routine ones that flow through.
func (d *demo) play(ctx context.Context) error {
	// The carrier logs in for each step, as a partner's scheduled job
	// does (and a session idle through a long step would time out).
	var carrier *sftp.Client
	login := func() error {
		if carrier != nil {
			carrier.Close()
		}
		var err error
		carrier, err = d.dialSFTP("acme", d.carrierKey)
		return err
	}
	defer func() {
		if carrier != nil {
			carrier.Close()
		}
	}()
	n := d.orders
	ship := func(i int) string { return fmt.Sprintf("SH-%d", 1001+i) }
	order := func(i int) string { return fmt.Sprintf("SO-%d", 1001+i) }
	all := func(f func(i int) canonical.Document) []canonical.Document {
		out := make([]canonical.Document, n)
		for i := range n {
			out[i] = f(i)
		}
		return out
	}

	d.say("The ERP drops its order export (%d orders) into its export folder", n)
	csv := d.ordersCSV()
	tmp := filepath.Join(d.dir, "erp/export/.orders.csv.part")
	if err := os.WriteFile(tmp, csv, 0o640); err != nil {
		return err
	}
	d.mark("erp drop")
	if err := os.Rename(tmp, filepath.Join(d.dir, "erp/export/orders-20261127.csv")); err != nil {
		return err
	}
	if err := d.awaitCount(ctx, "order", n, "created"); err != nil {
		return err
	}
	d.note("Wharf archived the file, mapped %d orders and routed each: a 204 load tender to ACME (SFTP), a 940 to the 3PL (AS2)", n)

	d.say("The carrier ACME logs in over SFTP, downloads its load tenders and accepts them (990)")
	if err := login(); err != nil {
		return err
	}
	var tenders []string
	if err := d.await(ctx, fmt.Sprintf("%d 204 load tenders waiting in ACME's outbound/", n), func() (bool, string, error) {
		tenders = nil
		fis, err := carrier.ReadDir("outbound")
		if err != nil {
			return false, "", fmt.Errorf("the carrier lists outbound/: %w", err)
		}
		for _, fi := range fis {
			if strings.HasPrefix(fi.Name(), "tender_") {
				tenders = append(tenders, fi.Name())
			}
		}
		return len(tenders) >= n, fmt.Sprintf("%d tender(s)", len(tenders)), nil
	}); err != nil {
		return err
	}
	var bytesIn int
	for _, name := range tenders {
		b, err := sftpGet(carrier, "outbound/"+name)
		if err != nil {
			return fmt.Errorf("the carrier downloads outbound/%s: %w", name, err)
		}
		if !bytes.Contains(b, []byte("ST*204*")) {
			return fmt.Errorf("the carrier's %s is not a 204:\n%s", name, b)
		}
		if err := carrier.Remove("outbound/" + name); err != nil {
			return fmt.Errorf("the carrier cannot delete %s after download: %w", name, err)
		}
		bytesIn += len(b)
	}
	d.note("ACME downloaded %d tenders (%d bytes) and deleted them", len(tenders), bytesIn)
	accepted := canonical.At(time.Now().UTC().Truncate(24 * time.Hour))
	if err := d.carrierSends(ctx, carrier, "990", "990_accept.x12", all(func(i int) canonical.Document {
		return &canonical.TenderResponse{ShipmentID: ship(i), Carrier: "ACME", Action: "accepted", Date: &accepted}
	})); err != nil {
		return err
	}
	if err := d.awaitCount(ctx, "shipment", n, "accepted", "shipped"); err != nil {
		return err
	}
	if _, err := d.awaitFiles(ctx, "the tender status for the ERP", filepath.Join(d.dir, "erp/import"), "tender-status_*", n); err != nil {
		return err
	}
	d.note("all shipments accepted; the ERP got the tender status as CSV in erp/import/")

	d.say("The 3PL warehouse receives its 940s over AS2, picks, packs and confirms shipment (945 over AS2)")
	if err := d.await(ctx, fmt.Sprintf("%d 940 warehouse orders received by the 3PL over AS2", n), func() (bool, string, error) {
		got := d.wms.received()
		return got >= n, fmt.Sprintf("%d received", got), nil
	}); err != nil {
		return err
	}
	var confirms [][2]string
	for i := range n {
		confirms = append(confirms, [2]string{order(i), ship(i)})
	}
	if err := d.wms.send(ctx, confirms); err != nil {
		return fmt.Errorf("the 3PL's 945s over AS2: %w", err)
	}
	if err := d.awaitCount(ctx, "shipment", n, "shipped"); err != nil {
		return err
	}
	if _, err := d.awaitFiles(ctx, "the shipment updates for the ERP", filepath.Join(d.dir, "erp/import"), "shipment-update_*", n); err != nil {
		return err
	}
	d.note("all shipments shipped (one AS2 message, %d 945s, signed MDN back to the 3PL); the ERP got a shipment update CSV for each", n)

	d.say("The carrier reports delivery (214): SH-1001 without proof of delivery (its POD comes late), the others with it")
	if err := login(); err != nil {
		return err
	}
	delivered := canonical.At(time.Now().UTC().Truncate(time.Minute))
	if err := d.carrierSends(ctx, carrier, "214", "214_delivered.x12", all(func(i int) canonical.Document {
		ev := canonical.StatusEvent{Status: "delivered", Reason: "normal", Time: &delivered}
		if i != 0 {
			ev.ProofOfDelivery = []string{"M RIVERA", "A OKAFOR", "L NGUYEN"}[i%3]
		}
		return &canonical.ShipmentStatus{ShipmentID: ship(i), Carrier: "ACME", Events: []canonical.StatusEvent{ev}}
	})); err != nil {
		return err
	}
	if err := d.await(ctx, "billing of SH-1001 held (delivered without proof of delivery)", func() (bool, string, error) {
		s, dt, err := d.object(ctx, "shipment", "SH-1001")
		return dt.Billing == "held", s + " billing=" + dt.Billing, err
	}); err != nil {
		return err
	}
	if err := d.await(ctx, fmt.Sprintf("the invoicing platform to receive %d shipments (billing released)", n-1), func() (bool, string, error) {
		got := d.inv.shipments()
		return len(got) >= n-1, fmt.Sprintf("%d received", len(got)), nil
	}); err != nil {
		return err
	}
	if slices.Contains(d.inv.shipments(), "SH-1001") {
		return errors.New("SH-1001 reached the invoicing platform while its billing was held")
	}
	d.note("SH-1001: billing HELD until its proof of delivery; the others: billing released to the invoicing webhook (HMAC-signed)")

	d.say("The carrier sends freight invoices (210): SH-1002 at 1250.00 against 750.00 tendered, the others as tendered")
	if err := login(); err != nil {
		return err
	}
	if err := d.carrierSends(ctx, carrier, "210", "210_invoices.x12", all(func(i int) canonical.Document {
		total := d.tendered[i]
		if i == 1 {
			total = "1250.00"
		}
		return freightInvoice(fmt.Sprintf("FI-%d", 5001+i), ship(i), total)
	})); err != nil {
		return err
	}
	if err := d.await(ctx, "a dispute exception for SH-1002's freight charge", func() (bool, string, error) {
		ex, err := d.st.ListExceptions(ctx, store.ExceptionFilter{Reason: "dispute", Statuses: []string{store.ExceptionOpen}})
		return len(ex) == 1 && ex[0].ObjectKey == "SH-1002", fmt.Sprintf("%d dispute(s)", len(ex)), err
	}); err != nil {
		return err
	}
	if err := d.await(ctx, fmt.Sprintf("%d freight invoices matched", n-1), func() (bool, string, error) {
		m, err := d.eventCount(ctx, "freight.matched")
		return m >= n-1, fmt.Sprintf("%d matched", m), err
	}); err != nil {
		return err
	}
	d.note("%d freight invoices matched within ACME's 2%% tolerance; SH-1002 became a DISPUTE exception for operations", n-1)

	d.say("The carrier's late proof of delivery for SH-1001 arrives (214): billing released")
	if err := login(); err != nil {
		return err
	}
	if err := d.carrierSends(ctx, carrier, "214", "214_SH-1001_pod.x12", []canonical.Document{&canonical.ShipmentStatus{ShipmentID: "SH-1001", Carrier: "ACME",
		Events: []canonical.StatusEvent{{Status: "delivered", Reason: "normal", Time: &delivered, ProofOfDelivery: "J CHEN"}}}}); err != nil {
		return err
	}
	if err := d.await(ctx, "the invoicing platform to receive SH-1001", func() (bool, string, error) {
		got := d.inv.shipments()
		return slices.Contains(got, "SH-1001"), fmt.Sprintf("%d received", len(got)), nil
	}); err != nil {
		return err
	}
	d.note("SH-1001: billing released")

	d.say("The invoicing platform approves the invoices and posts them to Wharf (HTTP, canonical JSON)")
	if err := d.awaitCount(ctx, "order", n, "invoiced"); err != nil {
		return err
	}
	if _, err := d.awaitFiles(ctx, "the invoice postings for the ERP", filepath.Join(d.dir, "erp/import"), "invoice-posting_*", n); err != nil {
		return err
	}
	if err := d.await(ctx, fmt.Sprintf("%d 810 invoices waiting for Big Retail", n), func() (bool, string, error) {
		got, err := d.countMessages(ctx, store.MessageFilter{PartnerID: "bigretail", Direction: store.Outbound})
		return got >= n, fmt.Sprintf("%d", got), err
	}); err != nil {
		return err
	}
	d.note("the ERP got its invoice postings (CSV); %d 810s wait for Big Retail on SFTP", n)
	d.mark("invoices posted")

	d.say("The partners fetch what waits for them over SFTP: ACME its 997 acknowledgments, Big Retail its 810 invoices")
	if err := login(); err != nil {
		return err
	}
	acks, err := d.fetchAll(ctx, carrier, "acme", "997_", 4) // one per file the carrier uploaded
	if err != nil {
		return err
	}
	customer, err := d.dialSFTP("bigretail", d.customerKey)
	if err != nil {
		return err
	}
	defer customer.Close()
	invoices, err := d.fetchAll(ctx, customer, "bigretail", "customer-invoice_", n)
	if err != nil {
		return err
	}
	d.note("ACME downloaded %d acknowledgments, Big Retail %d invoices; nothing waits for anyone", acks, invoices)
	return nil
}

// fetchAll is a partner's scheduled pick-up: it waits for want files named
// prefix* in its outbound/ folder, downloads and deletes every file there,
// and waits until Wharf has recorded each of the partner's documents as
// delivered. It returns how many files it downloaded.
func (d *demo) fetchAll(ctx context.Context, c *sftp.Client, partner, prefix string, want int) (int, error) {
	var names []string
	if err := d.await(ctx, fmt.Sprintf("%d %s* files waiting in %s's outbound/", want, prefix, partner), func() (bool, string, error) {
		fis, err := c.ReadDir("outbound")
		if err != nil {
			return false, "", fmt.Errorf("%s lists outbound/: %w", partner, err)
		}
		var seen []string
		n := 0
		for _, fi := range fis {
			seen = append(seen, fi.Name())
			if strings.HasPrefix(fi.Name(), prefix) {
				n++
			}
		}
		return n >= want, fmt.Sprintf("%d of them: %v", n, seen), nil
	}); err != nil {
		return 0, err
	}
	fis, err := c.ReadDir("outbound")
	if err != nil {
		return 0, fmt.Errorf("%s lists outbound/: %w", partner, err)
	}
	for _, fi := range fis {
		if _, err := sftpGet(c, "outbound/"+fi.Name()); err != nil {
			return 0, fmt.Errorf("%s downloads outbound/%s: %w", partner, fi.Name(), err)
		}
		if err := c.Remove("outbound/" + fi.Name()); err != nil {
			return 0, fmt.Errorf("%s cannot delete outbound/%s after download: %w", partner, fi.Name(), err)
		}
		names = append(names, fi.Name())
	}
	return len(names), d.await(ctx, fmt.Sprintf("every document for %s recorded as delivered", partner), func() (bool, string, error) {
		left, err := d.countMessages(ctx, store.MessageFilter{PartnerID: partner, Direction: store.Outbound,
			Statuses: []lifecycle.Status{lifecycle.StatusReceived, lifecycle.StatusWaiting}})
		return left == 0, fmt.Sprintf("%d not delivered", left), err
	})
}

// ordersCSV is the ERP's export: the two orders of the story and, with
// --orders N, N-2 routine ones.
func (d *demo) ordersCSV() []byte {
	base, _ := examples.Demo.ReadFile("demo/orders.csv")
	var b bytes.Buffer
	b.Write(base)
	d.tendered = []string{"1000.00", "750.00"}
	cities := [][2]string{{"Dallas", "TX"}, {"Memphis", "TN"}, {"Denver", "CO"}, {"Atlanta", "GA"}, {"Columbus", "OH"}}
	for i := 2; i < d.orders; i++ {
		c := cities[i%len(cities)]
		charge := fmt.Sprintf("%d.00", 400+(i*37)%900)
		d.tendered = append(d.tendered, charge)
		fmt.Fprintf(&b, "SO-%d,PO-%d,SH-%d,ACME,Northwind DC Chicago,Chicago,IL,Big Retail Store %d,%s,%s,2026-11-28,2026-11-30,%s,WIDGET-%c,%d\n",
			1001+i, 77001+i, 1001+i, 100+i%400, c[0], c[1], charge, 'A'+rune(i%3), 5+i%50)
	}
	return b.Bytes()
}

// awaitCount waits until n objects of kind are in one of the states.
func (d *demo) awaitCount(ctx context.Context, kind string, n int, states ...string) error {
	return d.await(ctx, fmt.Sprintf("%d %ss to be %s", n, kind, strings.Join(states, " or ")), func() (bool, string, error) {
		counts, err := d.st.CountSyncObjects(ctx)
		got, seen := 0, []string{}
		for k, c := range counts {
			if k[0] != kind {
				continue
			}
			seen = append(seen, fmt.Sprintf("%d %s", c, k[1]))
			if slices.Contains(states, k[1]) {
				got += c
			}
		}
		slices.Sort(seen)
		return got >= n, strings.Join(seen, ", "), err
	})
}

// eventCount counts the shipments whose history holds ev.
func (d *demo) eventCount(ctx context.Context, ev string) (int, error) {
	return d.st.CountSyncEvents(ctx, "shipment", ev)
}

// countMessages counts the messages f selects, page by page.
func (d *demo) countMessages(ctx context.Context, f store.MessageFilter) (int, error) {
	f.Limit = 1000
	n := 0
	for {
		page, err := d.st.SearchMessages(ctx, f)
		if err != nil {
			return n, err
		}
		n += len(page)
		if len(page) < f.Limit {
			return n, nil
		}
		last := page[len(page)-1]
		f.Before, f.BeforeID = last.ReceivedAt, last.ID
	}
}

// mark remembers when a step happened, for the latency report.
func (d *demo) mark(what string) {
	if d.marks == nil {
		d.marks = map[string]time.Time{}
	}
	d.marks[what] = time.Now()
}

// summary prints what happened and where to look.
func (d *demo) summary(ctx context.Context, serving bool) {
	fmt.Fprintf(d.out, "\nThe whole flow completed.\n\n")
	counts, _ := d.st.CountSyncObjects(ctx)
	fmt.Fprintf(d.out, "Objects: ")
	var parts []string
	for _, k := range []string{"order", "shipment", "invoice"} {
		n := 0
		for ks, c := range counts {
			if ks[0] == k {
				n += c
			}
		}
		parts = append(parts, fmt.Sprintf("%d %ss", n, k))
	}
	fmt.Fprintln(d.out, strings.Join(parts, ", "))
	in, _ := d.st.SearchMessages(ctx, store.MessageFilter{Direction: store.Inbound, Limit: 1000})
	out, _ := d.st.SearchMessages(ctx, store.MessageFilter{Direction: store.Outbound, Limit: 1000})
	fmt.Fprintf(d.out, "Messages archived: %d in, %d out\n", len(in), len(out))
	ex, _ := d.st.ListExceptions(ctx, store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}})
	fmt.Fprintf(d.out, "Open exceptions: %d\n", len(ex))
	for _, x := range ex {
		fmt.Fprintf(d.out, "  %-10s %-9s %s %s: %s\n", x.Reason, x.Owner, x.ObjectKind, x.ObjectKey, clip(x.Detail, 110))
	}
	d.eventsSummary(ctx)
	fmt.Fprintf(d.out, "\nLook closer:\n")
	if serving {
		fmt.Fprintf(d.out, "  console:      http://%s/\n", d.cfg.HTTP.Addr)
	} else {
		fmt.Fprintf(d.out, "  console:      run 'wharf demo --serve' to keep the server up and get a sign-in token\n")
	}
	fmt.Fprintf(d.out, "  a trace:      wharf trace --config %s PO-77001\n", d.cfgPath)
	fmt.Fprintf(d.out, "  exceptions:   wharf exceptions list --config %s\n", d.cfgPath)
	fmt.Fprintf(d.out, "  the archive:  wharf archive search --config %s\n", d.cfgPath)
	fmt.Fprintf(d.out, "  the ERP's files: %s\n", filepath.Join(d.dir, "erp/import"))
}

func freightInvoice(number, shipment, total string) *canonical.FreightInvoice {
	day := canonical.At(time.Now().UTC().Truncate(24 * time.Hour))
	return &canonical.FreightInvoice{Header: canonical.Header{Dates: []canonical.Date{{Type: "invoice", Time: day}}},
		InvoiceNumber: number, ShipmentID: shipment, Carrier: "ACME", PaymentMethod: "prepaid", Currency: "USD", Total: canonical.Decimal(total),
		Lines: []canonical.FreightLine{{LineNumber: "1", Description: "linehaul", Charges: []canonical.Charge{{Code: "400", Amount: canonical.Decimal(total)}}}}}
}

// dialSFTP logs in to Wharf's SFTP server as a partner (the carrier, the
// customer), pinning the server's host key from the data folder.
func (d *demo) dialSFTP(partner string, key ssh.Signer) (*sftp.Client, error) {
	hk, err := server.LoadOrCreateHostKey(d.data)
	if err != nil {
		return nil, err
	}
	conn, err := ssh.Dial("tcp", d.cfg.SFTP.Addr, &ssh.ClientConfig{User: partner, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(hk.PublicKey()), Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("partner %s cannot log in to Wharf's SFTP server at %s: %w", partner, d.cfg.SFTP.Addr, err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func sftpGet(c *sftp.Client, name string) ([]byte, error) {
	f, err := c.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// carrierSends renders documents as one X12 interchange of the carrier's
// and uploads it to inbound/.
func (d *demo) carrierSends(ctx context.Context, c *sftp.Client, set, name string, docs []canonical.Document) error {
	b, err := renderFrom(ctx, d.carrierNumbers, set, carrierEnvelope, docs...)
	if err != nil {
		return fmt.Errorf("the carrier cannot write its %s: %w", set, err)
	}
	f, err := c.Create("inbound/" + name)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	d.note("ACME uploaded %s (%s, %d transaction set(s), %d bytes)", name, set, len(docs), len(b))
	return nil
}

// carrierEnvelope is how the carrier addresses its files to Wharf: its
// X12 ID in the demo's configuration (x12_ids ZZ:ACMEFREIGHT) and the
// version the default profile writes (GS08 004010; the configuration names
// none), so Wharf checks them against the 004010 schemas.
var carrierEnvelope = mapping.Envelope{SenderQual: "ZZ", SenderID: "ACMEFREIGHT", ReceiverQual: "ZZ", ReceiverID: "WHARF", Version: "004010"}

// renderFrom writes documents as one X12 interchange with the envelope's
// parties and version (GS08); the profile's other defaults stay.
func renderFrom(ctx context.Context, numbers x12.ControlNumbers, set string, env mapping.Envelope, docs ...canonical.Document) ([]byte, error) {
	for _, doc := range docs {
		h := doc.Head()
		h.Type = map[string]string{"990": canonical.TypeTenderResponse, "214": canonical.TypeShipmentStatus, "210": canonical.TypeFreightInvoice,
			"945": canonical.TypeShipConfirmation}[set]
		h.Version = canonical.Version
	}
	prof := mapping.DefaultProfile()
	pe := &prof.Envelope
	pe.SenderQual, pe.SenderID, pe.ReceiverQual, pe.ReceiverID, pe.Version = env.SenderQual, env.SenderID, env.ReceiverQual, env.ReceiverID, env.Version
	var buf bytes.Buffer
	xr, err := mapping.NewX12Renderer(x12.NewWriter(&buf), mapping.RenderOptions{Profile: prof, Set: set, Numbers: numbers})
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		errs, err := xr.Render(ctx, doc)
		if err != nil {
			return nil, err
		}
		if len(errs) > 0 {
			return nil, errs[0]
		}
	}
	if err := xr.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// demoInvoicing is the invoicing platform: it receives billable shipments
// on a signed webhook and posts an approved invoice back to Wharf.
type demoInvoicing struct {
	addr          string
	wharf         string
	token, secret string // its token for Wharf's inbound HTTP, the webhook's signing secret
	srv           *http.Server
	mu            sync.Mutex
	seen          []string
	wg            sync.WaitGroup
}

func startInvoicing(wharfAddr string) (*demoInvoicing, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	inv := &demoInvoicing{addr: ln.Addr().String(), wharf: "http://" + wharfAddr}
	inv.srv = &http.Server{Handler: http.HandlerFunc(inv.serve), ReadHeaderTimeout: 10 * time.Second}
	go inv.srv.Serve(ln)
	return inv, nil
}

func (inv *demoInvoicing) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	secret := []byte(inv.secret)
	if err := whttp.Verify(secret, r.Header.Get(whttp.HeaderTimestamp), r.Header.Get(whttp.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		http.Error(w, "bad signature: "+err.Error(), 401)
		return
	}
	d, err := canonical.Decode(bytes.TrimSpace(body))
	if err != nil {
		http.Error(w, err.Error(), 422)
		return
	}
	st, ok := d.(*canonical.ShipmentStatus)
	if !ok {
		http.Error(w, "expected a shipment_status, got "+d.Head().Type, 422)
		return
	}
	inv.mu.Lock()
	dup := slices.Contains(inv.seen, st.ShipmentID)
	if !dup {
		inv.seen = append(inv.seen, st.ShipmentID)
	}
	inv.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if !dup {
		inv.wg.Add(1)
		go func() {
			defer inv.wg.Done()
			inv.approve(st)
		}()
	}
}

// approve posts the invoice for a delivered shipment (the platform's own
// numbering; the order number from the shipment's references).
func (inv *demoInvoicing) approve(st *canonical.ShipmentStatus) {
	n := strings.TrimPrefix(st.ShipmentID, "SH-")
	order := "SO-" + n
	for _, r := range st.References {
		if r.Type == canonical.RefOrderNumber {
			order = r.Value
		}
	}
	totals := map[string]string{"1001": "5200.00", "1002": "2875.00"}
	doc := &canonical.Invoice{Header: canonical.Header{Type: canonical.TypeInvoice, Version: canonical.Version,
		References: []canonical.Reference{{Type: canonical.RefShipmentID, Value: st.ShipmentID}},
		Dates:      []canonical.Date{{Type: "invoice", Time: canonical.At(time.Now().UTC().Truncate(24 * time.Hour))}}},
		InvoiceNumber: "INV-" + n, OrderNumber: order, Currency: "USD", Total: canonical.Decimal(firstNonEmpty(totals[n], "100.00")),
		Lines: []canonical.OrderLine{{LineNumber: "1", Item: canonical.Item{IDs: []canonical.Reference{{Type: "sku", Value: "WIDGET-A"}}},
			Quantity: canonical.Quantity{Value: "1", Unit: "each"}, UnitPrice: canonical.Decimal(firstNonEmpty(totals[n], "100.00"))}}}
	b, _ := json.Marshal(doc)
	for attempt := 0; attempt < 20; attempt++ {
		req, _ := http.NewRequest("POST", inv.wharf+"/api/v1/inbound/invoicing", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+inv.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whttp.HeaderIdemKey, "invoice-"+n)
		req.Header.Set(whttp.HeaderFilename, "invoice_INV-"+n+".json")
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
			if r.StatusCode/100 == 2 {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (inv *demoInvoicing) shipments() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return slices.Clone(inv.seen)
}

func (inv *demoInvoicing) close() {
	if inv == nil {
		return
	}
	inv.srv.Close()
	inv.wg.Wait()
}
