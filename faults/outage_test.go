package faults

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// readyWatch polls the site's /readyz every 50 ms for the whole scenario
// and keeps every answer, so a scenario can ask when readiness changed
// after a fault was injected or removed (across restarts: the HTTP port is
// fixed). A refused connection is recorded as status 0.
type readyWatch struct {
	mu      sync.Mutex
	answers []readyAnswer
	quit    chan struct{}
	done    chan struct{}
}

type readyAnswer struct {
	at     time.Time
	status int
}

func watchReady(s *site) *readyWatch {
	w := &readyWatch{quit: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second} // the server's checks answer within 2 s
	go func() {
		defer close(w.done)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			status := 0
			if resp, err := client.Get("http://" + s.httpAddr + "/readyz"); err == nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			w.mu.Lock()
			w.answers = append(w.answers, readyAnswer{time.Now(), status})
			w.mu.Unlock()
			select {
			case <-w.quit:
				return
			case <-tk.C:
			}
		}
	}()
	s.t.Cleanup(w.stop)
	return w
}

func (w *readyWatch) stop() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

// await waits up to within for the first answer with status given after
// since, and returns how long after since it came.
func (w *readyWatch) await(status int, since time.Time, within time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(within)
	for {
		w.mu.Lock()
		for _, a := range w.answers {
			if a.status == status && !a.at.Before(since) {
				w.mu.Unlock()
				return a.at.Sub(since), true
			}
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			return 0, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// resumedAfter is how long after end (a fault's removal) the audit found
// the last document answered: the audit's Settled counts from the last
// acknowledgment, which for a folder drop may come long before the fault
// ends (a file written during an outage is acknowledged by its writing).
func resumedAfter(l *load, r *report, end time.Time) time.Duration {
	l.mu.Lock()
	var last time.Time
	for _, at := range l.ackedAt {
		if at.After(last) {
			last = at
		}
	}
	l.mu.Unlock()
	if last.After(end) {
		end = last
	}
	return last.Add(r.Settled).Sub(end)
}

// finishOutages ends a scenario whose faults ended at ended: the load
// completes, the server is still the one that started (no restart was
// needed), the audit passes, and the last 997 came within resumeBound of
// the last fault's end. figures are logged with the report as kind 1, 2, ...
func finishOutages(t *testing.T, s *site, l *load, ended time.Time, kind string, figures []string) {
	t.Helper()
	l.wait(scale(3*time.Minute, 10*time.Minute))
	if !s.running() {
		t.Fatalf("wharf serve exited after the faults:\n%s", tail(s.logs.String(), 8<<10))
	}
	r := s.audit(l, s.dsn(), scale(2*time.Minute, 5*time.Minute))
	if r.Runs != 1 {
		r.Problems = append(r.Problems, fmt.Sprintf("wharf serve started %d times, want once (no restart needed)", r.Runs))
	}
	resumed := resumedAfter(l, r, ended)
	if resumed > resumeBound {
		r.Problems = append(r.Problems, fmt.Sprintf("the last 997 came %s after the last fault's end (bound %s): work did not resume by itself", resumed, resumeBound))
	}
	r.set("last 997 after the last fault's end", resumed.Round(10*time.Millisecond))
	for i, f := range figures {
		r.set(fmt.Sprintf("%s %d", kind, i+1), f)
	}
	r.check(t)
	s.stop()
}
