package server

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/wharfedi/wharf/transports"
	wsftp "github.com/wharfedi/wharf/transports/sftp"
)

// SFTPSession is a live, authenticated SFTP connection of this server.
type SFTPSession = transports.SFTPSession

// liveConn is one authenticated connection: its totals of finished SFTP
// subsystem sessions and those still running.
type liveConn struct {
	SFTPSession
	sc     *ssh.ServerConn
	total  *sessionTotals
	mu     sync.Mutex
	active map[*wsftp.Session]bool
}

func (c *liveConn) add(s *wsftp.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active[s] = true
}

// done moves a finished SFTP session's transfers into the connection's totals.
func (c *liveConn) done(s *wsftp.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.active, s)
	c.total.add(s.Totals())
}

func (c *liveConn) snapshot() SFTPSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.SFTPSession
	t := c.total.get()
	for s := range c.active {
		t = plus(t, s.Totals())
	}
	out.Uploads, out.UploadBytes, out.Downloads, out.DownloadBytes = t.Uploads, t.UploadBytes, t.Downloads, t.DownloadBytes
	return out
}

func newConnID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *SFTP) register(c *liveConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[c.ID] = c
}

func (s *SFTP) unregister(c *liveConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, c.ID)
}

// Sessions lists the live SFTP connections of this server, oldest first,
// with their transfers so far (those of uploads still being written are
// counted once archived).
func (s *SFTP) Sessions() []SFTPSession {
	s.mu.Lock()
	conns := make([]*liveConn, 0, len(s.live))
	for _, c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]SFTPSession, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.snapshot())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// EndSessions closes the partner's live SFTP connections (it was
// disabled) and returns how many it closed. An upload in progress is not
// archived: the client sees the connection drop and must not assume it
// arrived.
func (s *SFTP) EndSessions(partner string) int {
	s.mu.Lock()
	var conns []*liveConn
	for _, c := range s.live {
		if c.Partner == partner {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.log.Warn("sftp session ended: the partner was disabled", "partner", partner, "remote", c.Remote)
		_ = c.sc.Close()
	}
	return len(conns)
}
