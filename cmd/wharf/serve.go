package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/ssh"
	_ "time/tzdata" // schedules name IANA time zones; containers may lack zoneinfo

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/gateway"
	"github.com/wharfedi/wharf/internal/server"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
	"github.com/wharfedi/wharf/jobs"
	wsync "github.com/wharfedi/wharf/sync"
)

// shutdownBudget is how long SIGINT/SIGTERM may take before we exit anyway.
const shutdownBudget = 30 * time.Second

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	started := time.Now()
	fs, common := newFlags("serve", stderr)
	logFormat := fs.String("log-format", "", "log format: text (readable, default) or json")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	if *logFormat != "" {
		if *logFormat != "text" && *logFormat != "json" {
			fmt.Fprintf(stderr, "wharf serve: --log-format %q: use text or json\n", *logFormat)
			return 2
		}
		c.Log.Format = *logFormat
	}
	log := newLogger(stderr, c.Log.Format, c.Log.Level)

	// Bind the listeners first: a port in use stops us before anything is written.
	httpLn, err := listen("HTTP", c.HTTP.Addr, "http.addr or WHARF_HTTP_ADDR")
	if err != nil {
		return fail(stderr, err)
	}
	defer httpLn.Close()
	sftpLn, err := listen("SFTP", c.SFTP.Addr, "sftp.addr or WHARF_SFTP_ADDR")
	if err != nil {
		return fail(stderr, err)
	}
	defer sftpLn.Close()

	st, err := openStore(ctx, c)
	if err != nil {
		return fail(stderr, err)
	}
	defer st.Close()
	if err := prepareData(c.Data); err != nil {
		return fail(stderr, err)
	}
	singleWorker := st.Driver() == "sqlite"
	if singleWorker {
		release, err := lockData(c.Data)
		if err != nil {
			return fail(stderr, err)
		}
		defer release()
	}
	if err := jobs.Migrate(ctx, st); err != nil {
		return fail(stderr, err)
	}
	if err := syncPartners(ctx, c, st, log); err != nil {
		return fail(stderr, err)
	}
	hostKey, err := server.LoadOrCreateHostKey(c.Data)
	if err != nil {
		return fail(stderr, err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_build_info", Help: "Always 1; labels name the build and the database driver.",
		ConstLabels: prometheus.Labels{"version": versionString(), "database": st.Driver()},
	}, func() float64 { return 1 }))

	var schedules []jobs.Schedule
	for _, s := range c.Schedules {
		sched, _ := s.Parse() // validated
		schedules = append(schedules, jobs.Schedule{Name: s.Name, Schedule: sched, Task: s.Job})
	}
	// Archive: blobs in c.ArchiveURL() (folder or S3 with a local spool); each
	// new inbound entry enqueues its processing job through rt in the same
	// transaction, a spooled one also the spool upload job.
	var rt *jobs.Runtime
	arch, err := openArchive(c, st, func() *jobs.Runtime { return rt }, log.With("component", "archive"), reg)
	if err != nil {
		return fail(stderr, err)
	}
	gw := &gateway.Gateway{Archive: arch, Store: st}
	allTasks := tasks(st, arch)
	pulls, pullTasks := remoteSchedules(c, gw, log.With("component", "sftp-client"))
	s3Pulls, s3Tasks := s3Schedules(c, gw, log.With("component", "s3"))
	pulls = append(pulls, s3Pulls...)
	maps.Copy(pullTasks, s3Tasks)
	schedules = append(schedules, pulls...)
	for name, t := range pullTasks {
		allTasks[name] = t
	}
	proc := newProcessor(c, st, arch, log.With("component", "process"))
	allTasks["x12.ack_overdue"] = func(ctx context.Context) error { _, err := proc.CheckOverdue(ctx); return err }
	schedules = append(schedules, ackOverdueSchedule(c, schedules)...)
	allTasks["as2.mdn_overdue"] = as2MDNOverdue(st, log.With("component", "as2"))
	schedules = append(schedules, as2OverdueSchedule(c, schedules)...)
	allTasks["as2.cert_expiry"] = as2CertExpiry(c, st, log.With("component", "as2"))
	schedules = append(schedules, as2CertSchedule(schedules)...)
	reg.MustRegister(&as2CertCollector{c: c, st: st})
	engine, syncTasks, syncScheds := newSync(c, st, arch, log.With("component", "sync"), schedules)
	proc.Emit = engine.Apply
	maps.Copy(allTasks, syncTasks)
	schedules = append(schedules, syncScheds...)
	reg.MustRegister(wsync.Collector(st))
	rt = jobs.New(st, jobs.Options{
		Workers: c.Jobs.Workers, Logger: log, Tasks: allTasks, Schedules: schedules, Metrics: reg,
		SingleWorker: singleWorker,
	})
	registerArchiveJobs(rt, st, arch, proc,
		newDelivery(c, arch, st, log.With("component", "deliver"), deliverer(c, arch, st, log.With("component", "deliver"))).Deliver)
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	if err := rt.Start(runCtx); err != nil {
		return fail(stderr, err)
	}
	foldersStopped := startFolderWatchers(runCtx, c, gw, log.With("component", "folder"))
	if n, err := arch.SpoolPending(ctx, 1); err == nil && n > 0 { // blobs spooled before a restart
		if _, err := rt.Insert(ctx, jobs.SpoolUploadArgs{}, jobs.SpoolUploadOpts); err != nil {
			log.Warn("archive: cannot enqueue the spool upload", "err", err)
		}
	}

	h := server.NewHTTP(reg, map[string]server.Checker{"database": st.Ping})
	h.Handle("POST /api/v1/inbound/{partner}", httpInbound(c, gw, log.With("component", "http-inbound")))
	as2Srv, err := as2Server(c, st, arch, gw, log.With("component", "as2"))
	if err != nil {
		return fail(stderr, err)
	}
	h.Handle("POST /as2", as2Srv)
	console, err := web.New(web.Options{Store: st, Archive: arch, Jobs: rt, Metrics: reg, Log: log.With("component", "web"), TraceDocuments: proc.Documents,
		OwnCerts: func() []*x509.Certificate {
			if as2Srv.Identity == nil || as2Srv.Identity.Cert == nil {
				return nil
			}
			return []*x509.Certificate{as2Srv.Identity.Cert}
		},
		ExternalRoutes: []web.Route{{Method: "POST", Path: "/api/v1/inbound/{partner}", Role: "partner", Tag: "transports",
			Summary:  "Send a file to Wharf over HTTP (the partner's HTTP inbound transport); 2xx only once it is archived",
			Params:   []web.Param{{Name: "partner", In: "path", Description: "partner ID"}},
			Produces: "application/json"}},
	})
	if err != nil {
		return fail(stderr, err)
	}
	console.Mount(h)
	h.SetRoot(console)
	if os.Getenv("WHARF_DEBUG_PPROF") == "1" {
		h.EnableProfiling()
		log.Warn("Go profiling is served under /debug/pprof/ (WHARF_DEBUG_PPROF=1): do not expose this listener")
	}
	httpSrv := server.NewHTTPServer(h)
	sftpSrv := server.NewSFTP(st, hostKey, sftpOptions(c, gw, log.With("component", "sftp"), reg))
	errc := make(chan error, 2)
	go func() {
		if err := httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	go func() {
		if err := sftpSrv.Serve(sftpLn); err != nil {
			errc <- fmt.Errorf("sftp: %w", err)
		}
	}()
	h.Ready.Store(true)
	log.Info("wharf ready",
		"version", versionString(),
		"http", "http://"+httpLn.Addr().String(),
		"sftp", sftpLn.Addr().String(),
		"sftp_host_key", ssh.FingerprintSHA256(hostKey.PublicKey()),
		"data", absPath(c.Data),
		"database", st.Describe(),
		"archive", arch.Describe(),
		"schedules", len(schedules),
		"startup_ms", time.Since(started).Milliseconds())

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new connections; letting running jobs finish", "budget", shutdownBudget)
	case err := <-errc:
		log.Error("listener failed; shutting down", "err", err)
		code = 1
	}
	h.Ready.Store(false)
	deadline := time.Now().Add(shutdownBudget - 2*time.Second)
	sdCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	httpCtx, cancelHTTP := context.WithTimeout(sdCtx, 10*time.Second)
	_ = httpSrv.Shutdown(httpCtx)
	cancelHTTP()
	_ = sftpSrv.Close()
	if err := rt.Stop(sdCtx); err != nil {
		log.Warn("jobs did not stop cleanly; unfinished ones return to the queue", "err", err)
	}
	cancelRun()
	foldersStopped()
	log.Info("stopped", "took_ms", time.Since(deadline.Add(-(shutdownBudget - 2*time.Second))).Milliseconds())
	return code
}

func listen(what, addr, how string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen for %s on %s: address already in use (is another wharf running? change %s)", what, addr, how)
		}
		return nil, fmt.Errorf("cannot listen for %s on %s: %v (change %s)", what, addr, unwrapPath(err), how)
	}
	return ln, nil
}

// syncPartners upserts the partners declared in the config file; partners
// added with the CLI stay as they are.
func syncPartners(ctx context.Context, c *config.Config, st store.Store, log *slog.Logger) error {
	ps, err := c.StorePartners()
	if err != nil {
		return err
	}
	return st.WithTx(ctx, func(tx store.Tx) error {
		for _, p := range ps {
			if err := tx.UpsertPartner(ctx, p); err != nil {
				return fmt.Errorf("config partner %s: %w", p.ID, err)
			}
		}
		if len(ps) > 0 {
			log.Info("partners from config applied", "count", len(ps))
		}
		return nil
	})
}
