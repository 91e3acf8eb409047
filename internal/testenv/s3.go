package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Env is an S3-compatible server with a fresh bucket for one test.
type S3Env struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Bucket    string
	Client    *minio.Client
}

// URL is the archive URL (WHARF_ARCHIVE_URL form) for the bucket and prefix.
func (e S3Env) URL(prefix string) string {
	return "s3://" + e.Bucket + "/" + prefix + "?endpoint=" + e.Endpoint
}

const s3Hint = "build versitygw (GOBIN=$HOME/.cache/wharf-peers go install github.com/versity/versitygw/cmd/versitygw@v1.8.0) and run " +
	"ROOT_ACCESS_KEY=k ROOT_SECRET_KEY=secret123 versitygw --port 127.0.0.1:7070 --quiet posix /tmp/vgw-data " +
	"(or set WHARF_TEST_S3_ENDPOINT, WHARF_TEST_S3_ACCESS_KEY, WHARF_TEST_S3_SECRET_KEY)"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// S3 returns the test S3 server (WHARF_TEST_S3_ENDPOINT, default
// 127.0.0.1:7070, with WHARF_TEST_S3_ACCESS_KEY/SECRET_KEY, default
// k/secret123, as versitygw is started in PEERS.md) and creates a bucket for
// this test, emptied and removed when the test ends.
func S3(t testing.TB) S3Env {
	t.Helper()
	return s3Bucket(t, false)
}

// S3Locked is S3 with a bucket created with Object Lock enabled (versitygw's
// posix backend keeps no versions: it refuses the delete of a locked
// object itself). Locked objects left at the end are removed with the
// governance bypass; compliance-locked ones stay until their date.
func S3Locked(t testing.TB) S3Env {
	t.Helper()
	return s3Bucket(t, true)
}

func s3Bucket(t testing.TB, objectLock bool) S3Env {
	t.Helper()
	e := S3Env{
		Endpoint:  envOr("WHARF_TEST_S3_ENDPOINT", "127.0.0.1:7070"),
		AccessKey: envOr("WHARF_TEST_S3_ACCESS_KEY", "k"),
		SecretKey: envOr("WHARF_TEST_S3_SECRET_KEY", "secret123"),
		Bucket:    "wharf-test-" + randHex(6),
	}
	c, err := minio.New(e.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(e.AccessKey, e.SecretKey, "")})
	if err != nil {
		t.Fatalf("testenv: s3 client: %v", err)
	}
	e.Client = c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx); err != nil {
		Missing(t, "S3 server", s3Hint, err)
		return e
	}
	if err := c.MakeBucket(ctx, e.Bucket, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
		t.Fatalf("testenv: create bucket %s: %v", e.Bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for o := range c.ListObjects(ctx, e.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				_ = c.RemoveObject(ctx, e.Bucket, o.Key, minio.RemoveObjectOptions{GovernanceBypass: objectLock})
			}
		}
		if err := c.RemoveBucket(ctx, e.Bucket); err != nil {
			t.Logf("testenv: remove bucket %s: %v", e.Bucket, err)
		}
	})
	return e
}
