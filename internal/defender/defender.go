// Package defender locks out an address after repeated failed
// authentications, the same way at every door that checks a secret: SFTP
// logins, API bearer tokens, console sign-ins and partner tokens on the
// HTTP inbound transport. An address with Attempts failures within Window
// is refused without its secret being checked until the oldest of them
// leaves the window, so guessing costs Window per Attempts guesses and a
// refused guess says nothing about the secret.
//
// A failure the server caused (its database did not answer) is not a
// failure of the client: callers record only wrong secrets.
package defender

import (
	"net"
	"sync"
	"time"
)

// maxAddresses bounds the memory an attacker with many addresses can make
// the defender hold; past it, addresses whose failures left the window are
// forgotten first, then the whole table (a lockout lost is better than the
// server's memory).
const maxAddresses = 100_000

// Defender counts failures per address. The zero value is not usable: use New.
type Defender struct {
	attempts int
	window   time.Duration
	now      func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// New returns a defender that locks an address out after attempts failures
// within window. now may be nil (the wall clock).
func New(attempts int, window time.Duration, now func() time.Time) *Defender {
	if now == nil {
		now = time.Now
	}
	return &Defender{attempts: attempts, window: window, now: now, failures: map[string][]time.Time{}}
}

// Locked reports whether addr is locked out, and for how long yet.
func (d *Defender) Locked(addr string) (bool, time.Duration) {
	ip := Host(addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	fs := d.recent(ip)
	if len(fs) < d.attempts {
		return false, 0
	}
	return true, fs[len(fs)-d.attempts].Add(d.window).Sub(d.now())
}

// Failures is how many failures of addr are within the window.
func (d *Defender) Failures(addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.recent(Host(addr)))
}

// Fail records a failed authentication from addr and reports whether it
// locked the address out (true once, at the failure that reached the
// threshold: the moment to log and audit the lockout).
func (d *Defender) Fail(addr string) bool {
	ip := Host(addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.failures) >= maxAddresses {
		for k := range d.failures {
			d.recent(k)
		}
		if len(d.failures) >= maxAddresses {
			clear(d.failures)
		}
	}
	fs := append(d.recent(ip), d.now())
	d.failures[ip] = fs
	return len(fs) == d.attempts
}

// recent drops ip's failures older than the window and returns the rest.
func (d *Defender) recent(ip string) []time.Time {
	cut := d.now().Add(-d.window)
	fs := d.failures[ip][:0]
	for _, t := range d.failures[ip] {
		if t.After(cut) {
			fs = append(fs, t)
		}
	}
	if len(fs) == 0 {
		delete(d.failures, ip)
		return nil
	}
	d.failures[ip] = fs
	return fs
}

// Seconds is a wait in whole seconds, rounded up (for Retry-After).
func Seconds(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}

// Host is the address without its port ("192.0.2.1:5050" -> "192.0.2.1").
func Host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
