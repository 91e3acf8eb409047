package sftp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// A server that accepts TCP and never sends its banner holds Dial until
// Timeout or until ctx ends, whichever comes first: a cancelled delivery
// (a stopping server) does not wait out the 30 s handshake bound. Found by
// faults.TestStuckPeers, whose SIGTERM waited for such handshakes.
func TestDialHonoursContextAgainstSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	sp, _ := ssh.NewPublicKey(pub)
	cfg := wsftp.ClientConfig{Partner: "stuck", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "u",
		Key: pem.EncodeToMemory(blk), HostKey: string(ssh.MarshalAuthorizedKey(sp)), Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = wsftp.Dial(ctx, cfg)
	if took := time.Since(began); err == nil || took > 5*time.Second {
		t.Fatalf("Dial to a silent server with a 300 ms context: %v after %s", err, took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial's error %v does not say the context ended", err)
	}

	cfg.Timeout = 300 * time.Millisecond
	began = time.Now()
	if _, err = wsftp.Dial(context.Background(), cfg); err == nil || time.Since(began) > 5*time.Second {
		t.Fatalf("Dial to a silent server with a 300 ms timeout: %v after %s", err, time.Since(began))
	}
}
