package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an S3-compatible blob store.
type S3Config struct {
	Endpoint  string // host:port
	Secure    bool   // https
	Region    string
	Bucket    string
	Prefix    string // keys are PREFIX/sha256/ab/...
	AccessKey string
	SecretKey string
	// LockMode and LockFor store every blob under Object Lock (WORM) until
	// upload time + LockFor: "GOVERNANCE" or "COMPLIANCE". The bucket must
	// have been created with Object Lock enabled.
	LockMode string
	LockFor  time.Duration
	// PartSize is the multipart part size (default 16 MiB); objects larger
	// than one part are uploaded in parts, two at a time.
	PartSize uint64
	// MaxRetries per request (default 2): an unreachable server must make
	// Put spool quickly, not keep a partner's upload waiting.
	MaxRetries int
}

// ErrNoObjectLock: the archive is configured to store blobs under Object
// Lock (lock=...), but the bucket was created without Object Lock. This is a
// configuration error that no retry heals: Put fails instead of spooling.
var ErrNoObjectLock = errors.New("the bucket has no Object Lock: object lock (WORM) can only be enabled when a bucket is created " +
	"(mc mb --with-lock, or MakeBucket with ObjectLocking); create the bucket that way, or remove lock= and retain= from the archive URL")

// ErrLocked: a blob cannot be deleted yet because its Object Lock retention
// has not expired.
var ErrLocked = errors.New("blob is under Object Lock retention")

// S3 is a BlobStore in an S3-compatible bucket (AWS S3, MinIO, versitygw).
type S3 struct {
	c   *minio.Client
	cfg S3Config
}

// NewS3 returns an S3 store. It does not contact the server: an unreachable
// server makes Put fail (and the archive spool) rather than stopping start-up.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("archive: s3 needs an endpoint and a bucket")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 16 << 20
	}
	switch cfg.LockMode {
	case "", "GOVERNANCE", "COMPLIANCE":
	default:
		return nil, fmt.Errorf("archive: s3 object lock mode %q: use GOVERNANCE or COMPLIANCE", cfg.LockMode)
	}
	if cfg.LockMode != "" && cfg.LockFor <= 0 {
		return nil, errors.New("archive: s3 object lock needs a retention period")
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 2
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("archive: s3 %s: %w", cfg.Endpoint, err)
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	return &S3{c: c, cfg: cfg}, nil
}

// ParseS3URL reads s3://BUCKET/PREFIX?endpoint=HOST:PORT[&secure=true][&region=R]
// [&lock=GOVERNANCE|COMPLIANCE&retain=7y]. Credentials come from
// WHARF_S3_ACCESS_KEY and WHARF_S3_SECRET_KEY (or the file
// WHARF_S3_SECRET_KEY_FILE names, as a container secret), else
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
func ParseS3URL(raw string, getenv func(string) string) (S3Config, error) {
	var cfg S3Config
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return cfg, fmt.Errorf("archive: %q is not s3://BUCKET/PREFIX?endpoint=HOST:PORT", raw)
	}
	q := u.Query()
	cfg.Bucket, cfg.Prefix = u.Host, strings.Trim(u.Path, "/")
	cfg.Endpoint, cfg.Region = q.Get("endpoint"), q.Get("region")
	if cfg.Endpoint == "" {
		cfg.Endpoint = "s3.amazonaws.com"
		cfg.Secure = true
	}
	if s := q.Get("secure"); s != "" {
		if cfg.Secure, err = strconv.ParseBool(s); err != nil {
			return cfg, fmt.Errorf("archive: %s: secure=%q is not true or false", raw, s)
		}
	}
	cfg.LockMode = strings.ToUpper(q.Get("lock"))
	if r := q.Get("retain"); r != "" {
		if cfg.LockFor, err = ParseDays(r); err != nil {
			return cfg, fmt.Errorf("archive: %s: retain: %w", raw, err)
		}
	}
	cfg.AccessKey, cfg.SecretKey = getenv("WHARF_S3_ACCESS_KEY"), getenv("WHARF_S3_SECRET_KEY")
	if f := getenv("WHARF_S3_SECRET_KEY_FILE"); f != "" && cfg.SecretKey == "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return cfg, fmt.Errorf("archive: WHARF_S3_SECRET_KEY_FILE: %w", err)
		}
		cfg.SecretKey = strings.TrimSpace(string(b))
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey, cfg.SecretKey = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	}
	return cfg, nil
}

func (s *S3) Kind() string { return "s3" }

func (s *S3) Describe() string {
	scheme := "http"
	if s.cfg.Secure {
		scheme = "https"
	}
	return fmt.Sprintf("s3://%s/%s (%s://%s)", s.cfg.Bucket, s.cfg.Prefix, scheme, s.cfg.Endpoint)
}

func (s *S3) object(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return path.Join(s.cfg.Prefix, key)
}

// Locked reports whether blobs are stored under Object Lock (lock=...).
func (s *S3) Locked() bool { return s.cfg.LockMode != "" }

