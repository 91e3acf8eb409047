// Package app is Wharf's application: it builds every stage of the flow
// from one configuration, in order, and runs them (receive → archive →
// understand → decide → deliver; see docs/architecture.md).
//
// New binds the listeners, opens the store and the archive and constructs
// the stages in the order they depend on each other, with no late binding:
// the job runtime first (the archive's commit hook inserts through it), then
// the archive, the sync engine, the processor that emits to it, the
// delivery engine and its transport registry, AS2, the console and API, and
// the SFTP server. Run starts the jobs, watchers and listeners and blocks
// until its context ends or a listener fails; then it stops accepting, lets
// running jobs finish within the shutdown budget, and returns. Close releases
// what New opened (it is safe after Run and after a failed New).
//
// One clock, Options.Now, is given to every stage and to the store, so a
// test with fixed dates sees one time everywhere.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/events"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/defender"
	"github.com/wharfedi/wharf/internal/foreground"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/ratelimit"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
	"github.com/wharfedi/wharf/jobs"
	"github.com/wharfedi/wharf/process"
	wsync "github.com/wharfedi/wharf/sync"
	"github.com/wharfedi/wharf/transports/as2"
	whttp "github.com/wharfedi/wharf/transports/http"
)

// ShutdownBudget is how long stopping may take before Run returns anyway.
const ShutdownBudget = 30 * time.Second

// Options are what the caller of New decides beyond the configuration.
type Options struct {
	// Log receives the application's log; nil discards it.
	Log *slog.Logger
	// Now is the one clock of every stage and of the store; nil is the wall clock.
	Now func() time.Time
	// Version names the build in the ready line and in wharf_build_info.
	Version string
	// HTTPListener and SFTPListener, when set, are listeners the caller
	// has bound already (see Listen), for a caller that must know the
	// ports before the configuration is written, as the demo does with
	// port 0; New binds http.addr and sftp.addr otherwise. The App closes
	// them.
	HTTPListener, SFTPListener net.Listener
	// FirstToken, when set, is given the admin token New creates on a
	// database without API tokens and console users (a new installation),
	// to show it once; the log names only its ID. Nil: New creates none.
	FirstToken func(token string, t *store.APIToken)
}

// App is one running Wharf: its store, archive, stages and listeners.
type App struct {
	cfg *config.Config
	log *slog.Logger
	now func() time.Time

	Store     store.Store
	Archive   *archive.Archive
	Jobs      *jobs.Runtime
	Gateway   *gateway.Gateway
	Processor *process.Processor
	Sync      *wsync.Engine
	Delivery  *delivery.Engine
	AS2       *as2.Server
	Events    *events.Publisher // the outbox to the event subscriptions

	started        time.Time
	httpLn, sftpLn net.Listener
	httpSrv        *http.Server
	http           *server.HTTP
	sftpSrv        *server.SFTP
	hostKey        ssh.Signer
	reg            *registry // the transports Wharf pushes over and polls
	closers        []func()
	version        string
}

