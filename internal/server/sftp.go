package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
)

// SFTP is the partner-facing SSH listener. It presents the persisted host
// key and authenticates partners by the public keys registered for them
// (user name = partner ID). The SFTP subsystem that serves their inbound/
// and outbound/ folders is added by the SFTP transport; until then an
// authenticated session is refused with a message saying so.
type SFTP struct {
	cfg    *ssh.ServerConfig
	st     store.Store
	log    *slog.Logger
	logins *prometheus.CounterVec

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewSFTP returns the listener's server; call Serve with a bound listener.
func NewSFTP(st store.Store, hostKey ssh.Signer, log *slog.Logger, reg prometheus.Registerer) *SFTP {
	s := &SFTP{st: st, log: log, conns: map[net.Conn]struct{}{}}
	s.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_sftp_logins_total", Help: "SFTP login attempts by outcome.",
	}, []string{"outcome"})
	if reg != nil {
		reg.MustRegister(s.logins)
	}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: s.authKey,
		ServerVersion:     "SSH-2.0-Wharf",
		MaxAuthTries:      6,
	}
	s.cfg.AddHostKey(hostKey)
	return s
}

func (s *SFTP) authKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fp := ssh.FingerprintSHA256(key)
	p, err := s.st.PartnerBySSHKey(ctx, fp)
	if err != nil || p.ID != meta.User() {
		s.logins.WithLabelValues("rejected").Inc()
		s.log.Warn("sftp login rejected", "user", meta.User(), "remote", meta.RemoteAddr().String(), "key", fp)
		return nil, fmt.Errorf("key %s is not registered for %q", fp, meta.User())
	}
	return &ssh.Permissions{Extensions: map[string]string{"partner": p.ID, "key": fp}}, nil
}

// Serve accepts connections until Close.
func (s *SFTP) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
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
			s.handle(c)
		}()
	}
}

func (s *SFTP) handle(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // handshake and auth
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	partner := sc.Permissions.Extensions["partner"]
	s.logins.WithLabelValues("accepted").Inc()
	s.log.Info("sftp login", "partner", partner, "remote", sc.RemoteAddr().String(), "key", sc.Permissions.Extensions["key"])
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		_ = nc.Reject(ssh.Prohibited, "this Wharf has no SFTP service for partners yet")
	}
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
