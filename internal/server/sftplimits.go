package server

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// SFTP packet types and the extension that limitsConn adds (OpenSSH's
// PROTOCOL file, section 4.8, "limits@openssh.com").
const (
	fxpVersion       = 2
	fxpExtended      = 200
	fxpExtendedReply = 201
	limitsExtension  = "limits@openssh.com"
)

// SFTP transfer sizes offered to clients through limits@openssh.com: the
// values OpenSSH's sftp-server offers. pkg/sftp accepts packets of up to
// 256 KiB (its maxMsgLength); the request server is told to answer reads
// of up to sftpMaxRead bytes (sftp.WithRSMaxTxPacket).
const (
	sftpMaxPacket = 256 << 10
	sftpMaxRead   = sftpMaxPacket - 1024
	sftpMaxWrite  = sftpMaxPacket - 1024
)

// limitsConn sits between an SSH channel and pkg/sftp's request server and
// adds the limits@openssh.com extension, which pkg/sftp (v1.13) neither
// offers nor lets a caller register. Without it OpenSSH's sftp client
// (8.7 and later) reads and writes 32 KiB per request; with it, like against
// OpenSSH's own server, 255 KiB: eight times fewer requests through the
// request server's goroutines for the same bytes.
//
// It announces the extension in the server's VERSION packet and answers the
// client's limits request itself; every other packet passes through
// unchanged, and without a copy except the first five bytes of each.
//
// Reads come from the request server's single reading goroutine; writes may
// come from any goroutine, and pkg/sftp writes a packet's header (length and
// type included) in one Write and its payload in at most one more, under its
// own lock. The limits reply is written between two packets.
type limitsConn struct {
	ch io.ReadWriteCloser

	// client to server (the reading goroutine only)
	hdr     [5]byte
	pending []byte // bytes to hand out before reading on
	left    uint32 // bytes of the current packet still to pass through

	// server to client
	wmu      sync.Mutex
	wcond    sync.Cond
	wleft    int   // bytes of the current packet still to be written
	werr     error // a failed write: the stream is broken
	versions int   // VERSION packets seen (only the first one is the reply to INIT)
}

func newLimitsConn(ch io.ReadWriteCloser) *limitsConn {
	c := &limitsConn{ch: ch}
	c.wcond.L = &c.wmu
	return c
}

var errSFTPFraming = errors.New("sftp: malformed packet framing")

func (c *limitsConn) Read(p []byte) (int, error) {
	for {
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			return n, nil
		}
		if c.left > 0 {
			if uint32(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.ch.Read(p)
			c.left -= uint32(n)
			return n, err
		}
		// At a packet boundary: its length and type.
		if _, err := io.ReadFull(c.ch, c.hdr[:]); err != nil {
			return 0, err
		}
		length := binary.BigEndian.Uint32(c.hdr[:4])
		if length == 0 {
			return 0, errSFTPFraming
		}
		if c.hdr[4] != fxpExtended || length > 1024 {
			c.pending, c.left = c.hdr[:], length-1
			continue
		}
		// A small extended request: read it whole and look at its name.
		pkt := make([]byte, 4+length)
		copy(pkt, c.hdr[:])
		if _, err := io.ReadFull(c.ch, pkt[5:]); err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		if id, ok := limitsRequest(pkt[5:]); ok {
			if err := c.writeBetweenPackets(limitsReply(id)); err != nil {
				return 0, err
			}
			continue
		}
		c.pending = pkt
	}
}

// limitsRequest tells whether an extended request's body (after the type)
// is a limits@openssh.com request, and returns its request ID.
func limitsRequest(b []byte) (id uint32, ok bool) {
	if len(b) < 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if uint64(n) > uint64(len(b)-8) || string(b[8:8+n]) != limitsExtension {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[:4]), true
}

func limitsReply(id uint32) []byte {
	b := make([]byte, 0, 4+1+4+4*8)
	b = binary.BigEndian.AppendUint32(b, 1+4+4*8)
	b = append(b, fxpExtendedReply)
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint64(b, sftpMaxPacket)
	b = binary.BigEndian.AppendUint64(b, sftpMaxRead)
	b = binary.BigEndian.AppendUint64(b, sftpMaxWrite)
	return binary.BigEndian.AppendUint64(b, 0) // open handles: not limited
}

// writeBetweenPackets writes a whole packet of ours when no packet of the
// request server is half written.
func (c *limitsConn) writeBetweenPackets(pkt []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for c.wleft != 0 && c.werr == nil {
		c.wcond.Wait()
	}
	if c.werr != nil {
		return c.werr
	}
	_, err := c.ch.Write(pkt)
	c.werr = err
	return err
}

func (c *limitsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	out := p
	if c.wleft > 0 && len(p) > c.wleft {
		c.werr = errSFTPFraming
		c.wcond.Broadcast()
		return 0, c.werr
	}
	if c.wleft == 0 {
		if len(p) < 5 {
			c.werr = errSFTPFraming
			return 0, c.werr
		}
		length := binary.BigEndian.Uint32(p[:4])
		c.wleft = 4 + int(length)
		if p[4] == fxpVersion && c.versions == 0 && len(p) == c.wleft {
			c.versions++
			out = withLimits(p)
			c.wleft = len(out)
		}
	}
	n, err := c.ch.Write(out)
	c.wleft -= n
	if err != nil {
		c.werr = err
		c.wcond.Broadcast()
		if n > len(p) {
			n = len(p)
		}
		return n, err
	}
	if c.wleft == 0 {
		c.wcond.Broadcast()
	}
	return len(p), nil
}

// withLimits returns the VERSION packet with the limits extension added.
func withLimits(p []byte) []byte {
	out := make([]byte, 0, len(p)+8+len(limitsExtension)+1)
	out = append(out, p...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(limitsExtension)))
	out = append(out, limitsExtension...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = append(out, '1')
	binary.BigEndian.PutUint32(out[:4], uint32(len(out)-4))
	return out
}

func (c *limitsConn) Close() error {
	c.wmu.Lock()
	if c.werr == nil {
		c.werr = io.ErrClosedPipe
	}
	c.wcond.Broadcast()
	c.wmu.Unlock()
	return c.ch.Close()
}
