// Package s3 is the object-storage transport (AWS S3, MinIO, versitygw and
// any S3-compatible store) over minio-go.
//
// S3 has no folders and no rename: List shows the objects directly under
// a prefix (a "folder" that holds nothing is simply empty: the transport is
// transports.Flat); Rename copies then deletes, which is not atomic, so a
// poll that moves to a processed prefix may find the copy done and the
// delete not, and finishes it at the next poll. Put relies on S3's atomic
// object creation: an upload becomes visible complete or not at all
// (multipart uploads in 16 MiB parts, aborted on error or cancellation).
// Tag sets object tags (a poll's after: tag).
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/wharfedi/wharf/transports"
)

// Config says where the bucket is.
type Config struct {
	Endpoint  string // host:port
	PlainHTTP bool   // no TLS (local test servers)
	Region    string
	Bucket    string
	Prefix    string // root of the transport inside the bucket, e.g. "partners/acme"
	AccessKey string
	SecretKey string
	// PartSize for multipart uploads of unknown length (default 16 MiB); it
	// is also the memory one upload buffers.
	PartSize uint64
}

// Bucket is the transport.
type Bucket struct {
	c   *minio.Client
	cfg Config
}

// New returns the transport; it makes no request.
func New(cfg Config) (*Bucket, error) {
	if cfg.Bucket == "" || cfg.Endpoint == "" {
		return nil, errors.New("s3: endpoint and bucket are required")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 16 << 20
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" {
		creds = credentials.NewEnvAWS()
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: creds, Secure: !cfg.PlainHTTP, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return &Bucket{c: c, cfg: cfg}, nil
}

func (b *Bucket) key(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	switch {
	case name == "":
		return b.cfg.Prefix
	case b.cfg.Prefix == "":
		return name
	}
	return b.cfg.Prefix + "/" + name
}

// translate maps S3 error codes to the transports sentinels.
func translate(err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "NoSuchKey" || r.Code == "NoSuchBucket" || r.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", transports.ErrNotFound, err)
	case r.Code == "AccessDenied" || r.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %w", transports.ErrPermission, err)
	}
	return err
}

// List implements transports.Transport: the objects directly under dir,
// without dot names and without deeper "folders".
func (b *Bucket) List(ctx context.Context, dir string) ([]transports.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := b.key(dir)
	if prefix != "" {
		prefix += "/"
	}
	var out []transports.Object
	for o := range b.c.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3: list %s: %w", dir, translate(o.Err))
		}
		rel := strings.TrimPrefix(o.Key, prefix)
		if rel == "" || strings.HasSuffix(rel, "/") || strings.HasPrefix(rel, ".") {
			continue
		}
		out = append(out, transports.Object{Name: path.Join(dir, rel), Size: o.Size, ModTime: o.LastModified, ETag: strings.Trim(o.ETag, `"`)})
	}
	return out, nil
}

// Open implements transports.Transport.
func (b *Bucket) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	o, err := b.c.GetObject(ctx, b.cfg.Bucket, b.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3: open %s: %w", name, translate(err))
	}
	if _, err := o.Stat(); err != nil { // GetObject is lazy: surface a missing key here
		o.Close()
		return nil, fmt.Errorf("s3: open %s: %w", name, translate(err))
	}
	return o, nil
}

// Put implements transports.Transport.
func (b *Bucket) Put(ctx context.Context, name string, r io.Reader) error {
	_, err := b.c.PutObject(ctx, b.cfg.Bucket, b.key(name), r, -1, minio.PutObjectOptions{PartSize: b.cfg.PartSize})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", name, translate(err))
	}
	return nil
}

// Remove implements transports.Transport. S3 deletes of missing keys
// succeed, so the key is checked first to report ErrNotFound.
func (b *Bucket) Remove(ctx context.Context, name string) error {
	if _, err := b.c.StatObject(ctx, b.cfg.Bucket, b.key(name), minio.StatObjectOptions{}); err != nil {
		return fmt.Errorf("s3: remove %s: %w", name, translate(err))
	}
	if err := b.c.RemoveObject(ctx, b.cfg.Bucket, b.key(name), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3: remove %s: %w", name, translate(err))
	}
	return nil
}

// Rename implements transports.Renamer as a server-side copy, then a
// delete: not atomic (see the package doc). Objects over 5 GiB cannot be
// copied this way.
func (b *Bucket) Rename(ctx context.Context, from, to string) error {
	_, err := b.c.CopyObject(ctx, minio.CopyDestOptions{Bucket: b.cfg.Bucket, Object: b.key(to)},
		minio.CopySrcOptions{Bucket: b.cfg.Bucket, Object: b.key(from)})
	if err != nil {
		return fmt.Errorf("s3: rename %s: copy: %w", from, translate(err))
	}
	if err := b.c.RemoveObject(ctx, b.cfg.Bucket, b.key(from), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3: rename %s: copied to %s, delete failed: %w", from, to, translate(err))
	}
	return nil
}

// Tag implements transports.Tagger; it replaces the object's tags.
func (b *Bucket) Tag(ctx context.Context, name string, kv map[string]string) error {
	t, err := tags.NewTags(kv, true)
	if err != nil {
		return fmt.Errorf("s3: tag %s: %w", name, err)
	}
	if err := b.c.PutObjectTagging(ctx, b.cfg.Bucket, b.key(name), t, minio.PutObjectTaggingOptions{}); err != nil {
		return fmt.Errorf("s3: tag %s: %w", name, translate(err))
	}
	return nil
}

// Tags returns the object's tags.
func (b *Bucket) Tags(ctx context.Context, name string) (map[string]string, error) {
	t, err := b.c.GetObjectTagging(ctx, b.cfg.Bucket, b.key(name), minio.GetObjectTaggingOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3: tags %s: %w", name, translate(err))
	}
	return t.ToMap(), nil
}

// Flat implements transports.Flat.
func (b *Bucket) Flat() {}

// Close implements transports.Transport; the HTTP client needs no closing.
func (b *Bucket) Close() error { return nil }

var (
	_ transports.Transport = (*Bucket)(nil)
	_ transports.Renamer   = (*Bucket)(nil)
	_ transports.Tagger    = (*Bucket)(nil)
	_ transports.Flat      = (*Bucket)(nil)
)
