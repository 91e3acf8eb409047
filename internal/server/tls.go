package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSRecheck is how often, at most, TLSConfig looks whether the
// certificate or key file changed.
var TLSRecheck = 30 * time.Second

// TLSConfig serves the certificate (PEM, the chain after it) and key in
// certFile and keyFile. It reads them again when either file's
// modification time changes (looked at on a handshake, at most every
// TLSRecheck), so a renewed certificate is served without a restart; a
// reload that fails keeps the certificate in use and logs why.
func TLSConfig(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}, nil
}

type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	mtimes  [2]time.Time
	checked time.Time
}

func (r *certReloader) modTimes() ([2]time.Time, error) {
	var m [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return m, err
		}
		m[i] = fi.ModTime()
	}
	return m, nil
}

// load reads both files; the caller holds mu or is alone.
func (r *certReloader) load() error {
	m, err := r.modTimes()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.mtimes, r.checked = &cert, m, time.Now()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < TLSRecheck {
		return r.cert, nil
	}
	r.checked = time.Now()
	if m, err := r.modTimes(); err == nil && m == r.mtimes {
		return r.cert, nil
	}
	if err := r.load(); err != nil {
		r.log.Warn("tls: the certificate changed but cannot be loaded; serving the previous one", "err", err)
		return r.cert, nil
	}
	r.log.Info("tls: certificate reloaded", "file", r.certFile)
	return r.cert, nil
}