// New builds the application from a loaded, validated configuration.
// A port in use, an unwritable data folder, an unreachable database or a
// broken archive configuration stop it with an error saying what to change.
func New(ctx context.Context, c *config.Config, o Options) (_ *App, err error) {
	a := &App{cfg: c, log: o.Log, now: o.Now, version: o.Version, started: time.Now(), reg: newRegistry()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	defer func() {
		if err != nil {
			a.Close() // what was opened before the failure
		}
	}()
	log := a.log

	// Bind the listeners first: a port in use stops us before anything is written.
	a.httpLn, a.sftpLn = o.HTTPListener, o.SFTPListener
	if a.httpLn == nil {
		if a.httpLn, err = Listen("HTTP", c.HTTP.Addr); err != nil {
			return nil, err
		}
	}
	a.closers = append(a.closers, func() { a.httpLn.Close() })
	if a.sftpLn == nil {
		if a.sftpLn, err = Listen("SFTP", c.SFTP.Addr); err != nil {
			return nil, err
		}
	}
	a.closers = append(a.closers, func() { a.sftpLn.Close() })

	st, err := OpenStore(ctx, c, store.WithClock(a.now))
	if err != nil {
		return nil, err
	}
	a.Store = st
	a.closers = append(a.closers, func() { st.Close() })
	if err := PrepareData(c.Data); err != nil {
		return nil, err
	}
	singleWorker := st.Driver() == "sqlite"
	if singleWorker {
		release, err := lockData(c.Data)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, release)
	}
	if err := jobs.Migrate(ctx, st); err != nil {
		return nil, err
	}
	if err := syncPartners(ctx, c, st, log); err != nil {
		return nil, err
	}
	if o.FirstToken != nil {
		tok, t, err := firstAdminToken(ctx, st)
		if err != nil {
			return nil, err
		}
		if t != nil {
			log.Info("no API token or console user existed: created an admin token, shown once on standard output; revoke it once you have your own", "token_id", t.ID)
			o.FirstToken(tok, t)
		}
	}
	if a.hostKey, err = c.HostKey(); err != nil {
		return nil, fmt.Errorf("sftp.host_key_file: %w", err)
	}
	if a.hostKey == nil {
		if a.hostKey, err = server.LoadOrCreateHostKey(c.Data); err != nil {
			return nil, err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_build_info", Help: "Always 1; labels name the build and the database driver.",
		ConstLabels: prometheus.Labels{"version": a.version, "database": st.Driver()},
	}, func() float64 { return 1 }))
	registerWriterStats(reg, st)

	// The job runtime comes first: the archive's commit hook inserts each
	// message's next job through it in the archive's own transaction. The
	// stages add their tasks and schedules below, before it starts.
	// Senders waiting for acknowledgments, which processing gives way to.
	fg := foreground.New(time.Now)
	rt := jobs.New(st, jobs.Options{Workers: c.Jobs.Workers, Logger: log, Metrics: reg, Now: a.now, SingleWorker: singleWorker,
		Version: a.version, FailoverAfter: c.Jobs.Failover(), Foreground: fg})
	a.Jobs = rt
	for _, s := range c.Schedules {
		sched, _ := s.Parse() // validated
		rt.AddSchedules(jobs.Schedule{Name: s.Name, Schedule: sched, Task: s.Job})
	}

	// Archive: blobs in c.ArchiveURL() (folder or S3 with a local spool).
	arch, err := OpenArchive(c, st, rt, ArchiveOptions{Log: log.With("component", "archive"), Metrics: reg, Now: a.now, registry: a.reg})
	if err != nil {
		return nil, err
	}
	a.Archive = arch
	if err := a.refuseLocalArchiveInCluster(ctx, c); err != nil {
		return nil, err
	}
	a.Gateway = &gateway.Gateway{Archive: arch, Store: st, Foreground: fg}
	for name, t := range maintenanceTasks(st, arch) {
		rt.AddTask(name, t)
	}

	// Receive: polled partner servers and buckets (schedules on River's leader).
	a.reg.addPulls(c, a.Gateway, log, rt)

	// Deliver: one engine, one route per transport; sync submits through it.
	a.Delivery = newDelivery(a.reg, &routeDeps{cfg: c, st: st, arch: arch, now: a.now, log: log.With("component", "deliver")})

	// Decide, then understand (the processor emits to the sync engine).
	a.Sync = a.newSync(rt, log.With("component", "sync"))
	reg.MustRegister(wsync.Collector(st))
	a.Processor = NewProcessor(c, st, arch, a.Sync.Apply, a.now, log.With("component", "process"))
	sendAcksInline(a.Processor, a.Delivery, rt)
	rt.AddTask("x12.ack_overdue", func(ctx context.Context) error { _, err := a.Processor.CheckOverdue(ctx); return err })
	ackOverdueSchedule(c, rt)
	RegisterArchiveJobs(rt, st, arch, a.Processor, a.Delivery.Deliver)

	// AS2: overdue MDNs, certificate expiry.
	rt.AddTask("as2.mdn_overdue", as2MDNOverdue(st, a.now, log.With("component", "as2")))
	as2OverdueSchedule(c, rt)
	rt.AddTask("as2.cert_expiry", as2CertExpiry(c, st, a.now, log.With("component", "as2")))
	as2CertSchedule(rt)
	reg.MustRegister(&as2CertCollector{c: c, st: st})

	// Events: the outbox, published to each subscription (events:).
	if a.Events, err = NewPublisher(c, st, arch, rt.InstanceID(), a.now, log.With("component", "events")); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { CloseSinks(a.Events) })
	reg.MustRegister(a.Events.Collector())

	// Listeners: HTTP (health, metrics, inbound HTTP, AS2, API, console) and SFTP.
	// Readiness: Wharf can accept work while the database answers and the
	// archive can take a file (a full or read-only disk fails Put).
	h := server.NewHTTP(reg, map[string]server.Checker{"database": st.Ping, "archive": arch.Ready})
	if tok, err := c.MetricsToken(); err != nil {
		return nil, fmt.Errorf("metrics.token_file: %w", err)
	} else if tok != "" {
		h.ProtectMetrics(tok)
	} else {
		log.Info("GET /metrics is open to anyone who can reach the HTTP listener (it names partners and certificates); set WHARF_METRICS_TOKEN or metrics.token_file to require a bearer token")
	}
	h.Log = log // logCheck names the component that failed
	// One count of failed authentications per address for every door of
	// the HTTP listener: partner tokens, API tokens, console sign-ins.
	guard := defender.New(web.AuthAttempts, web.AuthWindow, a.now)
	limits := newLimits(c, st, a.now, log.With("component", "limits"), reg)
	inbound := httpInbound(c, a.Store, a.Gateway, guard, log.With("component", "http-inbound"))
	inbound.Throttle = throttle(limits, ratelimit.DoorHTTP)
	h.Handle("POST /api/v1/inbound/{partner}", inbound)
	if a.AS2, err = as2Server(c, st, arch, a.Gateway, log.With("component", "as2")); err != nil {
		return nil, err
	}
	a.AS2.Now = a.now
	a.AS2.Throttle = throttle(limits, ratelimit.DoorAS2)
	h.Handle("POST /as2", a.AS2)
	console, err := web.New(web.Options{Store: st, Archive: arch, Foreground: fg, Jobs: rt, Metrics: reg, Log: log.With("component", "web"), TraceDocuments: a.Processor.Documents, Now: a.now, Guard: guard,
		Limits:     limits,
		EventSinks: eventSinks(a.Events),
		HeldCerts: func(ctx context.Context) ([]web.HeldCert, error) {
			held, err := (&directory{c: c, st: st}).heldCerts(ctx)
			out := make([]web.HeldCert, len(held))
			for i, h := range held {
				out[i] = web.HeldCert{Owner: h.partner, Cert: h.cert}
			}
			return out, err
		},
		ConfigPartner: func(id string) bool { _, ok := c.PartnerByID(id); return ok },
		ConfigFile:    configFileName(c),
		EndSFTPSessions: func(partner string) int {
			if a.sftpSrv == nil {
				return 0
			}
			return a.sftpSrv.EndSessions(partner)
		},
		SFTPSessions: func() []web.SFTPSession {
			if a.sftpSrv == nil {
				return nil
			}
			return a.sftpSrv.Sessions()
		},
		ExternalRoutes: []web.Route{{Method: "POST", Path: "/api/v1/inbound/{partner}", Role: "partner", Tag: "transports",
			Summary: "Send a file to Wharf over HTTP (the partner's HTTP inbound transport); 2xx only once it is archived",
			Params: []web.Param{{Name: "partner", In: "path", Description: "partner ID"},
				{Name: "filename", In: "query", Description: "the file's name (else X-Wharf-Filename or Content-Disposition)"}},
			Response: whttp.Archived{}, Status: http.StatusCreated,
			Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity,
				http.StatusTooManyRequests, http.StatusServiceUnavailable}}},
	})
	if err != nil {
		return nil, err
	}
	console.Mount(h)
	h.SetRoot(console)
	if c.Getenv("WHARF_DEBUG_PPROF") == "1" {
		h.EnableProfiling()
		log.Warn("Go profiling is served under /debug/pprof/ (WHARF_DEBUG_PPROF=1): do not expose this listener")
	}
	a.http = h
	a.httpSrv = server.NewHTTPServer(h)
	if cert, key := c.HTTPTLSFiles(); cert != "" {
		if a.httpSrv.TLSConfig, err = server.TLSConfig(cert, key, log.With("component", "http")); err != nil {
			return nil, fmt.Errorf("http.tls_cert_file: %w", err)
		}
	}
	so := sftpOptions(c, a.Gateway, log.With("component", "sftp"), reg)
	so.Now = a.now
	so.Throttle = throttle(limits, ratelimit.DoorSFTP)
	a.sftpSrv = server.NewSFTP(st, a.hostKey, so)
	return a, nil
}

