package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wharfedi/wharf/internal/store"
)

// A folder archive keeps small blobs in the index database instead of in
// files of their own (Options.InlineMax): their bytes are written by the
// transaction that records their message, so they are durable with its
// commit. A file per blob cost, before that commit, a temporary file, a
// link, an unlink and a share of a flush of the file system: most of the
// archive's cost per small file, and on SFTP the first of the two flushes
// an upload waited for before its CLOSE OK. Their refs are "db:KEY", KEY
// content-addressed as in the folder (sha256/ab/<sha256>); messages with
// the same content share one row, which a purge deletes with the last
// live entry that refers to it, as it deletes a file.

// dbKind prefixes the refs of blobs the index keeps.
const dbKind = "db"

// dbBlobs is the BlobStore of blobs the index keeps, over the store or,
// inside a transaction, over the transaction (on SQLite a write of the
// store from inside one of its transactions would wait for that very
// transaction).
type dbBlobs struct {
	q    store.Queries
	name string
}

func (d dbBlobs) Kind() string     { return dbKind }
func (d dbBlobs) Describe() string { return "the index database (" + d.name + ")" }

// Put keeps a file's bytes. The archive writes its small blobs with their
// index rows instead (store.Archived.Blob).
func (d dbBlobs) Put(ctx context.Context, key, path string, size int64) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("archive: keep blob %s in the index: %w", key, err)
	}
	if int64(len(b)) != size {
		return fmt.Errorf("archive: keep blob %s in the index: %s has %d bytes, not %d", key, path, len(b), size)
	}
	return d.q.PutArchiveBlob(ctx, key, b)
}

func (d dbBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	b, err := d.q.ArchiveBlob(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("archive: %s in the index: %w", key, ErrBlobNotFound)
	}
	if err != nil {
		return nil, err
	}
	return heldBlob{bytes.NewReader(b)}, nil
}

func (d dbBlobs) Stat(ctx context.Context, key string) (int64, error) {
	n, err := d.q.ArchiveBlobSize(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("archive: %s in the index: %w", key, ErrBlobNotFound)
	}
	return n, err
}

func (d dbBlobs) Delete(ctx context.Context, key string) error {
	return d.q.DeleteArchiveBlob(ctx, key)
}

// heldBlob reads a blob's bytes from memory. Like processing's reader it
// keeps the *bytes.Reader's Len, by which readers over it size their
// buffers to the blob.
type heldBlob struct{ *bytes.Reader }

func (heldBlob) Close() error { return nil }

// readSmall reads r whole when it holds at most max bytes: the bytes, and
// nil for the rest. Otherwise it returns nil bytes and a reader of
// everything r held (what it read, then the rest of r).
func readSmall(ctx context.Context, r io.Reader, max int64) ([]byte, io.Reader, error) {
	n := max + 1
	if l, ok := r.(interface{ Len() int }); ok && int64(l.Len()) < n {
		n = int64(l.Len()) + 1 // what is left, plus one to see its end
	}
	r = ctxReader{ctx, r}
	buf := make([]byte, n)
	got, err := io.ReadFull(r, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return buf[:got:got], nil, nil // fewer than n bytes: at most max
	}
	if err != nil {
		return nil, nil, fmt.Errorf("archive: put: read: %w", err)
	}
	if n <= max { // Len said less than there was: read on, up to max+1
		more, err := io.ReadAll(io.LimitReader(r, max+1-n))
		if err != nil {
			return nil, nil, fmt.Errorf("archive: put: read: %w", err)
		}
		buf = append(buf, more...)
	}
	if int64(len(buf)) > max {
		return nil, io.MultiReader(bytes.NewReader(buf), r), nil
	}
	return buf, nil, nil
}

// sumOf is the hex sha256 of b.
func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
