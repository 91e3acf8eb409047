package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/defender"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// PartnerPolicy is what the SFTP server enforces per partner.
type PartnerPolicy struct {
	AllowIPs     []netip.Prefix // empty: any address
	AllowDelete  bool           // may delete documents from outbound/
	PasswordHash []byte         // bcrypt; nil: no password login
}

// SFTPOptions configure the partner-facing SFTP server.
type SFTPOptions struct {
	Receiver    transports.Receiver
	Outbox      transports.Outbox
	SpoolDir    string // staging for uploads and downloads
	MaxFileSize int64  // bytes; 0 means no limit
	// StageInMemory: uploads of up to this many bytes are staged in memory
	// (sftp.ServerOptions.StageInMemory); 0: every upload in a file.
	StageInMemory int64
	MaxSessions   int // concurrent connections; default 64
	// MaxSessionsPerIP caps one remote address's concurrent connections
	// (default: MaxSessions/4, at least 1): a client that opens connections
	// and never authenticates holds each for the 30 s handshake limit, and
	// without this cap one address could take every session.
	MaxSessionsPerIP int
	IdleTimeout      time.Duration // default 10 minutes
	// LockoutAttempts failed logins from one address within LockoutWindow
	// lock that address out for LockoutWindow. Defaults 5 and 15 minutes.
	LockoutAttempts int
	LockoutWindow   time.Duration
	Policy          func(partner string) PartnerPolicy
	// Throttle, when set, applies each partner's rate limit to its
	// uploads (transports/sftp ServerOptions.Throttle).
	Throttle func(ctx context.Context, partner string) (wait int, why string)
	// Ciphers, when set, replaces the default cipher list (see NewSFTP).
	Ciphers []string
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// Now stamps when a session logged in (Sessions); default time.Now.
	Now func() time.Time
}

// SFTP is the partner-facing SSH/SFTP server. It presents the persisted host
// key, authenticates partners by their registered public keys (user name =
// partner ID), and serves each one a virtual home with inbound/ and
// outbound/ (package transports/sftp).
type SFTP struct {
	o        SFTPOptions
	cfg      *ssh.ServerConfig
	st       store.Store
	log      *slog.Logger
	logins   *prometheus.CounterVec
	sessions *prometheus.CounterVec

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	live     map[string]*liveConn // authenticated connections by ID (Sessions)
	defender *defender.Defender   // failed logins by remote IP
	wg       sync.WaitGroup
}

// NewSFTP returns the server; call Serve with a bound listener.
func NewSFTP(st store.Store, hostKey ssh.Signer, o SFTPOptions) *SFTP {
	if o.MaxSessions <= 0 {
		o.MaxSessions = 64
	}
	if o.MaxSessionsPerIP <= 0 {
		o.MaxSessionsPerIP = max(1, o.MaxSessions/4)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.LockoutAttempts <= 0 {
		o.LockoutAttempts = 5
	}
	if o.LockoutWindow <= 0 {
		o.LockoutWindow = 15 * time.Minute
	}
	if o.Policy == nil {
		o.Policy = func(string) PartnerPolicy { return PartnerPolicy{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &SFTP{o: o, st: st, log: o.Logger, conns: map[net.Conn]struct{}{}, live: map[string]*liveConn{},
		defender: defender.New(o.LockoutAttempts, o.LockoutWindow, nil)}
	s.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_sftp_logins_total", Help: "SFTP login attempts by outcome.",
	}, []string{"outcome"})
	s.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_sftp_sessions_total", Help: "SFTP sessions by partner.",
	}, []string{"partner"})
	if o.Metrics != nil {
		o.Metrics.MustRegister(s.logins, s.sessions)
	}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: s.authKey,
		PasswordCallback:  s.authPassword,
		ServerVersion:     "SSH-2.0-Wharf",
		MaxAuthTries:      6,
	}
	// Ciphers with hardware support in Go on amd64 and arm64. chacha20-poly1305
	// is left out on purpose: OpenSSH clients prefer it, and Go implements it
	// without assembly on amd64 (about 5x slower than AES-GCM, 2x slower than
	// AES-CTR with HMAC-SHA2), which halves upload throughput. Clients fall
	// back to aes*-ctr (OpenSSH's next choice) or aes*-gcm.
	s.cfg.Ciphers = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR}
	if len(o.Ciphers) > 0 {
		s.cfg.Ciphers = o.Ciphers
	}
	s.cfg.AddHostKey(hostKey)
	return s
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func (s *SFTP) lockedOut(ip string) bool {
	locked, _ := s.defender.Locked(ip)
	return locked
}

func (s *SFTP) failed(ip string) { s.defender.Fail(ip) }

// audit records an audit event; a failure to record is logged, not fatal.
func (s *SFTP) audit(actor, kind, remote, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.st.AppendAudit(ctx, &store.AuditEvent{Actor: actor, Kind: kind, Remote: remote, Detail: detail}); err != nil {
		s.log.Error("cannot record audit event", "actor", actor, "kind", kind, "err", err)
	}
}

