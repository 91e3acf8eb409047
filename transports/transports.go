// Package transports defines how Wharf moves bytes to and from partners
// and internal systems: one small, context-first Transport interface that
// every client transport (SFTP, S3, folders, HTTP, AS2) implements, optional
// capabilities discovered by type assertion, and the seams a listening
// transport (Wharf's own SFTP server, the AS2 endpoint) uses to hand what it
// received to the archive and to serve what waits for the partner.
//
// Transports know nothing of formats, mapping or storage: they move bytes,
// and compute checksums on Wharf's side while streaming, never by running
// commands on a partner's server.
package transports

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors, translated by each transport at its boundary.
var (
	// ErrNotFound: the remote object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPermission: the remote side refused (credentials, rights).
	ErrPermission = errors.New("permission denied")
	// ErrRejected: a Receiver refused the bytes for good (retrying the same
	// bytes cannot succeed); a poll moves such a file to its error folder.
	ErrRejected = errors.New("rejected")
)

// Object is a remote file.
type Object struct {
	Name    string // path relative to the transport's root, with '/' separators
	Size    int64
	ModTime time.Time
	// ETag identifies the content where the store provides it (S3); polls
	// include it in idempotency keys, since S3 times have whole seconds.
	ETag string
}

// Transport is a remote folder-like endpoint.
//
// Every method takes a context; cancelling it aborts the operation. A
// Transport is safe for concurrent use unless its doc says otherwise. Put
// must not leave a partial object under the final name: transports that can
// rename write to a temporary name first; those that cannot (S3) rely on the
// store's atomic object creation.
type Transport interface {
	// List returns the objects directly inside dir ("" is the root).
	List(ctx context.Context, dir string) ([]Object, error)
	// Open streams an object's content. The caller closes the reader.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Put stores content under name, complete or not at all.
	Put(ctx context.Context, name string, r io.Reader) error
	// Remove deletes an object; ErrNotFound when it is already gone.
	Remove(ctx context.Context, name string) error
	// Close releases connections.
	Close() error
}

// Renamer is implemented by transports that can rename (move) objects.
// Renaming over an existing name replaces it. Only folder-like transports
// (local folders, SFTP) rename atomically; S3 copies then deletes, which a
// poll tolerates because a half-done move is finished at the next poll.
type Renamer interface {
	Rename(ctx context.Context, from, to string) error
}

// Tagger is implemented by transports whose objects carry key=value tags
// (S3). A poll with AfterTag marks what it archived instead of deleting it.
type Tagger interface {
	Tag(ctx context.Context, name string, tags map[string]string) error
}

// Watcher is implemented by transports that can tell when a folder may
// have changed (local folders, through fsnotify). Watch calls changed once
// as soon as it is watching, then (never concurrently) after changes, and
// blocks until ctx is done; it may call it
// spuriously and may miss changes, so callers also rescan on a timer (see
// Follow).
type Watcher interface {
	Watch(ctx context.Context, dir string, changed func()) error
}

// Flat is implemented by transports without real folders (S3): listing a
// folder that holds nothing returns an empty list instead of ErrNotFound.
type Flat interface {
	Flat()
}

// Incoming describes bytes a listening transport received.
type Incoming struct {
	Partner    string
	Transport  string // "sftp", "as2", ...
	RemoteName string // the name the partner used, e.g. inbound/ORDERS.edi
	RemoteAddr string
	// IdempotencyKey identifies this delivery so a retried hand-off archives once.
	IdempotencyKey string
	// KeyLookedUp: the transport asked its Ledger for IdempotencyKey just
	// before and it was not received; the receiver need not ask again
	// (archive.Meta.KeyLookedUp).
	KeyLookedUp bool
	// Awaited: the sender waits on its connection for the acknowledgment
	// (an SFTP CLOSE, an HTTP post's response), as opposed to a file Wharf
	// fetched itself. Background work gives way to it
	// (internal/foreground). The AS2 server counts a message whole,
	// through all its commits, instead (as2.Server.Foreground).
	Awaited bool
}

// Receiver takes received bytes: it archives them durably and commits their
// processing before returning. Only then may the transport acknowledge the
// sender (SFTP close OK, AS2 MDN, HTTP 2xx).
type Receiver interface {
	Receive(ctx context.Context, in Incoming, r io.Reader) (messageID string, err error)
}

// FileReceiver is a Receiver that can take a complete local file without
// copying it (the archive links it into place), fsync'd or not (see
// StagedFile.Unsynced). Listening transports
// that stage uploads in files use it when offered. The caller keeps its file.
type FileReceiver interface {
	ReceiveFile(ctx context.Context, in Incoming, f StagedFile) (messageID string, err error)
}

// StagedFile is a complete local file for FileReceiver.
type StagedFile struct {
	Path string
	// SHA256 (hex) and Size, when SHA256 is set, were computed by the
	// transport from the bytes as it wrote them to Path, so the receiver
	// need not read the file again. Empty: the receiver hashes the file.
	SHA256 string
	Size   int64
	// Unsynced: the transport did not fsync Path; the receiver makes the
	// bytes durable before it acknowledges them (the archive flushes them
	// with the other files of its next commit).
	Unsynced bool
}

// Waiting is an outbound document waiting for a partner to fetch it.
type Waiting struct {
	MessageID string
	Name      string
	Size      int64
	Created   time.Time
}

// WaitingByNameParams names the document Outbox.WaitingByName looks for.
type WaitingByNameParams struct {
	// Partner is the partner that fetches the document.
	Partner string
	// Transport is the transport it fetches over, e.g. "sftp".
	Transport string
	// Name is the document's name in the partner's folder (Waiting.Name).
	Name string
}

// Outbox serves the documents partners fetch from Wharf (the SFTP server's
// outbound/ folder).
type Outbox interface {
	// Waiting lists the partner's documents not yet removed, oldest first.
	Waiting(ctx context.Context, partner, transport string) ([]Waiting, error)
	// WaitingByName returns the newest document Waiting would list under
	// name, without listing them all (a Stat or a download of one name);
	// ErrNotFound when none has that name.
	WaitingByName(ctx context.Context, p *WaitingByNameParams) (Waiting, error)
	// Open streams a document's archived bytes.
	Open(ctx context.Context, messageID string) (io.ReadCloser, error)
	// Fetched records a complete download.
	Fetched(ctx context.Context, messageID, remoteAddr string, bytes int64) error
	// Removed records that the partner deleted the document from its folder.
	Removed(ctx context.Context, messageID, remoteAddr string) error
}

// SFTPSession is a live, authenticated connection of Wharf's own SFTP server
// (internal/server), as the console and the API (internal/web) list it.
type SFTPSession struct {
	ID            string    `json:"id" doc:"the connection's ID on its instance"`
	Partner       string    `json:"partner"`
	Remote        string    `json:"remote" doc:"the client's address and port"`
	Auth          string    `json:"auth" doc:"how it logged in: the key's SHA256 fingerprint, or password"`
	Since         time.Time `json:"since" doc:"when it logged in"`
	Uploads       int       `json:"uploads" doc:"files uploaded and archived so far"`
	UploadBytes   int64     `json:"upload_bytes"`
	Downloads     int       `json:"downloads" doc:"files downloaded in full so far"`
	DownloadBytes int64     `json:"download_bytes"`
}

// Throttle applies a partner's rate limit to an inbound transfer before any
// byte of it is received: wait > 0 (whole seconds) refuses it, with why.
type Throttle func(ctx context.Context, partner string) (wait int, why string)
