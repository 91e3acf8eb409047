package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/web"
)

func certExpiring(t *testing.T, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestAS2CertExpiry: a partner certificate inside the warning window raises
// one exception that names the partner, the certificate, the date and the
// fix, however often the check runs; a fresh one raises none; every held
// certificate is a metric.
func TestAS2CertExpiry(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "soon.pem"), certExpiring(t, "ACME 2026", time.Now().Add(10*24*time.Hour)), 0o644)
	os.WriteFile(filepath.Join(dir, "later.pem"), certExpiring(t, "BOLT", time.Now().Add(400*24*time.Hour)), 0o644)
	cfgFile := filepath.Join(dir, "wharf.yaml")
	// The data folder is absolute: a relative one is relative to the
	// working directory (the package folder under go test).
	os.WriteFile(cfgFile, []byte(`data: `+filepath.Join(dir, "data")+`
partners:
  - id: acme
    as2: {id: ACME, cert_files: [soon.pem]}
  - id: bolt
    as2: {id: BOLT, cert_files: [later.pem]}
`), 0o600)
	c, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(config.ValidateOptions{Jobs: TaskNames()}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(c.Data, 0o750)
	st, err := store.Open(t.Context(), filepath.Join(c.Data, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, _ := c.StorePartners()
	for _, p := range ps {
		if err := st.UpsertPartner(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	check := as2CertExpiry(c, st, time.Now, slog.New(slog.DiscardHandler))
	for range 2 {
		if err := check(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	xs, err := st.ListExceptions(t.Context(), store.ExceptionFilter{Reason: "certificate"})
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 1 || xs[0].PartnerID != "acme" {
		t.Fatalf("exceptions: %+v", xs)
	}
	for _, want := range []string{"partner acme", `"ACME 2026"`, "expires on " + time.Now().Add(10*24*time.Hour).UTC().Format("2006-01-02"), "wharf partner add acme --as2-cert"} {
		if !strings.Contains(xs[0].Detail, want) {
			t.Errorf("detail lacks %q: %s", want, xs[0].Detail)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&as2CertCollector{c: c, st: st})
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 3 {
		t.Fatalf("certificate metrics %v (%v), want 3: Wharf's own, acme's, bolt's", mfs, err)
	}
}

// TestCertificatesFromOneDirectory: certificates declared in the config
// file (not only those added with `wharf partner add`) are on the
// console's certificate list, as they are in the metric and the expiry
// check: all three read the one partner directory.
func TestCertificatesFromOneDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "acme.pem"), certExpiring(t, "ACME 2027", time.Now().Add(300*24*time.Hour)), 0o644)
	cfgFile := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgFile, []byte(`data: `+filepath.Join(dir, "data")+`
http: {addr: "127.0.0.1:0"}
sftp: {addr: "127.0.0.1:0"}
partners:
  - id: acme
    as2: {id: ACME, cert_files: [acme.pem]}
`), 0o600)
	c := mustConfig(t, cfgFile)
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(ctx, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tok, _, err := web.MintToken(ctx, a.Store, "auditor", "test")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Certificates []web.Cert }
	for i := 0; ; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+a.HTTPAddr()+"/api/v1/certificates", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err == nil && res.StatusCode == 200 {
			err = json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if i == 100 {
			t.Fatalf("GET /api/v1/certificates: %v %v", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	owners := map[string]string{}
	for _, ce := range got.Certificates {
		owners[ce.Owner] = ce.Subject
	}
	if len(got.Certificates) != 2 || !strings.Contains(owners["acme"], "ACME 2027") || owners["wharf"] == "" {
		t.Fatalf("certificates on the console: %+v", got.Certificates)
	}
}
