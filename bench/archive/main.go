// Command archive-bench measures the archive against the targets:
//
//	go run ./bench/archive -run put1g  [-dir DIR]            # 1 GB Put vs sha256sum && cp && sync
//	go run ./bench/archive -run small  [-db DSN] [-dir DIR]  # 10,000 x 4 KB from 8 writers
//	go run ./bench/archive -run search [-db DSN] [-dir DIR]  # key search over 1,000,000 entries
//
// -db defaults to SQLite in DIR; pass a postgres:// URL for PostgreSQL (a
// fresh schema is created and dropped). Results print as one line each.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

var ctx = context.Background()

func main() {
	run := flag.String("run", "small", "put1g, small or search")
	db := flag.String("db", "", "postgres:// URL (default: SQLite in -dir)")
	dir := flag.String("dir", "", "work folder (default: a new one under /var/tmp, removed afterwards)")
	n := flag.Int("n", 0, "override the size (files for small, entries for search)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *dir == "" {
		d, err := os.MkdirTemp("/var/tmp", "wharf-archive-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	switch *run {
	case "put1g":
		put1g(*dir)
	case "small":
		small(openStore(*db, *dir), *dir, or(*n, 10000))
	case "search":
		search(openStore(*db, *dir), *dir, or(*n, 1000000))
	default:
		log.Fatalf("unknown -run %q", *run)
	}
}

func or(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

func openStore(dsn, dir string) store.Store {
	if dsn == "" {
		dsn = filepath.Join(dir, "wharf.db")
	} else {
		schema := fmt.Sprintf("wharf_bench_%d", time.Now().UnixNano())
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			log.Fatal(err)
		}
		c.Close(ctx)
		cleanup = append(cleanup, func() {
			c, _ := pgx.Connect(ctx, dsn)
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		})
		dsn = testenv.WithSearchPath(dsn, schema)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	return st
}

var cleanup []func()

func done() {
	for _, f := range cleanup {
		f()
	}
}

func newArchive(st store.Store, dir string) *archive.Archive {
	fsb, err := archive.NewFS(filepath.Join(dir, "archive"))
	if err != nil {
		log.Fatal(err)
	}
	a, err := archive.New(st, archive.Options{Blobs: fsb})
	if err != nil {
		log.Fatal(err)
	}
	return a
}

func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

func put1g(dir string) {
	src := filepath.Join(dir, "src.bin")
	f, err := os.Create(src)
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for range 1024 {
		rand.Read(buf)
		f.Write(buf)
	}
	f.Sync()
	f.Close()
	exec.Command("sync").Run()
	// Baseline, same run, same disk.
	t0 := time.Now()
	sh := exec.Command("sh", "-c", fmt.Sprintf("sha256sum %s >/dev/null && cp %s %s && sync", src, src, filepath.Join(dir, "copy.bin")))
	if out, err := sh.CombinedOutput(); err != nil {
		log.Fatalf("baseline: %v %s", err, out)
	}
	base := time.Since(t0)
	os.Remove(filepath.Join(dir, "copy.bin"))
	exec.Command("sync").Run()

	st := openStore("", dir)
	defer st.Close()
	a := newArchive(st, dir)
	in, _ := os.Open(src)
	defer in.Close()
	runtime.GC()
	t0 = time.Now()
	e, err := a.Put(ctx, in, archive.Meta{Partner: "bench"})
	if err != nil {
		log.Fatal(err)
	}
	took := time.Since(t0)
	fmt.Printf("put1g: Put %.2fs (%.0f MB/s), baseline sha256sum&&cp&&sync %.2fs, ratio %.2fx, peak RSS %s, size %d\n",
		took.Seconds(), 1024/took.Seconds(), base.Seconds(), took.Seconds()/base.Seconds(), peakRSS(), e.Size)
}

func small(st store.Store, dir string, files int) {
	defer done()
	defer st.Close()
	a := newArchive(st, dir)
	const writers = 8
	var wg sync.WaitGroup
	next := make(chan int, files)
	for i := range files {
		next <- i
	}
	close(next)
	lat := make([]time.Duration, files)
	t0 := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for i := range next {
				rand.Read(buf)
				s := time.Now()
				if _, err := a.Put(ctx, bytes.NewReader(buf), archive.Meta{Partner: fmt.Sprintf("p%d", i%20), RemoteName: fmt.Sprintf("f%d.edi", i)}); err != nil {
					log.Fatal(err)
				}
				lat[i] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("small: %s: %d x 4 KB from %d writers in %.2fs = %.0f files/s (Put p50 %v, p95 %v)\n",
		st.Driver(), files, writers, took.Seconds(), float64(files)/took.Seconds(), lat[files/2].Round(time.Microsecond), lat[files*95/100].Round(time.Microsecond))
}

func search(st store.Store, dir string, n int) {
	defer done()
	defer st.Close()
	a := newArchive(st, dir)
	t0 := time.Now()
	if err := bulkLoad(st, n); err != nil {
		log.Fatal(err)
	}
	if err := st.Maintain(ctx); err != nil {
		log.Fatal(err)
	}
	load := time.Since(t0)
	const queries = 1000
	lat := make([]time.Duration, 0, queries)
	for range queries {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
		key := fmt.Sprintf("PO%08d", i.Int64()+1)
		s := time.Now()
		es, err := a.Search(ctx, store.MessageFilter{Key: key})
		if err != nil || len(es) != 1 {
			log.Fatalf("search %s: %d %v", key, len(es), err)
		}
		lat = append(lat, time.Since(s))
	}
	// A partner's newest page, the console's default view.
	s := time.Now()
	if _, err := a.Search(ctx, store.MessageFilter{PartnerID: "p7"}); err != nil {
		log.Fatal(err)
	}
	page := time.Since(s)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("search: %s: %d entries (%d keys) loaded in %.1fs; %d key searches p50 %v p95 %v max %v; partner page %v\n",
		st.Driver(), n, 2*n, load.Seconds(), queries, lat[queries/2].Round(time.Microsecond), lat[queries*95/100].Round(time.Microsecond),
		lat[queries-1].Round(time.Microsecond), page.Round(time.Microsecond))
}

// bulkLoad writes n index rows with two keys each (PO and BOL) in SQL, the
// shape Put leaves (message, archive entry, keys); chain records are not
// needed for search.
func bulkLoad(st store.Store, n int) error {
	var stmts []string
	switch st.Driver() {
	case "sqlite":
		gen := fmt.Sprintf(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) `, n)
		stmts = []string{
			gen + `INSERT INTO messages (id, partner_id, direction, transport, remote_name, size, sha256, blob_ref, status, received_at)
				SELECT printf('m%08d', x), 'p' || (x % 50), 'in', 'sftp', printf('f%d.edi', x), 4096, printf('%064d', x), 'fs:x', 'received', 1700000000000000 + x * 1000000 FROM c`,
			`INSERT INTO archive_entries (message_id, partner_id) SELECT id, partner_id FROM messages`,
			gen + `INSERT INTO message_keys (message_id, kind, value) SELECT printf('m%08d', x), 'po', printf('PO%08d', x) FROM c`,
			gen + `INSERT INTO message_keys (message_id, kind, value) SELECT printf('m%08d', x), 'bol', printf('BOL%08d', x) FROM c`,
		}
		db := st.Handle().(*sql.DB)
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	case "postgres":
		gen := fmt.Sprintf(`FROM generate_series(1, %d) x`, n)
		stmts = []string{
			`INSERT INTO messages (id, partner_id, direction, transport, remote_name, size, sha256, blob_ref, status, received_at)
				SELECT 'm' || lpad(x::text, 8, '0'), 'p' || (x % 50), 'in', 'sftp', 'f' || x || '.edi', 4096, lpad(x::text, 64, '0'), 'fs:x', 'received',
				timestamptz '2023-11-14 22:13:20+00' + x * interval '1 second' ` + gen,
			`INSERT INTO archive_entries (message_id, partner_id) SELECT id, partner_id FROM messages`,
			`INSERT INTO message_keys (message_id, kind, value) SELECT 'm' || lpad(x::text, 8, '0'), 'po', 'PO' || lpad(x::text, 8, '0') ` + gen,
			`INSERT INTO message_keys (message_id, kind, value) SELECT 'm' || lpad(x::text, 8, '0'), 'bol', 'BOL' || lpad(x::text, 8, '0') ` + gen,
		}
		pool := st.Handle().(*pgxpool.Pool)
		for _, q := range stmts {
			if _, err := pool.Exec(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ = io.EOF
