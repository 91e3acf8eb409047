package archive

import (
	"context"
	"fmt"
	"strings"

	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
)

// SpoolPending counts entries whose blob waits in the spool (up to limit).
// Only this instance's spool counts: another instance's spooled blobs are
// its own to upload.
func (a *Archive) SpoolPending(ctx context.Context, limit int) (int, error) {
	if a.spool == nil {
		return 0, nil
	}
	n := 0
	for _, prefix := range a.ownSpoolPrefixes() {
		ms, err := a.st.MessagesWithBlobPrefix(ctx, prefix, limit)
		if err != nil {
			return n, err
		}
		n += len(ms)
	}
	return n, nil
}

// UploadSpool moves spooled blobs to the blob store, oldest first: upload,
// then (one transaction) point the index at the uploaded blob and append an
// "uploaded" event, then delete the spool copy once nothing refers to it.
// It stops at the first upload error (the blob store is still down) and
// returns how many entries moved. Safe to run concurrently and repeatedly:
// uploads are idempotent (keys name content).
func (a *Archive) UploadSpool(ctx context.Context) (int, error) {
	if a.spool == nil {
		return 0, nil
	}
	moved := 0
	for _, prefix := range a.ownSpoolPrefixes() {
		n, err := a.uploadSpooled(ctx, prefix)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// uploadSpooled uploads the spooled blobs whose refs start with prefix.
func (a *Archive) uploadSpooled(ctx context.Context, prefix string) (int, error) {
	moved := 0
	for {
		ms, err := a.st.MessagesWithBlobPrefix(ctx, prefix, 100)
		if err != nil {
			return moved, fmt.Errorf("archive: spool: %w", err)
		}
		if len(ms) == 0 {
			return moved, nil
		}
		for _, m := range ms {
			skey := strings.TrimPrefix(m.BlobRef, "spool:")
			key := skey
			if !strings.HasPrefix(key, "sha256/") {
				_, key, _ = strings.Cut(skey, "/") // the spool's name, then the blob's key
			}
			path, err := a.spool.path(skey)
			if err != nil {
				return moved, err
			}
			if err := a.blobs.Put(ctx, key, path, m.Size); err != nil {
				return moved, fmt.Errorf("archive: spool upload of %s to %s: %w", m.ID, a.blobs.Describe(), err)
			}
			ref := a.blobs.Kind() + ":" + key
			err = a.st.WithTx(ctx, func(tx store.Tx) error {
				cur, err := tx.GetMessage(ctx, m.ID)
				if err != nil || cur.BlobRef != m.BlobRef {
					return err // moved by a concurrent run
				}
				if err := tx.SetBlobRef(ctx, m.ID, ref); err != nil {
					return err
				}
				return tx.AppendEvent(ctx, &store.Event{MessageID: m.ID, Kind: lifecycle.EventUploaded, Detail: "blob moved from the local spool to " + ref})
			})
			if err != nil {
				return moved, fmt.Errorf("archive: spool: %w", err)
			}
			moved++
			a.downUntil.Store(0)
			a.metrics.uploaded.Inc()
			_, blobErr, err := a.deleteIfUnreferenced(ctx, m.BlobRef)
			if err != nil {
				return moved, err
			}
			if blobErr != nil {
				a.log.Warn("spool: uploaded blob's spool copy not deleted", "blob", m.BlobRef, "err", blobErr)
			}
		}
	}
}
