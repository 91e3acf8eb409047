package archive_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/internal/testenv"
)

const crashContent = "ISA*00*crash-test~"

// TestCrashChild is the process TestKill9MidPut kills; it does nothing on
// its own.
func TestCrashChild(t *testing.T) {
	dir, dsn, mode := os.Getenv("WHARF_CRASH_DIR"), os.Getenv("WHARF_CRASH_DSN"), os.Getenv("WHARF_CRASH_MODE")
	if dir == "" {
		t.Skip("helper process for TestKill9MidPut")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	fsb, err := archive.NewFS(filepath.Join(dir, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	var inline int64
	if mode == "inline" { // the blob written with the index rows
		inline = 1 << 10
	}
	a, err := archive.New(st, archive.Options{Blobs: fsb, InlineMax: inline, OnCommit: func(ctx context.Context, tx store.Tx, e *archive.Entry) error {
		if mode == "commit" || mode == "inline" {
			// Everything is written but not committed: die here.
			fmt.Println("COMMITTING")
			select {}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var r interface{ Read([]byte) (int, error) } = strings.NewReader(strings.Repeat(crashContent, 1))
	if mode == "stream" {
		r = &stallingReader{data: []byte(strings.Repeat("x", 1<<20))}
	}
	_, err = a.Put(ctx, r, archive.Meta{Partner: "acme", IdempotencyKey: "delivery-1"})
	t.Fatalf("put returned (%v); it should have been killed", err)
}

// stallingReader yields its data, announces it, then blocks forever.
type stallingReader struct {
	data []byte
	off  int
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.off < len(r.data) {
		n := copy(p, r.data[r.off:])
		r.off += n
		return n, nil
	}
	fmt.Println("STREAMING")
	select {}
}

// TestKill9MidPut kills a process with SIGKILL in the middle of Put (while
// streaming, and with everything written but not committed) and checks that
// no entry points to a missing or partial blob, verify passes, and a Put
// retried with the same idempotency key creates exactly one entry.
func TestKill9MidPut(t *testing.T) {
	if os.Getenv("WHARF_CRASH_DIR") != "" {
		t.Skip("inside the helper")
	}
	for _, db := range []string{"SQLite", "Postgres"} {
		for _, mode := range []string{"stream", "commit", "inline"} {
			t.Run(db+"/"+mode, func(t *testing.T) {
				dir := t.TempDir()
				dsn := filepath.Join(dir, "wharf.db")
				if db == "Postgres" {
					dsn = testenv.Postgres(t)
				}
				// Migrate first so the child does not die inside a migration.
				st, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()

				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
				cmd.Env = append(os.Environ(), "WHARF_CRASH_DIR="+dir, "WHARF_CRASH_DSN="+dsn, "WHARF_CRASH_MODE="+mode)
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"stream": "STREAMING", "commit": "COMMITTING", "inline": "COMMITTING"}[mode]
				sc := bufio.NewScanner(out)
				reached := false
				for sc.Scan() {
					if strings.Contains(sc.Text(), want) {
						reached = true
						break
					}
				}
				cmd.Process.Kill() // SIGKILL
				cmd.Wait()
				if !reached {
					t.Fatalf("child never reached %s", want)
				}

				fsb, err := archive.NewFS(filepath.Join(dir, "archive"))
				if err != nil {
					t.Fatal(err)
				}
				a, err := archive.New(st, archive.Options{Blobs: fsb, InlineMax: map[string]int64{"inline": 1 << 10}[mode]})
				if err != nil {
					t.Fatal(err)
				}
				if all, _ := a.Search(ctx, store.MessageFilter{}); len(all) != 0 {
					t.Fatalf("a killed Put left %d entries", len(all))
				}
				if rep, err := a.Verify(ctx, archive.VerifyOptions{}); err != nil || !rep.OK() || rep.Head.Seq != 0 {
					t.Fatalf("verify after kill: %+v %v", rep, err)
				}
				// The retry (a partner re-sending after no acknowledgment).
				for range 2 {
					if _, err := a.Put(ctx, strings.NewReader(crashContent), archive.Meta{Partner: "acme", IdempotencyKey: "delivery-1"}); err != nil {
						t.Fatal(err)
					}
				}
				all, _ := a.Search(ctx, store.MessageFilter{})
				if len(all) != 1 || get(t, a, all[0].ID) != crashContent || strings.HasPrefix(all[0].BlobRef, "db:") != (mode == "inline") {
					t.Fatalf("after retries: %d entries", len(all))
				}
				if rep, _ := a.Verify(ctx, archive.VerifyOptions{}); !rep.OK() || rep.Entries != 1 {
					t.Fatalf("verify after retry: %+v", rep.Problems)
				}
			})
		}
	}
}
