package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/testenv"
)

// sshKey writes an OpenSSH private key and its .pub beside it.
func sshKey(t *testing.T, path string) { testenv.SSHKey(t, path) }

// newSFTPClient is OpenSSH's sftp for the server started in dir, which
// trusts the host key the server generated there.
func newSFTPClient(t *testing.T, dir string, srv *serveProc) *sftpClient {
	t.Helper()
	hostKey, err := os.ReadFile(filepath.Join(dir, "wharf-data", "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	port := srv.sftp[strings.LastIndex(srv.sftp, ":")+1:]
	known := filepath.Join(dir, "known_hosts")
	os.WriteFile(known, []byte("[127.0.0.1]:"+port+" "+string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), 0o600)
	return &sftpClient{t: t, dir: dir, port: port, known: known}
}

// loadFile copies the corpus's multi-stop 204 to dir/load.edi and returns it.
func loadFile(t *testing.T, dir string) []byte {
	t.Helper()
	load, _ := os.ReadFile(corpusFile("004010/204.edi"))
	if len(load) == 0 {
		t.Fatal("corpus file missing: " + corpusFile("004010/204.edi"))
	}
	os.WriteFile(filepath.Join(dir, "load.edi"), load, 0o600)
	return load
}

type sftpClient struct {
	t     *testing.T
	dir   string
	port  string
	known string
}

// run runs OpenSSH's sftp in batch mode as user with key; it returns the
// output and whether sftp exited 0.
func (c *sftpClient) run(user, key string, cmds ...string) (string, bool) {
	c.t.Helper()
	batch := filepath.Join(c.dir, "batch-"+user)
	os.WriteFile(batch, []byte(strings.Join(cmds, "\n")+"\n"), 0o600)
	cmd := exec.Command("sftp", "-b", batch, "-P", c.port, "-i", key,
		"-o", "UserKnownHostsFile="+c.known, "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", user+"@127.0.0.1")
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func requireTool(t *testing.T, name, install string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		testenv.Missing(t, name, install, err)
	}
}

type archived struct {
	ID        string   `json:"id"`
	Direction string   `json:"direction"`
	SHA256    string   `json:"sha256"`
	Filename  string   `json:"filename"`
	Status    string   `json:"status"`
	Transport string   `json:"transport"`
	DocTypes  []string `json:"doc_types"`
}

func searchArchive(t *testing.T, dir string, args ...string) []archived {
	t.Helper()
	return searchIn(t, dir, nil, args...)
}

func TestSFTPServerWithOpenSSHClient(t *testing.T) {
	requireTool(t, "sftp", "apt-get install openssh-client")
	dir := t.TempDir()
	for _, k := range []string{"acme_key", "beta_key", "stranger_key"} {
		sshKey(t, filepath.Join(dir, k))
	}
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(`
partners:
  - id: acme
    x12_ids: ["14:SENDER000111111"]
    ssh_key_files: [acme_key.pub]
    sftp: {allow_delete: true}
  - id: beta
    ssh_key_files: [beta_key.pub]
    x12: {ack: "999"}
`), 0o600)
	srv := startServer(t, dir, nil, "--config", "wharf.yaml")
	defer srv.stop(t)

	c := newSFTPClient(t, dir, srv)

	load := loadFile(t, dir)
	sum := sha256.Sum256(load)

	// Upload, and every way out of the home refused.
	out, ok := c.run("acme", "acme_key",
		"put load.edi inbound/load.edi",
		"-put load.edi /etc/evil",
		"-put load.edi ../evil",
		"-put load.edi outbound/evil",
		"-mkdir inbound/sub",
		"-symlink inbound/load.edi outbound/link",
		"-get /etc/passwd passwd",
		"-get ../../../../etc/passwd passwd",
		"-cd /..",
		"pwd",
	)
	if !ok {
		t.Fatalf("sftp session failed:\n%s", out)
	}
	for _, want := range []string{`"/etc/evil": No such file`, `"/outbound/evil": Permission denied`, `mkdir "/inbound/sub": Permission denied`, `symlink`, `Permission denied`, `"/etc/passwd" not found`, "Remote working directory: /"} {
		if !strings.Contains(out, want) {
			t.Errorf("sftp output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "passwd")); err == nil {
		t.Fatal("a file outside the home was downloaded")
	}

	// Exactly one archived inbound message, byte for byte.
	ins := searchArchive(t, dir, "--partner", "acme")
	var in *archived
	for i := range ins {
		if ins[i].Direction == "in" {
			if in != nil {
				t.Fatalf("upload archived twice: %+v", ins)
			}
			in = &ins[i]
		}
	}
	if in == nil || in.SHA256 != hex.EncodeToString(sum[:]) || in.Transport != "sftp" || in.Filename != "inbound/load.edi" {
		t.Fatalf("archived inbound: %+v", ins)
	}
	got, code := runCLI(t, dir, nil, "archive", "get", "--config", "wharf.yaml", in.ID)
	if code != 0 || got != string(load) {
		t.Fatalf("archive get differs from the upload (code %d)", code)
	}

	// The 997 appears in outbound/ once processed; a complete download
	// delivers it and it leaves the folder.
	waitFor(t, "the 997 in outbound/", func() bool {
		out, _ := c.run("acme", "acme_key", "ls outbound")
		return strings.Contains(out, "997_load.edi")
	})
	out, ok = c.run("acme", "acme_key", "get outbound/997_load.edi ack.edi", "ls -l outbound")
	if !ok {
		t.Fatalf("download: %s", out)
	}
	ack, _ := os.ReadFile(filepath.Join(dir, "ack.edi"))
	if !strings.HasPrefix(string(ack), "ISA*") || !strings.Contains(string(ack), "AK1*SM*204~\nAK2*204*0001~") || !strings.Contains(string(ack), "AK5*A~") {
		t.Fatalf("997:\n%s", ack)
	}
	if strings.Contains(out[strings.Index(out, "ls -l outbound"):], "997_load.edi") {
		t.Fatalf("a delivered document is still listed:\n%s", out)
	}
	outs := searchArchive(t, dir, "--partner", "acme")
	for _, a := range outs {
		if a.Direction == "out" && a.Status != "delivered" {
			t.Fatalf("downloaded 997 not delivered: %+v", a)
		}
		if a.Direction == "in" && (a.Status != "processed" || len(a.DocTypes) != 1 || a.DocTypes[0] != "204") {
			t.Fatalf("inbound not processed: %+v", a)
		}
	}

	// Mapped to canonical: the shipment's references are business keys.
	waitFor(t, "the mapped event", func() bool {
		ev, _ := runCLI(t, dir, nil, "archive", "events", "--config", "wharf.yaml", in.ID)
		return strings.Contains(ev, "mapped to canonical documents") && strings.Contains(ev, "1 shipment")
	})
	if byKey := searchArchive(t, dir, "--key", "666555"); len(byKey) != 1 || byKey[0].ID != in.ID {
		t.Fatalf("search by the shipment ID from L11*666555*SI: %+v", byKey)
	}

	// beta may not delete from outbound/; its bad file gets a rejecting 999.
	bad, _ := os.ReadFile(corpusFile("errors/214-se01-count.edi"))
	os.WriteFile(filepath.Join(dir, "bad.edi"), bad, 0o600)
	if out, ok := c.run("beta", "beta_key", "put bad.edi inbound/bad.edi"); !ok {
		t.Fatalf("beta upload: %s", out)
	}
	waitFor(t, "beta's 999", func() bool {
		out, _ := c.run("beta", "beta_key", "ls outbound")
		return strings.Contains(out, "999_bad.edi")
	})
	out, _ = c.run("beta", "beta_key", "-rm outbound/999_bad.edi", "get outbound/999_bad.edi ack999.edi")
	if !strings.Contains(out, "Permission denied") {
		t.Fatalf("beta deleted from outbound/:\n%s", out)
	}
	ack999, _ := os.ReadFile(filepath.Join(dir, "ack999.edi"))
	if !strings.Contains(string(ack999), "ST*999*") || !strings.Contains(string(ack999), "IK5*R") {
		t.Fatalf("999 for a set with a wrong SE01:\n%s", ack999)
	}
	// Why it was rejected is where people look: its history, an exception,
	// one WARN line naming the partner and the file.
	var badMsg archived
	for _, a := range searchArchive(t, dir, "--partner", "beta", "--direction", "in") {
		if a.Filename == "inbound/bad.edi" {
			badMsg = a
		}
	}
	ev, _ := runCLI(t, dir, nil, "archive", "events", "--config", "wharf.yaml", badMsg.ID)
	if badMsg.Status != "rejected" || !strings.Contains(ev, "SE01 is") || !strings.Contains(ev, "segments counted") || !strings.Contains(ev, "x12_rejected (exception ") {
		t.Fatalf("the rejected upload %+v says not why:\n%s", badMsg, ev)
	}
	if xs, _ := runCLI(t, dir, nil, "exceptions", "list", "--config", "wharf.yaml", "--partner", "beta"); !strings.Contains(xs, "x12_rejected") {
		t.Fatalf("no x12_rejected exception for beta:\n%s", xs)
	}
	warned := 0
	for _, l := range strings.Split(srv.logs.String(), "\n") {
		if strings.Contains(l, "WARN") && strings.Contains(l, "file rejected by validation") && strings.Contains(l, "partner=beta") && strings.Contains(l, "file=inbound/bad.edi") {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d WARN lines for the rejected upload, want 1; log:\n%s", warned, srv.logs.String())
	}

	// acme may delete a waiting document; the archive keeps it. The same
	// interchange again is a duplicate: its acknowledgment is a TA1, and
	// named so.
	if out, ok := c.run("acme", "acme_key", "put load.edi inbound/load2.edi"); !ok {
		t.Fatalf("second upload: %s", out)
	}
	waitFor(t, "the duplicate's TA1", func() bool {
		out, _ := c.run("acme", "acme_key", "ls outbound")
		return strings.Contains(out, "TA1_load2.edi")
	})
	if out, ok := c.run("acme", "acme_key", "rm outbound/TA1_load2.edi", "ls outbound"); !ok || strings.Contains(out[strings.Index(out, "ls outbound"):], "TA1_load2.edi") {
		t.Fatalf("acme delete: %v\n%s", ok, out)
	}

	// Keys that are not registered, or registered to another partner, are refused.
	if out, ok := c.run("acme", "stranger_key", "ls"); ok {
		t.Fatalf("an unregistered key logged in:\n%s", out)
	}
	if out, ok := c.run("acme", "beta_key", "ls"); ok {
		t.Fatalf("beta's key logged in as acme:\n%s", out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The same file name uploaded twice, the second time a duplicate
// interchange: outbound/ holds the 997 of the first and, under its own
// name, the TA1 rejecting the second; the partner's get of 997_load.edi
// is the 997.
func TestSFTPDuplicateUploadAckNames(t *testing.T) {
	requireTool(t, "sftp", "apt-get install openssh-client")
	dir := t.TempDir()
	sshKey(t, filepath.Join(dir, "acme_key"))
	os.WriteFile(filepath.Join(dir, "wharf.yaml"), []byte(`
partners:
  - id: acme
    x12_ids: ["14:SENDER000111111"]
    ssh_key_files: [acme_key.pub]
`), 0o600)
	srv := startServer(t, dir, nil, "--config", "wharf.yaml")
	defer srv.stop(t)
	c := newSFTPClient(t, dir, srv)
	loadFile(t, dir)

	listing := func() []string {
		out, _ := c.run("acme", "acme_key", "ls -1 outbound")
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "outbound/") {
				names = append(names, strings.TrimPrefix(l, "outbound/"))
			}
		}
		return names
	}
	if out, ok := c.run("acme", "acme_key", "put load.edi inbound/load.edi"); !ok {
		t.Fatalf("upload: %s", out)
	}
	waitFor(t, "the 997", func() bool { return len(listing()) == 1 })
	if out, ok := c.run("acme", "acme_key", "put load.edi inbound/load.edi"); !ok {
		t.Fatalf("second upload: %s", out)
	}
	var names []string
	var ta1 string
	waitFor(t, "the duplicate's TA1 beside the 997", func() bool {
		names, ta1 = listing(), ""
		for _, n := range names {
			if strings.HasPrefix(n, "TA1_load.") && strings.HasSuffix(n, ".edi") {
				ta1 = n
			}
		}
		return len(names) == 2 && ta1 != ""
	})
	if !strings.Contains(strings.Join(names, " "), "997_load.edi") {
		t.Fatalf("outbound/: %v", names)
	}
	if out, ok := c.run("acme", "acme_key", "get outbound/997_load.edi 997.edi", "get outbound/"+ta1+" ta1.edi"); !ok {
		t.Fatalf("downloads: %s", out)
	}
	ack, _ := os.ReadFile(filepath.Join(dir, "997.edi"))
	rej, _ := os.ReadFile(filepath.Join(dir, "ta1.edi"))
	if !strings.Contains(string(ack), "ST*997*") || !strings.Contains(string(ack), "AK5*A~") || strings.Contains(string(ack), "TA1*") {
		t.Fatalf("997_load.edi:\n%s", ack)
	}
	if !strings.Contains(string(rej), "TA1*") || !strings.Contains(string(rej), "*R*025~") || strings.Contains(string(rej), "ST*997*") {
		t.Fatalf("%s:\n%s", ta1, rej)
	}
}