// errAuth is what a refused client learns: nothing about why.
var errAuth = errors.New("authentication failed")

// errAuthTryLater refuses a login that could not be checked (the partner
// lookup failed): a server-side problem, never counted toward a lockout.
var errAuthTryLater = errors.New("authentication unavailable, try later")

func (s *SFTP) authKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	ip := remoteIP(meta.RemoteAddr())
	log := s.log.With("user", meta.User(), "remote", meta.RemoteAddr().String())
	if s.lockedOut(ip) {
		s.logins.WithLabelValues("locked_out").Inc()
		log.Warn("sftp login refused: address locked out after repeated failures", "window", s.o.LockoutWindow)
		s.audit(meta.User(), "sftp_login_refused", meta.RemoteAddr().String(), "address locked out after repeated failures")
		return nil, errAuth
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fp := ssh.FingerprintSHA256(key)
	p, err := s.st.PartnerBySSHKey(ctx, fp)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The lookup failed (database down, slow, restarting): nothing is
		// known about the key, so this is not a failed login and does not
		// count toward the lockout. The client is refused for now and told
		// to try again later.
		s.logins.WithLabelValues("error").Inc()
		log.Error("sftp login refused: cannot look up the partner's key (server-side problem, not counted as a failed login); the client is told to try later", "key", fp, "err", err)
		return nil, &ssh.BannerError{Err: errAuthTryLater, Message: "Wharf cannot check logins right now (server-side problem); please try again in a few minutes.\r\n"}
	}
	if err != nil || p.ID != meta.User() {
		// Clients offer several keys in turn, each refusal counts: the
		// lockout threshold leaves room for a handful.
		s.failed(ip)
		s.logins.WithLabelValues("rejected").Inc()
		log.Warn("sftp login rejected: key not registered for this user", "key", fp)
		s.audit(meta.User(), "sftp_login_refused", meta.RemoteAddr().String(), "key "+fp+" not registered for this user")
		return nil, errAuth
	}
	if p.Disabled() {
		return nil, s.refuseDisabled(meta, p, log)
	}
	return s.admit(p.ID, ip, log, map[string]string{"partner": p.ID, "key": fp})
}

// refuseDisabled refuses a disabled partner's login. Its credentials were
// right, so the refusal does not count toward the address's lockout.
func (s *SFTP) refuseDisabled(meta ssh.ConnMetadata, p *store.Partner, log *slog.Logger) error {
	s.logins.WithLabelValues("disabled").Inc()
	log.Warn("sftp login refused: the partner is disabled", "partner", p.ID, "disabled_at", p.DisabledAt)
	s.audit(p.ID, "sftp_login_refused", meta.RemoteAddr().String(), "partner disabled since "+p.DisabledAt.UTC().Format(time.RFC3339))
	return errAuth
}

// authPassword admits a partner whose configured bcrypt hash matches.
func (s *SFTP) authPassword(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	ip := remoteIP(meta.RemoteAddr())
	log := s.log.With("user", meta.User(), "remote", meta.RemoteAddr().String())
	if s.lockedOut(ip) {
		s.logins.WithLabelValues("locked_out").Inc()
		log.Warn("sftp login refused: address locked out after repeated failures", "window", s.o.LockoutWindow)
		return nil, errAuth
	}
	pol := s.o.Policy(meta.User())
	if len(pol.PasswordHash) == 0 || bcrypt.CompareHashAndPassword(pol.PasswordHash, password) != nil {
		s.failed(ip)
		s.logins.WithLabelValues("rejected").Inc()
		log.Warn("sftp login rejected: wrong password or no password login for this user")
		s.audit(meta.User(), "sftp_login_refused", meta.RemoteAddr().String(), "wrong password, or no password login for this user")
		return nil, errAuth
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := s.st.GetPartner(ctx, meta.User())
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.logins.WithLabelValues("error").Inc()
		log.Error("sftp login refused: cannot look up the partner (server-side problem, not counted as a failed login); the client is told to try later", "err", err)
		return nil, &ssh.BannerError{Err: errAuthTryLater, Message: "Wharf cannot check logins right now (server-side problem); please try again in a few minutes.\r\n"}
	case err == nil && p.Disabled():
		return nil, s.refuseDisabled(meta, p, log)
	}
	return s.admit(meta.User(), ip, log, map[string]string{"partner": meta.User(), "key": "password"})
}

// admit applies the partner's address allow-list.
func (s *SFTP) admit(partner, ip string, log *slog.Logger, ext map[string]string) (*ssh.Permissions, error) {
	if pol := s.o.Policy(partner); len(pol.AllowIPs) > 0 {
		addr, err := netip.ParseAddr(ip)
		ok := false
		for _, pre := range pol.AllowIPs {
			ok = ok || (err == nil && pre.Contains(addr.Unmap()))
		}
		if !ok {
			s.failed(ip)
			s.logins.WithLabelValues("address_refused").Inc()
			log.Warn("sftp login refused: address not in the partner's allow-list", "partner", partner)
			s.audit(partner, "sftp_login_refused", ip, "address not in the partner's allow-list")
			return nil, errAuth
		}
	}
	return &ssh.Permissions{Extensions: ext}, nil
}

