// Command writertrace reads an execution trace of wharf serve on SQLite
// (bench/transports -profile F writes F.trace) and tells where the group
// commit's leader spends its time: running, in system calls (the WAL's
// fsync and writes), waiting, or runnable without a processor, and at
// which places. The leader is the goroutine inside store.(*group).run;
// SQLite's one writer is the bottleneck of a burst of small files, so
// its time is the flow's.
//
//	go run ./bench/transports -n 3000 -baseline=false -profile /tmp/p
//	cd bench/writertrace && go run . /tmp/p.trace
//
// It is a module of its own: the trace parser (golang.org/x/exp/trace,
// the Go team's; the standard library has none that is public) is a
// dependency of this tool, not of Wharf.
//
// An interval is attributed to the leader when the goroutine's stack, as
// it last stopped running, holds store.(*group).run. Execution traces cut
// deep stacks, so some of the leader's intervals are missed: the shares
// are of the intervals found, and the total says how much that is.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/exp/trace"
)

// places names where a stack stopped, coarsely: a frame to look for.
var places = []struct{ name, frame string }{
	{"fsync", "Xfsync"},
	{"write", "Xpwrite"},
	{"read", "Xpread"},
	{"C allocator (modernc libc malloc/free)", "libc.Xmalloc"},
	{"C allocator (modernc libc malloc/free)", "libc.Xfree"},
	{"page cache (pcache1)", "pcache1"},
	{"WAL index lock (unixShmLock)", "ShmLock"},
	{"the writer's connection (database/sql)", "DB).conn"},
	{"preempted", "asyncPreempt"},
	{"garbage collector", "runtime.gc"},
}

func place(s trace.Stack) (name string, lead bool) {
	name = "elsewhere"
	for f := range s.Frames() {
		if strings.Contains(f.Func, "store.(*group).run") {
			lead = true
		}
		if name != "elsewhere" {
			continue
		}
		for _, p := range places {
			if strings.Contains(f.Func, p.frame) {
				name = p.name
				break
			}
		}
	}
	return name, lead
}

type goroutine struct {
	since trace.Time
	at    string // where it last stopped running
	lead  bool
	why   string // how it became runnable
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: writertrace FILE.trace")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "writertrace:", err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writertrace:", err)
		os.Exit(1)
	}
	gs := map[trace.GoID]*goroutine{}
	byState := map[string]float64{}
	byPlace := map[string]float64{}
	preempted := 0
	var first, last trace.Time
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "writertrace:", err)
			os.Exit(1)
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		t := ev.StateTransition()
		if t.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		from, to := t.Goroutine()
		g := gs[t.Resource.Goroutine()]
		if g == nil {
			g = &goroutine{since: ev.Time()}
			gs[t.Resource.Goroutine()] = g
		}
		if g.lead {
			d := float64(ev.Time() - g.since)
			state := from.String()
			if from == trace.GoRunnable {
				state += " (" + g.why + ")"
			}
			byState[state] += d
			if from != trace.GoRunning {
				byPlace[state+", at "+g.at] += d
			}
		}
		switch from {
		case trace.GoRunning:
			s := t.Stack
			if s == trace.NoStack {
				s = ev.Stack()
			}
			g.at, g.lead = place(s)
			g.why = t.Reason
			if g.lead && to == trace.GoRunnable && t.Reason == "preempted" {
				preempted++
			}
		case trace.GoWaiting:
			g.why = "woken, waiting for a processor"
		case trace.GoSyscall:
			g.why = "back from a system call, waiting for a processor"
		}
		g.since = ev.Time()
	}
	var total float64
	for _, v := range byState {
		total += v
	}
	if total == 0 {
		fmt.Println("no goroutine inside store.(*group).run in this trace (a SQLite server under load?)")
		return
	}
	fmt.Printf("trace %.2f s; the group commit's leader found for %.2f s\n", float64(last-first)/1e9, total/1e9)
	show := func(m map[string]float64) {
		type kv struct {
			k string
			v float64
		}
		var l []kv
		for k, v := range m {
			l = append(l, kv{k, v})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
		for _, e := range l {
			if 100*e.v/total >= 0.5 {
				fmt.Printf("  %5.1f %%  %8.1f ms  %s\n", 100*e.v/total, e.v/1e6, e.k)
			}
		}
	}
	show(byState)
	fmt.Println("not running, by state and place:")
	show(byPlace)
	fmt.Printf("preempted %d times: the runtime preempts a goroutine that ran 10 ms in a row and queues it behind the others\n", preempted)
}
