package archive

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// readyTTL is how long Ready reuses its last answer.
var readyTTL = 2 * time.Second

// readiness caches Ready's probe.
type readiness struct {
	mu  sync.Mutex
	at  time.Time // when err was found (monotonic, never the injected clock)
	err error
}

// Ready reports whether Put can accept content now: it creates, writes,
// fsyncs and removes a small file in the folder Put writes its temporary
// files to (the folder store's .tmp folder, or the local spool of an S3
// archive). A full disk or a read-only folder fails it. An S3 archive with
// a spool is ready while the spool is writable, whether or not S3 answers:
// Put spools meanwhile. The answer is reused for a couple of seconds so
// that frequent readiness probes stay cheap. The error names the folder
// (for the log, not for anonymous callers).
func (a *Archive) Ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &a.ready
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.at.IsZero() && time.Since(r.at) < readyTTL {
		return r.err
	}
	r.err = probeWritable(a.tmpDirs[0])
	r.at = time.Now()
	return r.err
}

// probeWritable proves that a file can be created and written in dir. The
// name starts with put- so that tempDirs removes one a crash left behind.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, "put-ready-*")
	if err != nil {
		return fmt.Errorf("archive: %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, err = f.Write([]byte("ready\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("archive: %s is not writable: %w", dir, err)
	}
	return nil
}
