package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports"
)

// pipeConn is one end of two in-memory pipes.
type pipeConn struct {
	io.Reader
	io.WriteCloser
}

// servePipe runs a request server (in-memory files) behind limitsConn and
// returns the client's end.
func servePipe(t *testing.T) (r io.Reader, w io.WriteCloser) {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	rs := sftp.NewRequestServer(newLimitsConn(pipeConn{sr, sw}), sftp.InMemHandler(), requestServerOptions...)
	done := make(chan struct{})
	go func() { rs.Serve(); rs.Close(); close(done) }()
	t.Cleanup(func() { cw.Close(); <-done })
	return cr, cw
}

func readPacket(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, binary.BigEndian.Uint32(l[:]))
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func packet(typ byte, fields ...[]byte) []byte {
	body := []byte{typ}
	for _, f := range fields {
		body = append(body, f...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func TestSFTPLimitsExtension(t *testing.T) {
	r, w := servePipe(t)
	w.Write(packet(1, u32(3))) // INIT, version 3
	v := readPacket(t, r)
	if v[0] != fxpVersion || !bytes.Contains(v, append(str(limitsExtension), str("1")...)) {
		t.Fatalf("VERSION does not offer %s: %q", limitsExtension, v)
	}
	// statvfs, which pkg/sftp answers (an extended request that must pass
	// through), then limits, which limitsConn answers.
	w.Write(packet(fxpExtended, u32(7), str("statvfs@openssh.com"), str("/")))
	w.Write(packet(fxpExtended, u32(8), str(limitsExtension)))
	got := map[uint32][]byte{}
	for range 2 {
		p := readPacket(t, r)
		got[binary.BigEndian.Uint32(p[1:5])] = p
	}
	if p := got[7]; p == nil || p[0] != fxpExtendedReply {
		t.Fatalf("statvfs reply: %q", p)
	}
	p := got[8]
	if p == nil || p[0] != fxpExtendedReply || len(p) != 1+4+32 {
		t.Fatalf("limits reply: %q", p)
	}
	lim := []uint64{binary.BigEndian.Uint64(p[5:]), binary.BigEndian.Uint64(p[13:]), binary.BigEndian.Uint64(p[21:]), binary.BigEndian.Uint64(p[29:])}
	if lim[0] != sftpMaxPacket || lim[1] != sftpMaxRead || lim[2] != sftpMaxWrite || lim[3] != 0 {
		t.Fatalf("limits: %v", lim)
	}
}

// A client writing and reading with the offered sizes, many requests in
// flight: every byte passes limitsConn unchanged.
func TestSFTPLimitsLargePackets(t *testing.T) {
	r, w := servePipe(t)
	c, err := sftp.NewClientPipe(r, w, sftp.MaxPacketUnchecked(sftpMaxWrite), sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 5<<20+12345)
	rand.Read(data)
	f, err := c.Create("/big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = c.Open("/big")
	if err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := f.WriteTo(&back); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(back.Bytes(), data) {
		t.Fatalf("read back %d bytes, not the %d written", back.Len(), len(data))
	}
}

// receiver keeps what it is handed.
type receiver struct {
	mu  sync.Mutex
	got map[string][]byte
}

func (rc *receiver) Receive(_ context.Context, in transports.Incoming, r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	rc.mu.Lock()
	rc.got[in.RemoteName] = b
	rc.mu.Unlock()
	return "m1", err
}

// openSSHRig is Wharf's SFTP server on loopback with partner acme, whose
// key OpenSSH's sftp uses, and a receiver that keeps what was archived.
type openSSHRig struct {
	dir, key, known string
	port            int
	srv             *SFTP
	rc              *receiver
}

func newOpenSSHRig(t *testing.T, opts ...func(*SFTPOptions)) *openSSHRig {
	t.Helper()
	if _, err := exec.LookPath("sftp"); err != nil {
		testenv.Missing(t, "sftp", "apt-get install openssh-client", err)
	}
	ctx := context.Background()
	r := &openSSHRig{dir: t.TempDir(), rc: &receiver{got: map[string][]byte{}}}
	st, err := store.Open(ctx, filepath.Join(r.dir, "wharf.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	r.key = filepath.Join(r.dir, "key")
	os.WriteFile(r.key, pem.EncodeToMemory(blk), 0o600)
	sp, _ := ssh.NewPublicKey(pub)
	if err := st.UpsertPartner(ctx, &store.Partner{ID: "acme", SSHKeys: []string{string(ssh.MarshalAuthorizedKey(sp))}}); err != nil {
		t.Fatal(err)
	}
	hostKey, _ := LoadOrCreateHostKey(r.dir)
	o := SFTPOptions{Receiver: r.rc, SpoolDir: filepath.Join(r.dir, "spool"), Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	r.srv = NewSFTP(st, hostKey, o)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	r.port = ln.Addr().(*net.TCPAddr).Port
	r.known = filepath.Join(r.dir, "known_hosts")
	os.WriteFile(r.known, []byte("[127.0.0.1]:"+strconv.Itoa(r.port)+" "+string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))), 0o600)
	return r
}

// sftp runs OpenSSH's sftp as acme with the batch commands, in the rig's folder.
func (r *openSSHRig) sftp(batch []string, flags ...string) ([]byte, error) {
	os.WriteFile(filepath.Join(r.dir, "batch"), []byte(strings.Join(batch, "\n")+"\n"), 0o600)
	args := append(flags, "-b", "batch", "-P", strconv.Itoa(r.port), "-i", r.key, "-o", "UserKnownHostsFile="+r.known,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "acme@127.0.0.1")
	cmd := exec.Command("sftp", args...)
	cmd.Dir = r.dir
	return cmd.CombinedOutput()
}

// OpenSSH's sftp client sees the limits and uploads in 255 KiB requests.
func TestSFTPOpenSSHClientUsesLimits(t *testing.T) {
	r := newOpenSSHRig(t)
	data := make([]byte, 3<<20+777)
	rand.Read(data)
	os.WriteFile(filepath.Join(r.dir, "up.bin"), data, 0o600)
	out, err := r.sftp([]string{"put up.bin inbound/up.bin"}, "-vvv")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	// OpenSSH 8.7 and later ask for the limits (Debian 12 has 9.2).
	if !strings.Contains(string(out), "using 261120 / 261120") {
		t.Errorf("the client did not take the offered transfer sizes:\n%s", out)
	}
	r.rc.mu.Lock()
	defer r.rc.mu.Unlock()
	if !bytes.Equal(r.rc.got["inbound/up.bin"], data) {
		t.Fatalf("received %d bytes, not the %d uploaded", len(r.rc.got["inbound/up.bin"]), len(data))
	}
}
