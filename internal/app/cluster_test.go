package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"golang.org/x/crypto/ssh"
)

// A second instance on one PostgreSQL database with the default (local
// folder) archive would archive what it receives where the first cannot
// read it: it refuses to start while the other is alive, saying what to
// configure, and starts once the other has been silent past failover_after.
func TestLocalArchiveRefusedBesideALiveInstance(t *testing.T) {
	dsn := testenv.DSN(t, "Postgres")
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	st, err := store.Open(ctx, dsn, store.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.BeatInstance(ctx, &store.Instance{ID: "node1/4242/abcd", Host: "node1", PID: 4242, Version: "test"}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "wharf.yaml")
	os.WriteFile(cfgFile, []byte("data: "+filepath.Join(dir, "data")+"\nhttp: {addr: \"127.0.0.1:0\"}\nsftp: {addr: \"127.0.0.1:0\"}\ndatabase: {url: \""+dsn+"\"}\n"), 0o600)
	c := mustConfig(t, cfgFile)
	// 10 s after the other instance's heartbeat: it is alive.
	_, err = New(ctx, c, Options{Now: func() time.Time { return now.Add(10 * time.Second) }})
	if err == nil || !strings.Contains(err.Error(), "node1/4242/abcd") || !strings.Contains(err.Error(), "WHARF_ARCHIVE_URL") {
		t.Fatalf("second instance with a local archive: %v", err)
	}
	// This machine's own earlier run, killed (no such process), does not
	// count however recent its heartbeat.
	host, _ := os.Hostname()
	if err := st.BeatInstance(ctx, &store.Instance{ID: "here/1/dead", Host: host, PID: deadPID(t), Version: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RemoveInstance(ctx, "node1/4242/abcd"); err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, c, Options{Now: func() time.Time { return now.Add(time.Second) }})
	if err != nil {
		t.Fatalf("beside this machine's killed earlier run: %v", err)
	}
	a.Close()
	if err := st.BeatInstance(ctx, &store.Instance{ID: "node1/4242/abcd", Host: "node1", PID: 4242, Version: "test"}); err != nil {
		t.Fatal(err)
	}
	// 2 minutes after: it is gone, and this one may start.
	a, err = New(ctx, c, Options{Now: func() time.Time { return now.Add(2 * time.Minute) }})
	if err != nil {
		t.Fatalf("after the other instance went silent: %v", err)
	}
	a.Close()
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// With sftp.host_key_file, instances with different data folders present
// the same SSH host key (the configured one), so a partner that pinned it
// can log in to any of them; a file that is not a key is a config error.
func TestConfiguredHostKeyIsShared(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(priv, "shared host key")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "host_key"), pem.EncodeToMemory(blk), 0o600)
	want, _ := ssh.NewSignerFromKey(priv)
	load := func(data, extra string) (*config.Config, error) {
		cfg := filepath.Join(dir, data+".yaml")
		os.WriteFile(cfg, []byte("data: "+filepath.Join(dir, data)+"\nhttp: {addr: \"127.0.0.1:0\"}\nsftp: {addr: \"127.0.0.1:0\", host_key_file: "+extra+"}\n"), 0o600)
		return loadConfig(cfg)
	}
	for _, data := range []string{"one", "two"} {
		c, err := load(data, "host_key")
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(context.Background(), c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := ssh.FingerprintSHA256(a.hostKey.PublicKey())
		a.Close()
		if got != ssh.FingerprintSHA256(want.PublicKey()) {
			t.Errorf("instance %s presents %s, not the configured key", data, got)
		}
	}
	os.WriteFile(filepath.Join(dir, "not_a_key"), []byte("hello\n"), 0o600)
	if _, err := load("three", "not_a_key"); err == nil || !strings.Contains(err.Error(), "sftp.host_key_file") {
		t.Fatalf("a file that is not a key: %v", err)
	}
}