// HTTPAddr and SFTPAddr are the addresses the listeners are bound to.
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }

// HTTPURL is the HTTP listener's base URL: https:// when it serves TLS.
func (a *App) HTTPURL() string { return a.cfg.HTTPScheme() + "://" + a.HTTPAddr() }

// SFTPAddr is the SFTP listener's address.
func (a *App) SFTPAddr() string { return a.sftpLn.Addr().String() }

// Run starts the jobs, the folder watchers and the listeners, logs one
// "wharf ready" line, and blocks until ctx ends (a clean stop: nil) or a
// listener fails (its error). Either way it stops accepting and lets
// running jobs finish within ShutdownBudget before it returns.
func (a *App) Run(ctx context.Context) error {
	log := a.log
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	if err := a.Jobs.Start(runCtx); err != nil {
		return err
	}
	foldersStopped := startFolderWatchers(runCtx, a.cfg, a.Gateway, log.With("component", "folder"))
	if n, err := a.Archive.SpoolPending(ctx, 1); err == nil && n > 0 { // blobs spooled before a restart
		if _, err := a.Jobs.Insert(ctx, jobs.SpoolUploadArgs{}, jobs.SpoolUploadOpts); err != nil {
			log.Warn("archive: cannot enqueue the spool upload", "err", err)
		}
	}
	if !a.Archive.Local() {
		go uploadOwnSpool(runCtx, a.Archive, log.With("component", "archive"))
	}
	eventsInStopped := startEventsIn(runCtx, a.cfg, a.Gateway, a.Store, log.With("component", "events-in"))
	eventsStopped := make(chan struct{})
	go func() { defer close(eventsStopped); _ = a.Events.Run(runCtx) }()
	errc := make(chan error, 2)
	go func() {
		ln := server.LimitPerIP(a.httpLn, server.MaxConnsPerIP, log)
		serve := func() error { return a.httpSrv.Serve(ln) }
		if a.httpSrv.TLSConfig != nil {
			serve = func() error { return a.httpSrv.ServeTLS(ln, "", "") } // the certificate comes from TLSConfig
		}
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		if err := a.sftpSrv.Serve(a.sftpLn); err != nil {
			errc <- fmt.Errorf("sftp: %w", err)
		}
	}()
	a.http.Ready.Store(true)
	log.Info("wharf ready",
		"version", a.version,
		"http", a.HTTPURL(),
		"sftp", a.SFTPAddr(),
		"sftp_host_key", ssh.FingerprintSHA256(a.hostKey.PublicKey()),
		"data", AbsPath(a.cfg.Data),
		"database", a.Store.Describe(),
		"archive", a.Archive.Describe(),
		"schedules", len(a.Jobs.Schedules()),
		"instance", a.Jobs.InstanceID(),
		"startup_ms", time.Since(a.started).Milliseconds())

	var failed error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new connections; letting running jobs finish", "budget", ShutdownBudget)
	case failed = <-errc:
		log.Error("listener failed; shutting down", "err", failed)
	}
	a.http.Ready.Store(false)
	began := time.Now()
	sdCtx, cancel := context.WithDeadline(context.Background(), began.Add(ShutdownBudget-2*time.Second))
	defer cancel()
	httpCtx, cancelHTTP := context.WithTimeout(sdCtx, 10*time.Second)
	_ = a.httpSrv.Shutdown(httpCtx)
	cancelHTTP()
	_ = a.sftpSrv.Close()
	if err := a.Jobs.Stop(sdCtx); err != nil {
		log.Warn("jobs did not stop cleanly; unfinished ones return to the queue", "err", err)
	}
	cancelRun()
	foldersStopped()
	<-eventsStopped
	eventsInStopped()
	log.Info("stopped", "took_ms", time.Since(began).Milliseconds())
	return failed
}