// Serve accepts connections until Close.
func (s *SFTP) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	ln = LimitPerIP(ln, s.o.MaxSessionsPerIP, s.log)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if len(s.conns) >= s.o.MaxSessions {
			s.mu.Unlock()
			s.log.Warn("sftp connection refused: maximum concurrent sessions reached", "remote", c.RemoteAddr().String(), "max", s.o.MaxSessions)
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(&idleConn{Conn: c, idle: s.o.IdleTimeout})
		}()
	}
}

// idleConn closes a connection that sends nothing for the idle timeout.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (s *SFTP) handle(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // handshake and authentication
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	partner := sc.Permissions.Extensions["partner"]
	remote := sc.RemoteAddr().String()
	s.logins.WithLabelValues("accepted").Inc()
	s.sessions.WithLabelValues(partner).Inc()
	s.log.Info("sftp login", "partner", partner, "remote", remote, "key", sc.Permissions.Extensions["key"])
	s.audit(partner, "sftp_login", remote, "authenticated by "+sc.Permissions.Extensions["key"])
	go ssh.DiscardRequests(reqs)
	total := &sessionTotals{}
	lc := &liveConn{SFTPSession: SFTPSession{ID: newConnID(), Partner: partner, Remote: remote, Auth: sc.Permissions.Extensions["key"], Since: s.o.Now().UTC()},
		sc: sc, total: total, active: map[*wsftp.Session]bool{}}
	s.register(lc)
	defer s.unregister(lc)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ch, creqs, partner, remote, lc)
		}()
	}
	wg.Wait()
	t := total.get()
	s.log.Info("sftp logout", "partner", partner, "remote", remote, "uploads", t.Uploads, "upload_bytes", t.UploadBytes, "downloads", t.Downloads, "download_bytes", t.DownloadBytes)
	s.audit(partner, "sftp_logout", remote, fmt.Sprintf("%d upload(s), %d bytes; %d download(s), %d bytes", t.Uploads, t.UploadBytes, t.Downloads, t.DownloadBytes))
}

// sessionTotals adds up a connection's SFTP sessions.
type sessionTotals struct {
	mu sync.Mutex
	t  wsftp.Totals
}

func (st *sessionTotals) add(t wsftp.Totals) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.t = plus(st.t, t)
}

// plus is the sum of two sessions' transfers.
func plus(a, b wsftp.Totals) wsftp.Totals {
	return wsftp.Totals{Uploads: a.Uploads + b.Uploads, UploadBytes: a.UploadBytes + b.UploadBytes,
		Downloads: a.Downloads + b.Downloads, DownloadBytes: a.DownloadBytes + b.DownloadBytes}
}

func (st *sessionTotals) get() wsftp.Totals {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.t
}

func (s *SFTP) session(ch ssh.Channel, reqs <-chan *ssh.Request, partner, remote string, lc *liveConn) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "subsystem" || len(req.Payload) < 4 || string(req.Payload[4:]) != "sftp" {
			// No shell, no exec, no port forwarding: SFTP only.
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			if req.Type == "exec" || req.Type == "shell" {
				fmt.Fprintf(ch.Stderr(), "This server offers SFTP only.\r\n")
				_, _ = ch.SendRequest("exit-status", false, []byte{0, 0, 0, 1})
				return
			}
			continue
		}
		_ = req.Reply(true, nil)
		pol := s.o.Policy(partner)
		sess := wsftp.NewSession(wsftp.ServerOptions{
			Partner: partner, RemoteAddr: remote, Receiver: s.o.Receiver, Outbox: s.o.Outbox,
			SpoolDir: s.o.SpoolDir, MaxFileSize: s.o.MaxFileSize, StageInMemory: s.o.StageInMemory, AllowDelete: pol.AllowDelete, Log: s.log,
			Throttle: s.o.Throttle,
		})
		lc.add(sess)
		rs := sftp.NewRequestServer(newLimitsConn(ch), sess.Handlers(), requestServerOptions...)
		err := rs.Serve()
		sess.Discard()
		lc.done(sess)
		_ = rs.Close()
		if err != nil && !errors.Is(err, context.Canceled) && err.Error() != "EOF" {
			s.log.Debug("sftp session ended", "partner", partner, "remote", remote, "err", err)
		}
		_, _ = ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
		return
	}
}

// requestServerOptions: reads answered up to the size limitsConn offers,
// and request buffers reused (an upload's WriteAt keeps no buffer).
var requestServerOptions = []sftp.RequestServerOption{
	sftp.WithStartDirectory("/"), sftp.WithRSMaxTxPacket(sftpMaxRead), sftp.WithRSAllocator(),
}

// Close stops accepting and closes open connections.
func (s *SFTP) Close() error {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
