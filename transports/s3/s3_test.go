package s3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/flowtest"
	"github.com/wharfedi/wharf/internal/testenv"
	"github.com/wharfedi/wharf/transports"
	ws3 "github.com/wharfedi/wharf/transports/s3"
	"github.com/wharfedi/wharf/transports/transporttest"
)

var ctx = context.Background()

func bucket(t *testing.T, e testenv.S3Env, prefix string) *ws3.Bucket {
	t.Helper()
	b, err := ws3.New(ws3.Config{Endpoint: e.Endpoint, PlainHTTP: true, Bucket: e.Bucket, Prefix: prefix, AccessKey: e.AccessKey, SecretKey: e.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformanceAgainstS3(t *testing.T) {
	e := testenv.S3(t)
	n := 0
	transporttest.Exercise(t, func(t *testing.T) transports.Transport {
		n++
		return bucket(t, e, fmt.Sprintf("conf%d/root", n))
	})
}

func put(t *testing.T, e testenv.S3Env, key, body string) {
	t.Helper()
	if _, err := e.Client.PutObject(ctx, e.Bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, e testenv.S3Env, key string) bool {
	t.Helper()
	_, err := e.Client.StatObject(ctx, e.Bucket, key, minio.StatObjectOptions{})
	return err == nil
}

// TestPollS3: each after-mode archives first, then deletes, moves or tags;
// a second poll archives nothing again; objects in a deeper prefix are not
// the inbound folder's.
func TestPollS3(t *testing.T) {
	e := testenv.S3(t)
	flowtest.ForEachDB(t, archive.Options{}, []string{"tms"}, func(t *testing.T, env *flowtest.Env) {
		for _, after := range []transports.After{transports.AfterDelete, transports.AfterMove, transports.AfterTag} {
			t.Run(string(after), func(t *testing.T) {
				root := fmt.Sprintf("%s/%s", t.Name(), after)
				b := bucket(t, e, root)
				put(t, e, root+"/in/LOAD1.edi", "load one")
				put(t, e, root+"/in/deeper/LOAD2.edi", "not mine")
				o := transports.PollOptions{Partner: "tms", Transport: "s3", Origin: e.Endpoint + "/" + e.Bucket + "/" + root, Folder: "in", After: after, MoveTo: "processed"}
				before := len(env.Inbound(t, "tms"))
				res, err := transports.Poll(ctx, b, env.Gateway, env.Gateway, o)
				if err != nil || res.Received != 1 {
					t.Fatalf("poll: %+v %v", res, err)
				}
				ms := env.Inbound(t, "tms")
				if len(ms) != before+1 || env.Bytes(t, ms[0].ID) != "load one" || ms[0].RemoteName != "in/LOAD1.edi" {
					t.Fatalf("archived: %+v", ms[0])
				}
				switch after {
				case transports.AfterDelete:
					if exists(t, e, root+"/in/LOAD1.edi") {
						t.Fatal("not deleted after archiving")
					}
				case transports.AfterMove:
					if exists(t, e, root+"/in/LOAD1.edi") || !exists(t, e, root+"/processed/LOAD1.edi") {
						t.Fatal("not moved to processed/")
					}
				case transports.AfterTag:
					tags, err := b.Tags(ctx, "in/LOAD1.edi")
					if err != nil || tags["wharf"] != "archived" {
						t.Fatalf("tags %v %v", tags, err)
					}
				}
				if !exists(t, e, root+"/in/deeper/LOAD2.edi") {
					t.Fatal("an object under a deeper prefix was touched")
				}
				res, err = transports.Poll(ctx, b, env.Gateway, env.Gateway, o)
				if err != nil || res.Received != 0 {
					t.Fatalf("second poll: %+v %v", res, err)
				}
				if got := len(env.Inbound(t, "tms")); got != before+1 {
					t.Fatalf("archived twice: %d", got-before)
				}
			})
		}
	})
}

// failingRemove makes the delete after archiving fail once.
type failingRemove struct {
	*ws3.Bucket
	fail bool
}

func (f *failingRemove) Remove(ctx context.Context, name string) error {
	if f.fail {
		f.fail = false
		return errors.New("connection reset")
	}
	return f.Bucket.Remove(ctx, name)
}

// TestPollS3DeleteRetried: an object whose delete failed is deleted at the
// next poll and not archived again.
func TestPollS3DeleteRetried(t *testing.T) {
	e := testenv.S3(t)
	env := flowtest.Open(t, "SQLite", archive.Options{}, "tms")
	b := &failingRemove{Bucket: bucket(t, e, "r"), fail: true}
	put(t, e, "r/X.edi", "x")
	o := transports.PollOptions{Partner: "tms", Transport: "s3", Origin: e.Bucket}
	if res, err := transports.Poll(ctx, b, env.Gateway, env.Gateway, o); err == nil || res.Received != 1 {
		t.Fatalf("first poll: %+v %v", res, err)
	}
	res, err := transports.Poll(ctx, b, env.Gateway, env.Gateway, o)
	if err != nil || res.AlreadyHad != 1 || exists(t, e, "r/X.edi") {
		t.Fatalf("second poll: %+v %v", res, err)
	}
	if got := len(env.Inbound(t, "tms")); got != 1 {
		t.Fatalf("archived %d times", got)
	}
}

// TestPutLargeIsMultipart: a 40 MiB upload of unknown length goes up in
// parts and reads back intact (the conformance suite checks 24 MiB).
func TestPutLargeIsMultipart(t *testing.T) {
	e := testenv.S3(t)
	b := bucket(t, e, "big")
	const size = 40 << 20
	if err := b.Put(ctx, "x.bin", io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	info, err := e.Client.StatObject(ctx, e.Bucket, "big/x.bin", minio.StatObjectOptions{})
	if err != nil || info.Size != size {
		t.Fatalf("stat %+v %v", info, err)
	}
	if !strings.Contains(info.ETag, "-") {
		t.Errorf("ETag %q: want a multipart ETag (md5-N)", info.ETag)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