// CheckLock reports, when the store is configured with an Object Lock mode,
// whether the bucket has Object Lock enabled: ErrNoObjectLock when the
// server says it has not, another error when the server cannot tell (it
// is unreachable, say). Without a lock mode it does nothing.
func (s *S3) CheckLock(ctx context.Context) error {
	if s.cfg.LockMode == "" {
		return nil
	}
	enabled, _, _, _, err := s.c.GetObjectLockConfig(ctx, s.cfg.Bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "ObjectLockConfigurationNotFoundError" {
			return s.noLock()
		}
		return fmt.Errorf("archive: s3 %s: object lock configuration: %w", s.Describe(), err)
	}
	if enabled != "Enabled" {
		return s.noLock()
	}
	return nil
}

func (s *S3) noLock() error {
	return fmt.Errorf("archive: s3 %s is configured with lock=%s, but %w", s.Describe(), s.cfg.LockMode, ErrNoObjectLock)
}

// missingLockConfig reports whether a put with Object Lock headers failed
// because the bucket has no Object Lock ("Bucket is missing
// ObjectLockConfiguration" from MinIO, "... Object Lock Configuration"
// from AWS).
func missingLockConfig(err error) bool {
	r := minio.ToErrorResponse(err)
	msg := strings.ToLower(strings.ReplaceAll(r.Message, " ", ""))
	return r.Code == "ObjectLockConfigurationNotFoundError" ||
		(r.Code == "InvalidRequest" && strings.Contains(msg, "missingobjectlockconfiguration"))
}

// Check reports whether the bucket is reachable and exists.
func (s *S3) Check(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("archive: s3 %s: %w", s.Describe(), err)
	}
	if !ok {
		return fmt.Errorf("archive: s3 bucket %s does not exist", s.cfg.Bucket)
	}
	return nil
}

func (s *S3) Put(ctx context.Context, key, file string, size int64) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("archive: s3 put %s: %w", key, err)
	}
	defer f.Close()
	// PutObject reads size bytes and stops: a longer file would be stored
	// cut short, under the address of content it does not hold.
	if st, err := f.Stat(); err != nil {
		return fmt.Errorf("archive: s3 put %s: %w", key, err)
	} else if st.Size() != size {
		return fmt.Errorf("archive: s3 put %s: %s has %d bytes, not %d", key, file, st.Size(), size)
	}
	opts := minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    s.cfg.PartSize,
		NumThreads:  2,
		UserMetadata: map[string]string{
			"wharf-sha256": path.Base(key),
		},
	}
	if s.cfg.LockMode != "" {
		opts.Mode = minio.RetentionMode(s.cfg.LockMode)
		opts.RetainUntilDate = time.Now().Add(s.cfg.LockFor).UTC()
	}
	if _, err := s.c.PutObject(ctx, s.cfg.Bucket, s.object(key), f, size, opts); err != nil {
		if size > int64(s.cfg.PartSize) && ctx.Err() != nil {
			s.abortUploads(ctx, key)
		}
		if s.cfg.LockMode != "" && missingLockConfig(err) {
			return fmt.Errorf("archive: s3 put %s: %w (server: %w)", key, s.noLock(), err)
		}
		if s.cfg.LockMode != "" && s.keepLocked(ctx, key, size, opts.RetainUntilDate) {
			return nil
		}
		return fmt.Errorf("archive: s3 put %s: %w", key, err)
	}
	return nil
}

// keepLocked handles a Put refused because the same content is already
// stored under Object Lock in a bucket that keeps no versions (versitygw's
// posix backend refuses to overwrite a locked object; a versioned bucket
// adds a version instead). Keys name content, so the stored object is the
// blob: its retention is extended to until (never shortened), and the Put
// has succeeded.
func (s *S3) keepLocked(ctx context.Context, key string, size int64, until time.Time) bool {
	obj := s.object(key)
	info, err := s.c.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{})
	if err != nil || info.Size != size || info.UserMetadata["Wharf-Sha256"] != path.Base(key) {
		return false
	}
	if _, current, locked := s.retention(ctx, obj, ""); locked && !current.Before(until) {
		return true
	}
	mode := minio.RetentionMode(s.cfg.LockMode)
	err = s.c.PutObjectRetention(ctx, s.cfg.Bucket, obj, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &until})
	return err == nil
}

// abortUploads aborts the unfinished multipart uploads of key after a
// cancelled Put. minio-go aborts the upload of a failed PutObject itself,
// but not one whose creation the cancellation cut off (the server created
// it, the client never learnt its id), and versitygw can keep an upload
// whose part was still arriving when the abort came. Unaborted, their parts
// stay on the server, invisible to listings and Verify, until a lifecycle
// rule removes them. A concurrent Put of the same key (the same bytes)
// loses its upload too and fails; the archive then spools that blob and
// uploads it later, so nothing is lost.
func (s *S3) abortUploads(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.c.RemoveIncompleteUpload(ctx, s.cfg.Bucket, s.object(key))
}

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.c.GetObject(ctx, s.cfg.Bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("archive: s3 get %s: %w", key, err)
	}
	// GetObject is lazy: Stat surfaces a missing object now, not at the first Read.
	if _, err := o.Stat(); err != nil {
		o.Close()
		if notFound(err) {
			return nil, fmt.Errorf("archive: s3 %s: %w", key, ErrBlobNotFound)
		}
		return nil, fmt.Errorf("archive: s3 get %s: %w", key, err)
	}
	return o, nil
}