// refuseLocalArchiveInCluster stops an instance on PostgreSQL whose archive
// is a local folder while another instance is alive on the database: each
// would archive what it receives where the other cannot read it, and the
// other's jobs would fail with "blob not found" (docs/cluster.md).
func (a *App) refuseLocalArchiveInCluster(ctx context.Context, c *config.Config) error {
	if a.Store.Driver() != "postgres" || !a.Archive.Local() {
		return nil
	}
	all, err := a.Store.Instances(ctx)
	if err != nil {
		return err
	}
	failover := c.Jobs.Failover()
	if failover <= 0 {
		failover = jobs.DefaultFailoverAfter
	}
	for _, in := range all {
		if jobs.DeadHere(in) {
			continue // this machine's earlier run, killed: its heartbeat is only recent
		}
		if age := a.now().Sub(in.HeartbeatAt); age < failover {
			return fmt.Errorf("another Wharf instance works on this database (%s on %s, pid %d, last heartbeat %s ago), and this instance's archive is a local folder (%s) that the other cannot read: "+
				"point every instance at one S3 or MinIO archive (WHARF_ARCHIVE_URL or archive.url; docs/cluster.md), or stop the other instance first",
				in.ID, in.Host, in.PID, age.Round(time.Second), a.Archive.Describe())
		}
	}
	return nil
}

