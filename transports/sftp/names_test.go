package sftp

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"

	"github.com/wharfedi/wharf/transports"
)

// keep is a transports.Receiver that keeps what it archives, and the
// names of those it was not told a sender waits for.
type keep struct {
	mu        sync.Mutex
	got       map[string]string
	unawaited []string
}

func (k *keep) Receive(_ context.Context, in transports.Incoming, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.got[in.RemoteName] = string(b)
	if !in.Awaited {
		k.unawaited = append(k.unawaited, in.RemoteName)
	}
	return "m1", err
}

func (k *keep) names() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for n := range k.got {
		out = append(out, n)
	}
	return out
}

type pipe struct {
	io.Reader
	io.WriteCloser
}

// session serves one partner's session over in-memory pipes to a pkg/sftp client.
func session(t *testing.T, rc transports.Receiver) *sftp.Client {
	t.Helper()
	return sessionWith(t, ServerOptions{Partner: "acme", Receiver: rc})
}

// sessionWith serves a session with o (and a spool folder of its own
// unless o names one) over in-memory pipes to a pkg/sftp client.
func sessionWith(t *testing.T, o ServerOptions) *sftp.Client {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	sess := NewSession(o)
	rs := sftp.NewRequestServer(pipe{sr, sw}, sess.Handlers())
	done := make(chan struct{})
	go func() { rs.Serve(); sess.Discard(); rs.Close(); close(done) }()
	c, err := sftp.NewClientPipe(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cw.Close(); <-done })
	return c
}

func put(c *sftp.Client, name, body string) error {
	f, err := c.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(body)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// denied: pkg/sftp's client turns SSH_FX_PERMISSION_DENIED into
// os.ErrPermission (the server's message is checked in TestUploadDotNameStatus).
func denied(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("%s: got %v, want permission denied", what, err)
	}
}

// A name starting with "." (not a temporary name) is refused when the
// upload is opened, and as a rename target, so no CLOSE or rename answers
// OK for a file that is never archived. Temporary names, dot-prefixed ones
// included, are staged and archived under the final name they are renamed to.
func TestUploadDotNames(t *testing.T) {
	rc := &keep{got: map[string]string{}}
	c := session(t, rc)

	denied(t, "upload to .ORDERS.edi", put(c, "inbound/.ORDERS.edi", "ISA"))
	if _, err := c.Stat("inbound/.ORDERS.edi"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused upload is listed: %v", err)
	}

	// Wharf's own client's temporary name: staged, then archived on rename.
	if err := put(c, "inbound/.ORDERS.edi.1a2b.part", "ISA*1"); err != nil {
		t.Fatalf("temporary upload: %v", err)
	}
	if n := rc.names(); len(n) != 0 {
		t.Fatalf("a temporary upload was archived before its rename: %v", n)
	}
	denied(t, "rename to .ORDERS.edi", c.Rename("inbound/.ORDERS.edi.1a2b.part", "inbound/.ORDERS.edi"))
	// The refused rename left it staged: renaming it right succeeds.
	if err := c.PosixRename("inbound/.ORDERS.edi.1a2b.part", "inbound/ORDERS.edi"); err != nil {
		t.Fatalf("rename to the final name: %v", err)
	}
	if got := rc.got["inbound/ORDERS.edi"]; got != "ISA*1" || len(rc.names()) != 1 {
		t.Fatalf("archived: %v", rc.got)
	}

	// Other temporary names and plain names work as before.
	if err := put(c, "inbound/B.edi.filepart", "ISA*2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("inbound/B.edi.filepart", "inbound/B.edi"); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "inbound/C.edi", "ISA*3"); err != nil {
		t.Fatal(err)
	}
	if rc.got["inbound/B.edi"] != "ISA*2" || rc.got["inbound/C.edi"] != "ISA*3" || len(rc.names()) != 3 {
		t.Fatalf("archived: %v", rc.got)
	}
}

// The status a client gets for a dot name is permission denied with a
// message saying what to do (WinSCP and FileZilla show it).
func TestUploadDotNameStatus(t *testing.T) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	sess := NewSession(ServerOptions{Partner: "acme", Receiver: &keep{got: map[string]string{}}, SpoolDir: t.TempDir()})
	rs := sftp.NewRequestServer(pipe{sr, sw}, sess.Handlers())
	done := make(chan struct{})
	go func() { rs.Serve(); rs.Close(); close(done) }()
	defer func() { cw.Close(); <-done }()
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	str := func(s string) []byte { return append(u32(uint32(len(s))), s...) }
	send := func(typ byte, fields ...[]byte) {
		body := []byte{typ}
		for _, f := range fields {
			body = append(body, f...)
		}
		cw.Write(append(u32(uint32(len(body))), body...))
	}
	read := func() []byte {
		var l [4]byte
		if _, err := io.ReadFull(cr, l[:]); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, binary.BigEndian.Uint32(l[:]))
		if _, err := io.ReadFull(cr, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	send(1, u32(3)) // INIT
	read()
	const write, creat, trunc = 0x02, 0x08, 0x10
	send(3, u32(7), str("/inbound/.ORDERS.edi"), u32(write|creat|trunc), u32(0)) // OPEN
	p := read()
	if p[0] != 101 || binary.BigEndian.Uint32(p[1:]) != 7 {
		t.Fatalf("OPEN of a dot name answered %q, want a STATUS", p)
	}
	code := binary.BigEndian.Uint32(p[5:])
	msg := string(p[13 : 13+binary.BigEndian.Uint32(p[9:])])
	if code != 3 || !strings.Contains(msg, "inbound/.ORDERS.edi") || !strings.Contains(msg, `names starting with "." are not accepted`) || !strings.Contains(msg, ".part") {
		t.Fatalf("status %d %q, want 3 (permission denied) with the rule", code, msg)
	}
}
