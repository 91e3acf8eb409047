package process_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/process"
)

// flakyBlobs is a folder blob store whose next reads fail, as an S3 GET
// does when its connection is reset mid-stream.
type flakyBlobs struct {
	*archive.FS
	failReads atomic.Int32
}

func (b *flakyBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.FS.Open(ctx, key)
	if err != nil || b.failReads.Add(-1) < 0 {
		return rc, err
	}
	return failingReader{rc}, nil
}

type failingReader struct{ io.ReadCloser }

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("read tcp: connection reset by peer")
}

// A failed read of the archived bytes is not the content: processing
// returns an error to retry (found by faults.TestS3Outage, where such
// messages were marked unrecognized for good and never got their 997).
func TestBlobReadErrorIsRetried(t *testing.T) {
	fsb, err := archive.NewFS(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	spool, err := archive.NewFS(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := &flakyBlobs{FS: fsb}
	flowtest.ForEachDB(t, archive.Options{Blobs: blobs, Spool: spool}, nil, func(t *testing.T, e *flowtest.Env) {
		ctx := context.Background()
		p := &process.Processor{Archive: e.Archive, Store: e.Store}
		en, err := e.Archive.Put(ctx, strings.NewReader(load204), archive.Meta{Partner: "acme", Direction: store.Inbound, Transport: "sftp", RemoteName: "load.edi"})
		if err != nil {
			t.Fatal(err)
		}
		blobs.failReads.Store(1)
		if err := p.Process(ctx, en.ID); err == nil || lifecycle.IsPermanent(err) {
			t.Fatalf("process with a failing read: %v, want an error to retry", err)
		}
		if m, _ := e.Store.GetMessage(ctx, en.ID); m.Status != lifecycle.StatusReceived {
			t.Fatalf("after a failed read the message is %s, want received (events:\n%s)", m.Status, events(t, e.Store, en.ID))
		}
		if err := p.Process(ctx, en.ID); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if m, _ := e.Store.GetMessage(ctx, en.ID); m.Status != lifecycle.StatusProcessed {
			t.Fatalf("after the retry the message is %s, want processed (events:\n%s)", m.Status, events(t, e.Store, en.ID))
		}
	})
}
