package faults

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// proxyMode is what a faultProxy does to the traffic it forwards.
type proxyMode int

const (
	proxyPass   proxyMode = iota // forward
	proxyDown                    // refuse: close new connections at once, cut open ones
	proxySlow                    // forward, waiting latency before each chunk in either direction
	proxyResets                  // forward, but reset a fraction of new connections mid-stream
)

func (m proxyMode) String() string {
	return [...]string{"pass", "down", "slow", "resets"}[m]
}

// faultProxy is a TCP proxy between Wharf and a peer (the archive's S3
// server) whose behaviour the test switches while the load runs.
type faultProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	mode      proxyMode
	latency   time.Duration
	resetFrac float64
	conns     map[net.Conn]struct{}
	accepted  int
	refused   int
	reset     int
}

func startProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// set switches the mode; down and resets cut the connections open now
// (a client's kept-alive connections would otherwise escape the fault).
func (p *faultProxy) set(m proxyMode, latency time.Duration, resetFrac float64) {
	p.mu.Lock()
	p.mode, p.latency, p.resetFrac = m, latency, resetFrac
	p.mu.Unlock()
	if m == proxyDown || m == proxyResets {
		p.cut()
	}
}

// cut resets every open connection.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		abort(c)
		delete(p.conns, c)
	}
}

// abort closes c with a TCP reset rather than an orderly FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (p *faultProxy) stats() (accepted, refused, reset int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused, p.reset
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, frac := p.mode, p.resetFrac
		if mode == proxyDown {
			p.refused++
			p.mu.Unlock()
			abort(c)
			continue
		}
		p.accepted++
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.forward(c, mode == proxyResets && rand.Float64() < frac)
	}
}

// forward pipes c to the target; with doom set, it resets both sides once
// the first chunk from the client is forwarded (the request went out, its
// answer never comes back).
func (p *faultProxy) forward(c net.Conn, doom bool) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		abort(c)
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, up)
		p.mu.Unlock()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c, doom, c); done <- struct{}{} }()
	go func() { p.copy(c, up, false, nil); done <- struct{}{} }()
	<-done
	abort(c)
	abort(up)
	<-done
}

func (p *faultProxy) copy(dst, src net.Conn, doom bool, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lat := time.Duration(0)
			if p.mode == proxySlow {
				lat = p.latency
			}
			p.mu.Unlock()
			time.Sleep(lat)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if doom { // the request went out; its answer never comes back
				p.mu.Lock()
				p.reset++
				p.mu.Unlock()
				abort(client)
				abort(dst)
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}
