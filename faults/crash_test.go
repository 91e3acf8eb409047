package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/testenv"
)

// Scenario 1, kill -9 storms: the server is killed without warning at
// random moments of a steady mixed load and restarted each time (after a
// random pause of up to half a second), on SQLite and on PostgreSQL. The
// partners keep sending and retry what was not acknowledged. Afterwards
// the audit must find every acknowledged document archived and processed
// once with one 997, and the archive intact.
func TestKillStorm(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { killStorm(t, siteOptions{}) })
	t.Run("postgres", func(t *testing.T) { killStorm(t, siteOptions{DatabaseURL: testenv.Postgres(t)}) })
}

const resumeBound = 60 * time.Second

func killStorm(t *testing.T, o siteOptions) {
	total, kills, rate := scale(600, 3000), scale(3, 10), 100
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (the moments of the kills)", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))

	s := newSite(t, o)
	s.start()
	l := startLoad(s, total, rate)
	var downs []time.Duration
	for k := 1; k <= kills; k++ {
		// Somewhere in the k-th slice of the load.
		slice := total / (kills + 1)
		target := slice*k + rnd.IntN(slice/2+1)
		deadline := time.Now().Add(2 * time.Minute)
		for l.ackedCount() < target {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: only %d of %d documents acknowledged after 2 minutes", k, l.ackedCount(), target)
			}
			time.Sleep(5 * time.Millisecond)
		}
		down := time.Now()
		s.kill9()
		time.Sleep(time.Duration(rnd.IntN(500)) * time.Millisecond)
		s.start()
		downs = append(downs, time.Since(down))
	}
	l.wait(5 * time.Minute)
	r := s.audit(l, s.dsn(), scale(2*time.Minute, 5*time.Minute))
	r.set("kills", kills)
	r.set("longest outage (kill to ready)", slices.Max(downs).Round(time.Millisecond))
	// A restarted server resumes the jobs its killed run held at once
	// (this machine's dead runs are failed over at the first heartbeat);
	// the bound is jobs.failover_after (30 s) with room for a slow machine,
	// against the 15 minutes of River's stuck-job rescue it replaced.
	if r.Settled > resumeBound {
		r.Problems = append(r.Problems, fmt.Sprintf("the last 997 came %s after the last acknowledgment (bound %s): jobs held by a killed run waited", r.Settled, resumeBound))
	}
	r.check(t)
	s.stop()
}
