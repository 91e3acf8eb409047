package sftp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/transports"
)

// ClientConfig says how to reach a partner's SFTP server.
type ClientConfig struct {
	Partner string // for error messages
	Host    string
	Port    int // default 22
	User    string
	// Key is the private key (OpenSSH or PEM format).
	Key []byte
	// HostKey is the pinned public host key, in authorized_keys format.
	// Connecting to a server that presents another key is refused.
	HostKey string
	// Root is the folder every name is relative to ("" for the login folder).
	Root    string
	Timeout time.Duration // dial and handshake; default 30 s
}

// Client is an SFTP connection to a partner's server. It implements
// transports.Transport and transports.Renamer.
type Client struct {
	cfg  ClientConfig
	ssh  *ssh.Client
	sftp *sftp.Client
}

var (
	_ transports.Transport = (*Client)(nil)
	_ transports.Renamer   = (*Client)(nil)
)

// ErrHostKeyMismatch: the server presented a host key other than the pinned one.
var ErrHostKeyMismatch = errors.New("host key mismatch")

// Dial connects and authenticates.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	where := fmt.Sprintf("sftp: partner %s at %s", cfg.Partner, addr)
	signer, err := ssh.ParsePrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: private key: %w", where, err)
	}
	if cfg.HostKey == "" {
		return nil, fmt.Errorf("%s: no pinned host key: refusing to connect unverified (set host_key; ssh-keyscan -p %d %s shows it)", where, cfg.Port, cfg.Host)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(cfg.HostKey))
	if err != nil {
		return nil, fmt.Errorf("%s: pinned host key: %w", where, err)
	}
	var presented ssh.PublicKey
	conf := &ssh.ClientConfig{
		User: cfg.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			presented = key
			if string(key.Marshal()) != string(pinned.Marshal()) {
				return ErrHostKeyMismatch
			}
			return nil
		},
		HostKeyAlgorithms: []string{pinned.Type()},
		Timeout:           cfg.Timeout,
	}
	d := net.Dialer{Timeout: cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// The handshake and the SFTP session's start are bounded by Timeout and
	// by ctx: a server that accepts and never answers must not hold a
	// delivery (or a shutdown waiting for it) past either.
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, conf)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w (%w)", where, ctx.Err(), err)
		}
		if errors.Is(err, ErrHostKeyMismatch) && presented != nil {
			return nil, fmt.Errorf("%s: %w: the server presented %s but %s is pinned; refusing to connect (if the partner really changed its key, update host_key after checking with them)",
				where, ErrHostKeyMismatch, ssh.FingerprintSHA256(presented), ssh.FingerprintSHA256(pinned))
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	sc := ssh.NewClient(c, chans, reqs)
	sf, err := sftp.NewClient(sc, sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("%s: start sftp: %w", where, err)
	}
	if !stop() { // ctx ended as the session started: the deadline may be set
		sf.Close()
		sc.Close()
		return nil, fmt.Errorf("%s: %w", where, ctx.Err())
	}
	_ = conn.SetDeadline(time.Time{})
	return &Client{cfg: cfg, ssh: sc, sftp: sf}, nil
}

func (c *Client) path(name string) string {
	if c.cfg.Root == "" {
		return name
	}
	return path.Join(c.cfg.Root, name)
}

// translate maps SFTP errors to the transports sentinels, naming the partner.
func (c *Client) translate(op, name string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("%w: %w", transports.ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission):
		err = fmt.Errorf("%w: %w", transports.ErrPermission, err)
	}
	return fmt.Errorf("sftp: partner %s: %s %s: %w", c.cfg.Partner, op, c.path(name), err)
}

// List returns the regular files directly inside dir.
func (c *Client) List(ctx context.Context, dir string) ([]transports.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	infos, err := c.sftp.ReadDir(c.path(dir))
	if err != nil {
		return nil, c.translate("list", dir, err)
	}
	var out []transports.Object
	for _, fi := range infos {
		if !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, transports.Object{Name: path.Join(dir, fi.Name()), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// Open streams a remote file.
func (c *Client) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := c.sftp.Open(c.path(name))
	if err != nil {
		return nil, c.translate("open", name, err)
	}
	return &ctxReader{ctx: ctx, f: f}, nil
}

type ctxReader struct {
	ctx context.Context
	f   *sftp.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

func (r *ctxReader) WriteTo(w io.Writer) (int64, error) {
	// sftp.File.WriteTo reads with concurrent requests; honour cancellation per chunk.
	return r.f.WriteTo(&ctxWriter{ctx: r.ctx, w: w})
}

func (r *ctxReader) Close() error { return r.f.Close() }

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// Put uploads under a temporary name in the same folder, then renames it
// to name: the partner never sees a partial file under the final name.
func (c *Client) Put(ctx context.Context, name string, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+"."+hex.EncodeToString(rnd[:])+".part")
	f, err := c.sftp.OpenFile(c.path(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return c.translate("put", tmp, err)
	}
	_, err = f.ReadFrom(&ctxReaderOf{ctx: ctx, r: r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = c.sftp.Remove(c.path(tmp))
		return c.translate("put", name, err)
	}
	if err := c.rename(tmp, name); err != nil {
		_ = c.sftp.Remove(c.path(tmp))
		return err
	}
	return nil
}

type ctxReaderOf struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReaderOf) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Rename moves a remote file, replacing the target where the server allows.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.rename(from, to)
}

func (c *Client) rename(from, to string) error {
	// posix-rename@openssh.com replaces an existing target atomically; plain
	// SFTP rename fails when the target exists.
	if _, ok := c.sftp.HasExtension("posix-rename@openssh.com"); ok {
		return c.translate("rename", from, c.sftp.PosixRename(c.path(from), c.path(to)))
	}
	return c.translate("rename", from, c.sftp.Rename(c.path(from), c.path(to)))
}

// Remove deletes a remote file.
func (c *Client) Remove(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.translate("remove", name, c.sftp.Remove(c.path(name)))
}

// MkdirAll creates a remote folder and its parents.
func (c *Client) MkdirAll(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.translate("mkdir", dir, c.sftp.MkdirAll(c.path(dir)))
}

// Close ends the session.
func (c *Client) Close() error {
	c.sftp.Close()
	return c.ssh.Close()
}
