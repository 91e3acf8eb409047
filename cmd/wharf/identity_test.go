package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// A cluster's identity: created once (init keeps what exists), and every
// configuration that points at the files shows the same fingerprints as
// the folder itself; show creates nothing.
func TestIdentityInitAndShow(t *testing.T) {
	dir := t.TempDir()
	idDir := filepath.Join(dir, "identity")
	out1, code := runCLI(t, dir, nil, "identity", "init", "--dir", idDir, "--as2-id", "WHARF-PROD")
	if code != 0 || !strings.Contains(out1, "host_key_file: "+filepath.Join(idDir, "ssh_host_ed25519_key")) {
		t.Fatalf("init: %d\n%s", code, out1)
	}
	out2, code := runCLI(t, dir, nil, "identity", "init", "--dir", idDir, "--as2-id", "WHARF-PROD")
	if code != 0 || out2 != out1 {
		t.Fatalf("a second init changed the identity:\n%s\n---\n%s", out1, out2)
	}
	cfg := "sftp:\n  host_key_file: " + filepath.Join(idDir, "ssh_host_ed25519_key") + "\nas2:\n  id: WHARF-PROD\n  cert_file: " +
		filepath.Join(idDir, "as2_cert.pem") + "\n  key_file: " + filepath.Join(idDir, "as2_key.pem") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) identityFacts {
		t.Helper()
		out, code := runCLI(t, dir, nil, append([]string{"identity", "show", "--json"}, args...)...)
		var f identityFacts
		if code != 0 || json.Unmarshal([]byte(out), &f) != nil {
			t.Fatalf("show %v: %d\n%s", args, code, out)
		}
		return f
	}
	viaConfig := show("--config", "wharf.yaml", "--data", filepath.Join(dir, "node1"))
	viaFolder := show("--data", idDir)
	if viaConfig.SSH.Fingerprint == "" || viaConfig.SSH.Fingerprint != viaFolder.SSH.Fingerprint ||
		viaConfig.AS2.Fingerprint == "" || viaConfig.AS2.Fingerprint != viaFolder.AS2.Fingerprint || viaConfig.AS2.ID != "WHARF-PROD" {
		t.Fatalf("identity through the config %+v, in the folder %+v", viaConfig, viaFolder)
	}
	if !strings.Contains(out1, viaConfig.SSH.Fingerprint) || !strings.Contains(out1, viaConfig.AS2.Fingerprint) {
		t.Errorf("init's report does not name the fingerprints show prints:\n%s", out1)
	}
	empty := show("--data", filepath.Join(dir, "empty"))
	if empty.SSH.Fingerprint != "" || empty.AS2.Fingerprint != "" {
		t.Errorf("show on an empty data folder: %+v", empty)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty", "ssh_host_ed25519_key")); err == nil {
		t.Error("show created a host key")
	}
}

// docker-compose.yml runs two instances on examples/compose/wharf.yaml and
// the identity the compose service `identity` creates: that configuration
// must load and resolve to that identity (no Docker engine runs here, so
// this is what keeps the compose file in step).
func TestComposeClusterConfig(t *testing.T) {
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(compose), "./examples/compose/wharf.yaml:/etc/wharf/wharf.yaml:ro"); n != 2 {
		t.Fatalf("docker-compose.yml mounts examples/compose/wharf.yaml into %d instances, want 2", n)
	}
	if !strings.Contains(string(compose), `command: ["identity", "init", "--dir", "/var/lib/wharf-identity"`) {
		t.Fatal("docker-compose.yml does not create the identity in /var/lib/wharf-identity")
	}
	example, err := os.ReadFile("../../examples/compose/wharf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idDir := filepath.Join(dir, "identity")
	if out, code := runCLI(t, dir, nil, "identity", "init", "--dir", idDir, "--as2-id", "wharf"); code != 0 {
		t.Fatalf("identity init: %s", out)
	}
	// The compose secrets, where the containers see them (/run/secrets/NAME).
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Secrets map[string]struct{ File string } `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(compose, &doc); err != nil || len(doc.Secrets) < 4 {
		t.Fatalf("docker-compose.yml: %v; %d secrets, want 4", err, len(doc.Secrets))
	}
	for name, sec := range doc.Secrets {
		b, err := os.ReadFile(filepath.Join("..", "..", sec.File))
		if err != nil {
			t.Fatalf("docker-compose.yml: secret %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(secrets, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.ReplaceAll(string(example), "/var/lib/wharf-identity", idDir)
	cfg = strings.ReplaceAll(cfg, "/run/secrets", secrets)
	if err := os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, dir, []string{"WHARF_DATABASE_URL="}, "config", "check", "--config", "wharf.yaml"); code != 0 || !strings.Contains(out, "database:  postgres (from url_file)") {
		t.Fatalf("config check of examples/compose/wharf.yaml: %s", out)
	}
	// The long-running services restart and have a health check; no
	// password or token is written in the compose file itself.
	services := string(compose)[strings.Index(string(compose), "\nservices:\n"):]
	for _, svc := range []string{"postgres", "minio", "wharf"} {
		body := services[strings.Index(services, "\n  "+svc+":")+1:]
		if k := regexp.MustCompile(`\n  \S`).FindStringIndex(body); k != nil {
			body = body[:k[0]]
		}
		if !strings.Contains(body, "healthcheck:") || !strings.Contains(body, "restart: unless-stopped") {
			t.Errorf("docker-compose.yml: service %s lacks a health check or restart: unless-stopped", svc)
		}
	}
	if strings.Contains(string(compose), "wharf-local-only") {
		t.Error("docker-compose.yml holds a password: keep it in examples/compose/secrets/")
	}
	for _, node := range []string{"node1", "node2"} {
		out, code := runCLI(t, dir, nil, "identity", "show", "--json", "--config", "wharf.yaml", "--data", filepath.Join(dir, node))
		var f identityFacts
		if code != 0 || json.Unmarshal([]byte(out), &f) != nil || f.SSH.Fingerprint == "" || f.AS2.Fingerprint == "" ||
			!strings.Contains(f.SSH.Source, idDir) || !strings.Contains(f.AS2.Source, idDir) {
			t.Fatalf("%s: %d %s", node, code, out)
		}
	}
}
