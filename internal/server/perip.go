package server

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// MaxConnsPerIP is how many connections one address may hold open on the
// HTTP listener at once. Timeouts end slow requests (NewHTTPServer), but
// without a cap one host could hold every file descriptor meanwhile (200
// trickling connections held 75 s in a probe); a partner's AS2 server
// behind one NAT address needs a handful, not dozens.
const MaxConnsPerIP = 64

// LimitPerIP wraps ln so that a remote address holding max connections has
// its next ones closed at once (they fail at the client; nothing of the
// others is touched). A refusal is logged at most once a minute per address.
func LimitPerIP(ln net.Listener, max int, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &perIP{Listener: ln, max: max, log: log, open: map[string]int{}, logged: map[string]time.Time{}}
}

type perIP struct {
	net.Listener
	max    int
	log    *slog.Logger
	mu     sync.Mutex
	open   map[string]int
	logged map[string]time.Time
}

func (l *perIP) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		l.mu.Lock()
		if l.open[ip] >= l.max {
			last := l.logged[ip]
			now := time.Now()
			if now.Sub(last) > time.Minute {
				for other, at := range l.logged { // forget addresses not refused for a minute
					if now.Sub(at) > time.Minute {
						delete(l.logged, other)
					}
				}
				l.logged[ip] = now
			}
			l.mu.Unlock()
			c.Close()
			if now.Sub(last) > time.Minute {
				l.log.Warn("too many connections from one address; new ones are closed until some end", "listener", l.Addr().String(), "remote", ip, "max", l.max)
			}
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() {
			l.mu.Lock()
			if l.open[ip]--; l.open[ip] <= 0 {
				delete(l.open, ip)
			}
			l.mu.Unlock()
		}}, nil
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