// Close releases the listeners, the data folder lock and the store, in the
// reverse order New acquired them.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Listen binds the TCP address of Wharf's "HTTP" or "SFTP" listener,
// with an error that says which setting to change when it cannot.
func Listen(what, addr string) (net.Listener, error) {
	how := "http.addr or WHARF_HTTP_ADDR"
	if what == "SFTP" {
		how = "sftp.addr or WHARF_SFTP_ADDR"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen for %s on %s: address already in use (is another wharf running? change %s)", what, addr, how)
		}
		return nil, fmt.Errorf("cannot listen for %s on %s: %v (change %s)", what, addr, UnwrapPath(err), how)
	}
	return ln, nil
}

// configFileName is the absolute path of the configuration file, "" when
// there is none.
func configFileName(c *config.Config) string {
	if c.File() == "" {
		return ""
	}
	return AbsPath(c.File())
}

// registerWriterStats exports what the store's writer does (SQLite's one
// writer, PostgreSQL's lanes of shared transactions): when its busy
// seconds grow as fast as the clock (on PostgreSQL, four times as fast),
// the writer is what bounds throughput (docs/operations.md, "Concurrency
// and memory").
func registerWriterStats(reg prometheus.Registerer, st store.Store) {
	ws, ok := st.(store.WriterStater)
	if !ok {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wharf_store_writer_busy_seconds_total",
			Help: "Time the store's writer spent running transactions, their statements and commits included: SQLite's one writer (the WAL's fsync included), or PostgreSQL's lanes of shared transactions, summed (up to four times the clock)."},
			func() float64 { b, _, _ := ws.WriterStats(); return b.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wharf_store_writer_commits_total",
			Help: "Commits of the store's writer, each shared by the transactions of a batch (group commit; on PostgreSQL, the lanes' shared transactions)."},
			func() float64 { _, c, _ := ws.WriterStats(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wharf_store_writer_transactions_total",
			Help: "Transactions (WithTx calls) the store's writer ran, shared among its commits."},
			func() float64 { _, _, t := ws.WriterStats(); return float64(t) }),
	)
}
