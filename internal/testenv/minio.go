package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOVersion is the MinIO server .ci/run builds (go install ...@MinIOVersion);
// docs/archive.md names the same version as tested.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

const minioHint = "build MinIO (GOBIN=$HOME/.cache/wharf-peers go install github.com/minio/minio@" + MinIOVersion + ", several minutes cold) and run " +
	"MINIO_ROOT_USER=wharf MINIO_ROOT_PASSWORD=wharf-secret-123 MINIO_BROWSER=off MINIO_UPDATE=off " +
	"$HOME/.cache/wharf-peers/minio server --quiet --address 127.0.0.1:9000 /tmp/minio-data " +
	"(or set WHARF_TEST_MINIO_ENDPOINT, WHARF_TEST_MINIO_ACCESS_KEY, WHARF_TEST_MINIO_SECRET_KEY; .ci/run does all this)"

// MinIO returns the test MinIO server (WHARF_TEST_MINIO_ENDPOINT, default
// 127.0.0.1:9000, with WHARF_TEST_MINIO_ACCESS_KEY/SECRET_KEY, default
// wharf/wharf-secret-123) and creates a bucket for this test, with Object
// Lock when objectLock is set. MinIO, unlike versitygw's posix backend,
// enforces Object Lock: the archive's WORM tests need it.
//
// When the test ends the bucket is emptied and removed as far as the server
// allows: objects under COMPLIANCE retention cannot be deleted before their
// date, so a locked bucket stays behind (in CI, in a data folder removed
// after the run).
func MinIO(t testing.TB, objectLock bool) S3Env {
	t.Helper()
	e := S3Env{
		Endpoint:  envOr("WHARF_TEST_MINIO_ENDPOINT", "127.0.0.1:9000"),
		AccessKey: envOr("WHARF_TEST_MINIO_ACCESS_KEY", "wharf"),
		SecretKey: envOr("WHARF_TEST_MINIO_SECRET_KEY", "wharf-secret-123"),
		Bucket:    "wharf-test-" + randHex(6),
	}
	c, err := minio.New(e.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(e.AccessKey, e.SecretKey, "")})
	if err != nil {
		t.Fatalf("testenv: minio client: %v", err)
	}
	e.Client = c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ListBuckets(ctx); err != nil {
		Missing(t, "MinIO server", minioHint, err)
		return e
	}
	if err := c.MakeBucket(ctx, e.Bucket, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
		t.Fatalf("testenv: create bucket %s (object lock %v): %v", e.Bucket, objectLock, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		locked := 0
		for o := range c.ListObjects(ctx, e.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				continue
			}
			// GovernanceBypass removes GOVERNANCE-locked versions; COMPLIANCE ones stay.
			if err := c.RemoveObject(ctx, e.Bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID, GovernanceBypass: true}); err != nil {
				locked++
			}
		}
		if locked > 0 {
			t.Logf("testenv: bucket %s kept: %d object versions under COMPLIANCE retention", e.Bucket, locked)
			return
		}
		if err := c.RemoveBucket(ctx, e.Bucket); err != nil {
			t.Logf("testenv: remove bucket %s: %v", e.Bucket, err)
		}
	})
	return e
}
