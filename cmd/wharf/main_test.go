package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
)

func runIn(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsageAndVersion(t *testing.T) {
	if _, errs, code := runIn(t); code != 2 || !strings.Contains(errs, "wharf serve") {
		t.Fatalf("no args: %d %q", code, errs)
	}
	if _, errs, code := runIn(t, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if out, _, code := runIn(t, "version"); code != 0 || !strings.HasPrefix(out, "wharf ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("partners:\n  - id: acme\n    x12_ids: [ZZ:ACME]\nschedules:\n  - name: nightly\n    cron: \"0 3 * * *\"\n    timezone: Europe/Berlin\n    job: db.maintenance\n"), 0o600)
	out, errs, code := runIn(t, "config", "check", "--config", good)
	if code != 0 || !strings.Contains(out, "config OK") || !strings.Contains(out, "nightly") || !strings.Contains(out, "CET") {
		t.Fatalf("good config: %d %q %q", code, out, errs)
	}
	// The commented starter is valid as it stands.
	if out, errs, code := runIn(t, "config", "check", "--config", "../../examples/wharf.yaml", "--data", filepath.Join(dir, "data")); code != 0 || !strings.Contains(out, "config OK") {
		t.Fatalf("examples/wharf.yaml: %d %q %q", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("partners:\n  - id: acme\n    x12_ids: [ACME]\n"), 0o600)
	_, errs, code = runIn(t, "config", "check", "--config", bad)
	if code != 1 || !strings.Contains(errs, "bad.yaml:3: partners[0].x12_ids[0]") {
		t.Fatalf("bad config: %d %q", code, errs)
	}
}

func TestPartnerAddValidates(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	priv := filepath.Join(dir, "id_ed25519")
	os.WriteFile(priv, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"partner", "add"}, 2, "usage: wharf partner add ID"},
		{[]string{"partner", "add", "../etc", "--data", data}, 1, `partner id "../etc"`},
		{[]string{"partner", "add", "acme", "--x12-id", "ACME", "--data", data}, 1, `--x12-id "ACME": expected QUALIFIER:ID`},
		{[]string{"partner", "add", "acme", "--sftp-key", priv, "--data", data}, 1, "not an SSH public key (give the .pub file, never the private key)"},
		{[]string{"partner", "add", "acme", "--bogus", "--data", data}, 2, "flag provided but not defined: -bogus"},
	}
	for _, tc := range cases {
		_, errs, code := runIn(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: got %d %q, want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// Additive updates: a second add keeps the first X12 ID.
	if _, errs, code := runIn(t, "partner", "add", "acme", "--x12-id", "ZZ:ACME", "--data", data); code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := runIn(t, "partner", "add", "acme", "--name", "ACME", "--x12-id", "01:123456789", "--data", data); code != 0 {
		t.Fatal(errs)
	}
	out, _, _ := runIn(t, "partner", "list", "--data", data)
	if !strings.Contains(out, "01:123456789 ZZ:ACME") || !strings.Contains(out, "ACME") {
		t.Fatalf("list after two adds: %q", out)
	}
	// Another partner cannot take acme's X12 ID.
	_, errs, code := runIn(t, "partner", "add", "beta", "--x12-id", "ZZ:ACME", "--data", data)
	if code != 1 || !strings.Contains(errs, "x12 id ZZ:ACME already belongs to partner acme") {
		t.Fatalf("conflict: %d %q", code, errs)
	}
}

// The README's configuration example must stay a valid configuration.
func TestREADMEConfigExampleIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README has no yaml example")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o755)
	os.WriteFile(filepath.Join(dir, "keys", "acme.pub"), []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9zzgc16E+9TDf6d0Y+6VZ4t3dgMWQpniUXbQs1DdqW test-a\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "keys", "acme-as2.pem"), []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "db-url"), []byte("postgres://wharf:pw@db:5432/wharf\n"), 0o600)
	example = strings.ReplaceAll(example, "/run/secrets/wharf-db-url", filepath.Join(dir, "db-url"))
	os.WriteFile(filepath.Join(dir, "metrics-token"), []byte("3f9c0d1e2b7a46c8a1d5e0f2\n"), 0o600)
	example = strings.ReplaceAll(example, "/run/secrets/wharf-metrics-token", filepath.Join(dir, "metrics-token"))
	cfg := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfg, []byte(example), 0o600)
	if out, errs, code := runIn(t, "config", "check", "--config", cfg); code != 0 {
		t.Fatalf("README example: %d\n%s%s", code, out, errs)
	}
}

// openConfigured loads the configuration at path as a wharf command does
// and opens its store (closed when the test ends) and archive.
func openConfigured(t *testing.T, path string) (*config.Config, store.Store, *archive.Archive) {
	t.Helper()
	c, err := (&commonFlags{config: path}).loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	st, a, err := app.OpenData(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return c, st, a
}
