package faults

import (
	"net/http"
	"sync"
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
