// Command mapping measures `wharf map`'s engine: X12 204/214 to canonical
// JSON Lines, throughput and peak memory.
//
//	go run ./bench/mapping -mb 200              # generate 200 MiB of 204 and 214, map it
//	go run ./bench/mapping -in FILE             # map an existing file (e.g. from bench/x12/gen)
//
// Output goes to io.Discard through the same JSON encoder the CLI uses;
// the figure is input bytes per second of wall time, best of -runs.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/mapping"
)

func main() {
	mb := flag.Int64("mb", 200, "MiB of 204/214 to generate when -in is not given")
	in := flag.String("in", "", "X12 file to map")
	runs := flag.Int("runs", 3, "runs; the best is reported")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	flag.Parse()
	if *prof != "" {
		pf, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	path := *in
	if path == "" {
		path = fmt.Sprintf("%s/wharf-map-bench-%d.edi", os.TempDir(), *mb)
		if _, err := os.Stat(path); err != nil {
			if err := generate(path, *mb<<20); err != nil {
				log.Fatal(err)
			}
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}
	best, bestCPU := time.Duration(0), time.Duration(0)
	var docs int
	for i := 0; i < *runs; i++ {
		f, err := os.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		jl := mapping.NewJSONLines(io.Discard)
		t0, c0 := time.Now(), cpuTime()
		o, err := mapping.FromX12(context.Background(), f, mapping.Options{Emit: jl.Emit})
		if err == nil {
			err = jl.Close()
		}
		el, cpu := time.Since(t0), cpuTime()-c0
		f.Close()
		if err != nil || o.Errors > 0 {
			log.Fatalf("map: %v %+v", err, o)
		}
		docs = o.Documents
		if best == 0 || el < best {
			best, bestCPU = el, cpu
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := ""
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				rss = strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
			}
		}
	}
	mbs := float64(st.Size()) / (1 << 20) / best.Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("mapped %s: %d bytes, %d documents in %v wall, %v CPU (best of %d): %.0f MiB/s wall, %.0f MiB per CPU-second; heap in use %d MiB, peak RSS %s, GOMAXPROCS %d, load %s\n",
		path, st.Size(), docs, best.Round(time.Millisecond), bestCPU.Round(time.Millisecond), *runs, mbs,
		float64(st.Size())/(1<<20)/bestCPU.Seconds(), ms.HeapInuse>>20, rss, runtime.GOMAXPROCS(0), strings.Fields(string(load))[0])
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.w.Write(p) }

// generate writes 204 and 214 interchanges like bench/x12/gen's.
func generate(path string, limit int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	cnt := &counter{w: bw}
	w := x12.NewWriter(cnt)
	w.Newline, w.Numbers, w.Partner = true, &x12.MemoryControlNumbers{}, "bench"
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	seg := func(id string, e ...string) {
		if err == nil {
			err = w.WriteSegment(id, e...)
		}
	}
	n := 0
	for cnt.n < limit && err == nil {
		w.BeginInterchange(ctx, x12.ISAHeader{SenderID: "SHIPPERCO", ReceiverID: "CARRIERCO", Time: t0})
		for _, k := range []struct{ id, fg string }{{"204", "SM"}, {"214", "QM"}} {
			w.BeginGroup(ctx, x12.GSHeader{FunctionalID: k.fg, Sender: "SHIPPERCO", Receiver: "CARRIERCO", Version: "004010", Time: t0})
			for i := 0; i < 200; i++ {
				n++
				ref := "SHP" + strconv.Itoa(n)
				w.BeginSet(ctx, k.id, 0, "")
				if k.id == "204" {
					seg("B2", "", "ABCD", "", ref, "", "PP")
					seg("B2A", "00", "LT")
					seg("L11", ref, "BM")
					seg("G62", "64", "20260104", "1", "1000", "LT")
					seg("MS3", "ABCD", "B", "", "M")
					seg("NTE", "LOI", "HANDLE WITH CARE; CALL 30 MIN BEFORE ARRIVAL")
					seg("N7", "", "TRAILER53", "", "", "", "", "", "", "", "", "TV")
					for s := 1; s <= 4; s++ {
						seg("S5", strconv.Itoa(s), []string{"LD", "UL"}[s/3], "12000", "L", "10", "PC")
						seg("G62", "69", "20260105", "U", "0800", "LT")
						seg("N1", "SH", "ACME DISTRIBUTION CENTER", "93", "DC0"+strconv.Itoa(s))
						seg("N3", "1200 INDUSTRIAL PARKWAY", "DOCK 7")
						seg("N4", "COLUMBUS", "OH", "43215", "US")
						seg("G61", "SH", "RECEIVING DESK", "TE", "6145550100")
						seg("L11", "PO"+strconv.Itoa(n*10+s), "PO")
					}
					seg("L3", "48000", "G", "", "", "125000", "", "", "", "", "", "", "L")
				} else {
					seg("B10", "PRO"+strconv.Itoa(n), ref, "ABCD")
					seg("L11", ref, "BM")
					seg("N1", "SH", "ACME DISTRIBUTION CENTER", "93", "DC01")
					seg("N4", "COLUMBUS", "OH", "43215", "US")
					for e := 1; e <= 5; e++ {
						seg("LX", strconv.Itoa(e))
						seg("AT7", "X6", "NS", "", "", "20260105", "1130", "LT")
						seg("MS1", "DAYTON", "OH", "US")
						seg("MS2", "ABCD", "TRAILER53")
						seg("AT8", "G", "L", "12000", "10")
					}
				}
				w.EndSet()
			}
			w.EndGroup()
		}
		err = w.EndInterchange()
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