func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	info, err := s.c.StatObject(ctx, s.cfg.Bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return 0, fmt.Errorf("archive: s3 %s: %w", key, ErrBlobNotFound)
		}
		return 0, fmt.Errorf("archive: s3 stat %s: %w", key, err)
	}
	return info.Size, nil
}

// Delete removes the blob. In a versioned bucket (every bucket with Object
// Lock is one) a plain delete would only add a delete marker: the blob would
// disappear from view while its bytes stay. There Delete removes every
// version of the key instead, and the server refuses the versions whose
// retention has not expired: the error then wraps ErrLocked and says until
// when.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj := s.object(key)
	if !s.versioned(ctx) {
		// Object Lock without versioning (versitygw's posix backend): the
		// server refuses the delete of a locked object itself.
		if err := s.c.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			if mode, until, ok := s.retention(ctx, obj, ""); ok {
				return &LockedError{Key: key, Mode: mode, Until: until, Err: err}
			}
			return fmt.Errorf("archive: s3 delete %s: %w", key, err)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx) // stops the listing on an early return
	defer cancel()
	var first error
	var locked *LockedError // the locked version with the latest date
	for o := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: obj, WithVersions: true}) {
		if o.Err != nil {
			return fmt.Errorf("archive: s3 delete %s: listing versions: %w", key, o.Err)
		}
		if o.Key != obj {
			continue
		}
		err := s.c.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{VersionID: o.VersionID})
		if err == nil || notFound(err) {
			continue
		}
		if first == nil {
			first = fmt.Errorf("archive: s3 delete %s (version %s): %w", key, o.VersionID, err)
		}
		if o.IsDeleteMarker {
			continue
		}
		if mode, until, ok := s.retention(ctx, obj, o.VersionID); ok && (locked == nil || until.After(locked.Until)) {
			locked = &LockedError{Key: key, Version: o.VersionID, Mode: mode, Until: until, Err: err}
		}
	}
	if locked != nil {
		return locked
	}
	return first
}

// retention is the Object Lock retention of a version ("" for the only or
// latest one) when its date has not passed. It asks with GetObjectRetention
// and, when the answer cannot be read (versitygw v1.8.0 answers with an
// <ObjectLockRetention> root element minio-go refuses), with a HEAD, whose
// x-amz-object-lock-* headers say the same.
func (s *S3) retention(ctx context.Context, obj, version string) (mode string, until time.Time, ok bool) {
	if m, u, err := s.c.GetObjectRetention(ctx, s.cfg.Bucket, obj, version); err == nil && m != nil && u != nil {
		mode, until = string(*m), u.UTC()
	} else {
		info, err := s.c.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{VersionID: version})
		if err != nil {
			return "", time.Time{}, false
		}
		mode = info.Metadata.Get("X-Amz-Object-Lock-Mode")
		if until, err = time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date")); err != nil {
			return "", time.Time{}, false
		}
		until = until.UTC()
	}
	return mode, until, mode != "" && until.After(time.Now())
}

// LockedError is the error of a Delete refused because of Object Lock
// retention: the version with the latest retention date, and that date.
// errors.Is(err, ErrLocked) holds.
type LockedError struct {
	Key, Version, Mode string
	Until              time.Time
	Err                error // the server's refusal
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("archive: s3 %s (version %s): %v: %s until %s (server: %v)",
		e.Key, e.Version, ErrLocked, e.Mode, e.Until.Format(time.RFC3339), e.Err)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// versioned reports whether the bucket keeps versions. A server that cannot
// say (versitygw's posix backend answers NotImplemented) is taken as
// unversioned.
func (s *S3) versioned(ctx context.Context) bool {
	v, err := s.c.GetBucketVersioning(ctx, s.cfg.Bucket)
	return err == nil && (v.Enabled() || v.Suspended())
}

var _ BlobStore = (*S3)(nil)

// OpenBlobs opens the blob store an archive URL names: a folder, or
// s3://BUCKET/PREFIX?endpoint=HOST:PORT. For S3 it also opens the local
// spool in spoolDir.
func OpenBlobs(archiveURL, spoolDir string, getenv func(string) string) (BlobStore, *FS, error) {
	if !strings.HasPrefix(archiveURL, "s3://") {
		fsb, err := NewFS(archiveURL)
		return fsb, nil, err
	}
	cfg, err := ParseS3URL(archiveURL, getenv)
	if err != nil {
		return nil, nil, err
	}
	s3b, err := NewS3(cfg)
	if err != nil {
		return nil, nil, err
	}
	spool, err := NewSpool(filepath.Clean(spoolDir))
	if err != nil {
		return nil, nil, err
	}
	return s3b, spool, nil
}
