package sftp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
	"github.com/wharfedi/wharf/transports/transporttest"
)

func dial(t *testing.T, d *testenv.SSHD, root string) *wsftp.Client {
	t.Helper()
	c, err := wsftp.Dial(context.Background(), wsftp.ClientConfig{
		Partner: "carrier", Host: d.Host, Port: d.Port, User: d.User, Key: d.UserKey, HostKey: d.HostKey, Root: root,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientConformanceAgainstOpenSSH(t *testing.T) {
	d := testenv.StartSSHD(t)
	n := 0
	transporttest.Exercise(t, func(t *testing.T) transports.Transport {
		n++
		root := filepath.Join(d.Dir, "t"+strings.Repeat("x", n))
		os.MkdirAll(root, 0o755)
		return dial(t, d, root)
	})
}

func TestClientRefusesAnotherHostKey(t *testing.T) {
	d := testenv.StartSSHD(t)
	other := testenv.StartSSHD(t) // same user key not accepted there, but the host key check comes first
	_, err := wsftp.Dial(context.Background(), wsftp.ClientConfig{
		Partner: "carrier", Host: d.Host, Port: d.Port, User: d.User, Key: d.UserKey, HostKey: other.HostKey,
	})
	if !errors.Is(err, wsftp.ErrHostKeyMismatch) || !strings.Contains(err.Error(), "partner carrier") || !strings.Contains(err.Error(), "is pinned; refusing to connect") {
		t.Fatalf("want a clear host key mismatch, got %v", err)
	}
	_, err = wsftp.Dial(context.Background(), wsftp.ClientConfig{Partner: "carrier", Host: d.Host, Port: d.Port, User: d.User, Key: d.UserKey})
	if err == nil || !strings.Contains(err.Error(), "no pinned host key") {
		t.Fatalf("unpinned: %v", err)
	}
}
