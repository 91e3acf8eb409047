package server

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// A renewed certificate is served without a restart; a broken renewal
// keeps the one in use.
func TestTLSConfigReloadsRenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testenv.TLSCert(t, dir, "first")
	cfg, err := TLSConfig(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		c, err := cfg.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q", got)
	}
	defer func(d time.Duration) { TLSRecheck = d }(TLSRecheck)
	TLSRecheck = 0
	touch := func(files ...string) {
		later := time.Now().Add(time.Minute)
		for _, f := range files {
			if err := os.Chtimes(f, later, later); err != nil {
				t.Fatal(err)
			}
		}
	}
	renewed := filepath.Join(dir, "renewed")
	os.Mkdir(renewed, 0o700)
	c2, k2, _ := testenv.TLSCert(t, renewed, "second")
	for src, dst := range map[string]string{c2: certFile, k2: keyFile} {
		b, _ := os.ReadFile(src)
		os.WriteFile(dst, b, 0o600)
	}
	touch(certFile, keyFile)
	if got := served(); got != "second" {
		t.Fatalf("after renewal: served %q", got)
	}
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	touch(certFile)
	if got := served(); got != "second" {
		t.Fatalf("after a broken renewal: served %q, want the previous certificate", got)
	}
	if _, err := TLSConfig(certFile, keyFile, nil); err == nil {
		t.Fatal("TLSConfig accepted a file that holds no certificate")
	}
}
