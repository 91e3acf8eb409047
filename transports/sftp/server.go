// Package sftp is Wharf's SFTP transport: the partner-facing server's
// virtual file system (this file) and the client that polls and pushes to
// partners' servers (client.go).
package sftp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"

	"github.com/wharfedi/wharf/transports"
)

// ServerOptions configure one partner's session.
type ServerOptions struct {
	Partner     string
	RemoteAddr  string
	Receiver    transports.Receiver
	Outbox      transports.Outbox
	SpoolDir    string // where uploads are staged until archived
	MaxFileSize int64  // 0: no limit
	// StageInMemory: an upload of up to this many bytes is staged in
	// memory, not in a file of SpoolDir (the archive keeps such files in
	// its index: no file is made for them at all); 0 stages every upload
	// in a file. At most maxInMemory uploads of a session are held so.
	StageInMemory int64
	AllowDelete   bool // may the partner delete documents from outbound/
	// Throttle, when set, applies the partner's rate limit to uploads:
	// each open for writing in inbound/ asks it, and a refusal (wait > 0,
	// whole seconds) fails the open with why and the wait, before any
	// byte is staged.
	Throttle transports.Throttle
	Log      *slog.Logger
}

// Session is one partner's view: a home with inbound/ and outbound/, and
// nothing else. Paths never map to the server's file system, so no path,
// "..", or link can reach anything outside it.
type Session struct {
	o ServerOptions

	mu       sync.Mutex
	uploaded map[string]int64   // inbound names archived in this session, for Stat
	staged   map[string]*upload // uploads under a temporary name, archived on rename
	inMemory atomic.Int32       // uploads staged in memory (stage), at most maxInMemory; no lock: discard runs under mu
	fetched  map[string]bool    // outbound names downloaded in full in this session
	totals   Totals
}

// Totals count a session's completed transfers.
type Totals struct {
	Uploads, Downloads         int
	UploadBytes, DownloadBytes int64
}

// Totals returns the session's completed transfers so far.
func (s *Session) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals
}

// NewSession returns the handlers for one SFTP session.
func NewSession(o ServerOptions) *Session {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Session{o: o, uploaded: map[string]int64{}, staged: map[string]*upload{}, fetched: map[string]bool{}}
}

// Handlers returns the pkg/sftp request-server handlers.
func (s *Session) Handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: s, FilePut: s, FileCmd: s, FileList: s}
}

var (
	_ sftp.FileReader         = (*Session)(nil)
	_ sftp.FileWriter         = (*Session)(nil)
	_ sftp.FileCmder          = (*Session)(nil)
	_ sftp.FileLister         = (*Session)(nil)
	_ sftp.RealPathFileLister = (*Session)(nil)
)

// errDenied is sent to the client as SSH_FX_PERMISSION_DENIED.
var errDenied = sftp.ErrSSHFxPermissionDenied

// split returns the top folder ("inbound", "outbound", "" for the home) and
// the file name inside it; nested paths are refused.
func split(p string) (dir, name string, err error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return "", "", nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if parts[0] != "inbound" && parts[0] != "outbound" {
		return "", "", fmt.Errorf("%w: only inbound/ and outbound/ exist here", sftp.ErrSSHFxNoSuchFile)
	}
	switch len(parts) {
	case 1:
		return parts[0], "", nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%w: no sub-folders in %s/", sftp.ErrSSHFxNoSuchFile, parts[0])
}

// RealPath keeps every path inside the virtual home.
func (s *Session) RealPath(p string) (string, error) { return path.Clean("/" + p), nil }

// isTempName tells names that clients use while an upload is in progress
// (WinSCP's .filepart, FileZilla-like .part/.tmp, Wharf's own client's
// .NAME.RANDOM.part): such an upload is staged when closed and archived
// only when renamed to its final name.
func isTempName(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, ".filepart") || strings.HasSuffix(l, ".part") || strings.HasSuffix(l, ".tmp")
}

// checkUploadName refuses a name an upload may not have, at open or as a
// rename target: a name starting with "." that is not a temporary name.
// Such a name is ambiguous (a hidden final file, or a temporary one the
// client means to rename?): staging it would answer CLOSE with OK for a
// file that is never archived if the client meant it as final, so the
// client is told at once instead.
func checkUploadName(name string) error {
	if strings.HasPrefix(name, ".") && !isTempName(name) {
		return fmt.Errorf("%w: inbound/%s: names starting with \".\" are not accepted; upload under the final name, "+
			"or under a temporary name ending in .part, .filepart or .tmp and rename it to the final name", errDenied, name)
	}
	return nil
}

// Filewrite starts an upload into inbound/. Bytes go to a staging file; the
// upload is archived (and its processing committed) in Close, and Close's
// result is what the client's CLOSE returns: OK means durable.
func (s *Session) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	dir, name, err := split(r.Filepath)
	if err != nil {
		return nil, err
	}
	if dir != "inbound" || name == "" {
		return nil, fmt.Errorf("%w: upload into inbound/", errDenied)
	}
	if err := checkUploadName(name); err != nil {
		s.o.Log.Warn("sftp upload refused at open: name starts with \".\" (not a temporary name); the client is told", "partner", s.o.Partner, "remote", s.o.RemoteAddr, "file", "inbound/"+name)
		return nil, err
	}
	if r.Pflags().Append {
		return nil, fmt.Errorf("%w: appending is not supported; upload the whole file", errDenied)
	}
	if s.o.Throttle != nil {
		if wait, why := s.o.Throttle(r.Context(), s.o.Partner); wait > 0 {
			// SSH_FX_FAILURE with the reason: the client shows it as is.
			return nil, fmt.Errorf("inbound/%s refused: %s", name, why)
		}
	}
	st := &stage{open: func() (*os.File, error) { return s.spoolFile("upload-*") }}
	if s.o.StageInMemory > 0 {
		if s.inMemory.Add(1) <= maxInMemory {
			st.max = s.o.StageInMemory
			st.spilled = func() { s.inMemory.Add(-1) }
		} else {
			s.inMemory.Add(-1)
		}
	}
	if st.max == 0 { // a file from the start: a spool folder that cannot take one fails the open
		if err := st.spill(); err != nil {
			return nil, fmt.Errorf("cannot stage upload: %w", err)
		}
	}
	return &upload{s: s, name: name, st: st, started: time.Now(), h: sha256.New()}, nil
}

// maxInMemory bounds the uploads of one session staged in memory at once
// (a client may hold many files open); the others are staged in files.
const maxInMemory = 16

// spoolFile creates a new file in the spool folder, and the folder first
// only when it is missing (not a stat of it for every upload).
func (s *Session) spoolFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(s.o.SpoolDir, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(s.o.SpoolDir, 0o750); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(s.o.SpoolDir, pattern)
	}
	return f, err
}

type upload struct {
	s       *Session
	name    string
	st      *stage
	started time.Time

	mu       sync.Mutex
	size     int64
	failed   error
	aborted  error
	closed   bool
	unsynced int64         // bytes written since the last background flush started
	syncing  chan struct{} // closed when the background flush ends; nil when none runs

	hashing sync.Mutex
	h       hash.Hash       // sha256 of the bytes [0, hashed); nil: given up, the archive hashes the file
	hashed  int64           // the written prefix hashed so far
	ahead   map[int64]int64 // written ranges (start to end) beyond the hashed prefix
}

// maxAhead bounds the written ranges an upload remembers beyond its hashed
// prefix; a client writing that far out of order has its file hashed by
// the archive instead.
const maxAhead = 1024

// hashWritten hashes bytes just written at off while the file grows from its
// start, so that the archive need not read it again: in order (OpenSSH and
// most clients write in order, and the request server's workers only
// reorder writes that are in flight together) straight from p, and ranges
// written ahead of the hashed prefix from the file once the gap before them
// is filled. A write into bytes already hashed gives up.
func (u *upload) hashWritten(p []byte, off int64) {
	u.hashing.Lock()
	defer u.hashing.Unlock()
	if u.h == nil || len(p) == 0 {
		return
	}
	switch {
	case off < u.hashed:
		u.giveUpHash()
		return
	case off > u.hashed:
		if len(u.ahead) >= maxAhead {
			u.giveUpHash()
			return
		}
		if u.ahead == nil {
			u.ahead = map[int64]int64{}
		}
		u.ahead[off] = max(u.ahead[off], off+int64(len(p)))
		return
	}
	u.h.Write(p)
	u.hashed += int64(len(p))
	for len(u.ahead) > 0 {
		next := int64(-1)
		for start, end := range u.ahead {
			if start <= u.hashed {
				if end > next {
					next = end
				}
				delete(u.ahead, start)
			}
		}
		if next < 0 {
			return
		}
		if next > u.hashed {
			if _, err := io.Copy(u.h, io.NewSectionReader(u.st, u.hashed, next-u.hashed)); err != nil {
				u.giveUpHash()
				return
			}
			u.hashed = next
		}
	}
}

func (u *upload) giveUpHash() { u.h, u.ahead = nil, nil }

// sum returns the upload's sha256 when the whole file of size bytes was
// hashed while written; "" otherwise.
func (u *upload) sum(size int64) string {
	u.hashing.Lock()
	defer u.hashing.Unlock()
	if u.h == nil || u.hashed != size || len(u.ahead) > 0 {
		return ""
	}
	return hex.EncodeToString(u.h.Sum(nil))
}

// flushEvery starts a background fsync after this many bytes, so that the
// fsync at CLOSE (which the client waits for) has little left to write.
const flushEvery = 32 << 20

func (u *upload) WriteAt(p []byte, off int64) (int, error) {
	u.mu.Lock()
	if u.failed != nil {
		u.mu.Unlock()
		return 0, u.failed
	}
	end := off + int64(len(p))
	if off < 0 || end < off {
		// pkg/sftp hands a packet's unsigned 64-bit offset on as an
		// int64: past 2^63 it is negative, near it the end wraps.
		u.failed = fmt.Errorf("write at offset %d: not a position in a file", uint64(off))
		u.mu.Unlock()
		return 0, u.failed
	}
	if max := u.s.o.MaxFileSize; max > 0 && end > max {
		u.failed = fmt.Errorf("file exceeds the maximum size of %d bytes", max)
		u.mu.Unlock()
		return 0, u.failed
	}
	u.mu.Unlock()
	n, err := u.st.WriteAt(p, off)
	u.hashWritten(p[:n], off)
	u.mu.Lock()
	if err != nil && u.failed == nil {
		u.failed = fmt.Errorf("cannot stage upload: %w", err)
	}
	if e := off + int64(n); e > u.size {
		u.size = e
	}
	u.unsynced += int64(n)
	if f := u.st.file(); f != nil && u.unsynced >= flushEvery && u.syncing == nil {
		u.unsynced = 0
		done := make(chan struct{})
		u.syncing = done
		go func() {
			_ = f.Sync()
			u.mu.Lock()
			u.syncing = nil
			u.mu.Unlock()
			close(done)
		}()
	}
	u.mu.Unlock()
	return n, err
}

// waitFlush waits for a background fsync still running.
func (u *upload) waitFlush() {
	u.mu.Lock()
	done := u.syncing
	u.mu.Unlock()
	if done != nil {
		<-done
	}
}

// TransferError is called by pkg/sftp when the session ends with the file
// still open (dropped connection): the upload is incomplete and discarded.
func (u *upload) TransferError(err error) {
	u.mu.Lock()
	u.aborted = err
	u.mu.Unlock()
}

func (u *upload) discard() {
	u.waitFlush()
	u.st.discard()
}

func (u *upload) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	failed, aborted := u.failed, u.aborted
	u.mu.Unlock()
	if aborted != nil {
		u.discard()
		u.s.o.Log.Warn("sftp upload aborted; discarded, not processed", u.logAttrs(u.name, "reason", aborted, "bytes", u.size)...)
		return aborted
	}
	if failed != nil {
		u.discard()
		u.s.o.Log.Warn("sftp upload failed; discarded, not processed", u.logAttrs(u.name, "reason", failed)...)
		return failed
	}
	if isTempName(u.name) {
		// Kept until the client renames it to its final name.
		u.s.mu.Lock()
		if old := u.s.staged[u.name]; old != nil {
			old.discard()
		}
		u.s.staged[u.name] = u
		u.s.mu.Unlock()
		return nil
	}
	return u.archive(u.name)
}

// archive hands the staged bytes to the receiver under the final name.
func (u *upload) archive(final string) error {
	defer u.discard()
	u.waitFlush()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	in := transports.Incoming{Partner: u.s.o.Partner, Transport: "sftp", RemoteName: "inbound/" + final, RemoteAddr: u.s.o.RemoteAddr, Awaited: true}
	var id string
	var err error
	mem, f := u.st.content(u.size)
	fr, byFile := u.s.o.Receiver.(transports.FileReceiver)
	switch {
	case f == nil: // staged in memory: the receiver reads it from there
		id, err = u.s.o.Receiver.Receive(ctx, in, mem)
	case byFile:
		// The receiver makes the file durable with the others it commits
		// at that moment (one flush for many small uploads).
		id, err = fr.ReceiveFile(ctx, in, transports.StagedFile{Path: f.Name(), SHA256: u.sum(u.size), Size: u.size, Unsynced: true})
	default:
		if err = f.Sync(); err != nil {
			return fmt.Errorf("cannot stage upload: %w", err)
		}
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			id, err = u.s.o.Receiver.Receive(ctx, in, f)
		}
	}
	if err != nil {
		u.s.o.Log.Error("sftp upload NOT accepted: archiving failed; the client is told the upload failed", u.logAttrs(final, "err", err)...)
		return fmt.Errorf("upload not accepted, try again later: %w", err)
	}
	u.s.mu.Lock()
	u.s.uploaded[final] = u.size
	u.s.totals.Uploads++
	u.s.totals.UploadBytes += u.size
	u.s.mu.Unlock()
	u.s.o.Log.Info("sftp upload received", u.logAttrs(final, "message", id, "bytes", u.size, "took", time.Since(u.started))...)
	return nil
}

// logAttrs names the partner, its address and the upload's file (under
// name) before more, for the upload's log lines. (Not a Logger.With per
// upload: that formats the attributes ahead of a line that, for most
// uploads, is the only one.)
func (u *upload) logAttrs(name string, more ...any) []any {
	return append([]any{"partner", u.s.o.Partner, "remote", u.s.o.RemoteAddr, "file", "inbound/" + name}, more...)
}

// Discard drops uploads still staged under temporary names (session end).
func (s *Session) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, u := range s.staged {
		s.o.Log.Warn("sftp upload left under a temporary name at session end; discarded", "partner", s.o.Partner, "file", "inbound/"+name)
		u.discard()
		delete(s.staged, name)
	}
}

// Fileread serves a download from outbound/.
func (s *Session) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	dir, name, err := split(r.Filepath)
	if err != nil {
		return nil, err
	}
	if dir != "outbound" || name == "" {
		return nil, fmt.Errorf("%w: download from outbound/", sftp.ErrSSHFxNoSuchFile)
	}
	w, err := s.find(r.Context(), name)
	if err != nil {
		return nil, err
	}
	rc, err := s.o.Outbox.Open(r.Context(), w.MessageID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Clients read out of order; serve from a local copy of the archived bytes.
	f, err := s.spoolFile("download-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read %s from the archive: %w", name, err)
	}
	return &download{s: s, w: w, f: f}, nil
}

type download struct {
	s *Session
	w transports.Waiting

	mu      sync.Mutex
	f       *os.File
	served  int64 // highest offset served
	aborted error
}

func (d *download) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.mu.Lock()
	if e := off + int64(n); e > d.served {
		d.served = e
	}
	d.mu.Unlock()
	return n, err
}

func (d *download) TransferError(err error) {
	d.mu.Lock()
	d.aborted = err
	d.mu.Unlock()
}

func (d *download) Close() error {
	d.f.Close()
	d.mu.Lock()
	complete := d.aborted == nil && d.served >= d.w.Size
	d.mu.Unlock()
	if !complete {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d.s.mu.Lock()
	d.s.totals.Downloads++
	d.s.totals.DownloadBytes += d.w.Size
	d.s.fetched[d.w.Name] = true
	d.s.mu.Unlock()
	if err := d.s.o.Outbox.Fetched(ctx, d.w.MessageID, d.s.o.RemoteAddr, d.w.Size); err != nil {
		d.s.o.Log.Error("sftp download: cannot record delivery", "partner", d.s.o.Partner, "message", d.w.MessageID, "err", err)
		return nil // the partner has its bytes; the record is ours to fix
	}
	d.s.o.Log.Info("sftp download complete", "partner", d.s.o.Partner, "remote", d.s.o.RemoteAddr, "file", "outbound/"+d.w.Name, "message", d.w.MessageID, "bytes", d.w.Size)
	return nil
}

// find resolves an outbound name to its newest waiting document, by name:
// the partner's whole waiting list is read only to list the folder.
func (s *Session) find(ctx context.Context, name string) (transports.Waiting, error) {
	w, err := s.o.Outbox.WaitingByName(ctx, &transports.WaitingByNameParams{Partner: s.o.Partner, Transport: "sftp", Name: name})
	if errors.Is(err, transports.ErrNotFound) {
		return transports.Waiting{}, fmt.Errorf("%w: outbound/%s", sftp.ErrSSHFxNoSuchFile, name)
	}
	return w, err
}

// Filecmd handles rename (of temporary uploads), remove (outbound, if
// allowed) and setstat (accepted and ignored: timestamps are Wharf's).
func (s *Session) Filecmd(r *sftp.Request) error {
	dir, name, err := split(r.Filepath)
	if err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		return nil
	case "Rename", "PosixRename":
		tdir, tname, err := split(r.Target)
		if err != nil {
			return err
		}
		if dir != "inbound" || tdir != "inbound" || name == "" || tname == "" {
			return fmt.Errorf("%w: only uploads in inbound/ can be renamed", errDenied)
		}
		if err := checkUploadName(tname); err != nil {
			s.o.Log.Warn("sftp rename refused: target name starts with \".\" (not a temporary name); the upload stays staged", "partner", s.o.Partner, "remote", s.o.RemoteAddr, "file", "inbound/"+name, "target", "inbound/"+tname)
			return err
		}
		s.mu.Lock()
		u := s.staged[name]
		delete(s.staged, name)
		s.mu.Unlock()
		if u == nil {
			return fmt.Errorf("%w: inbound/%s (only an upload under a temporary name can be renamed)", os.ErrNotExist, name)
		}
		if isTempName(tname) {
			s.mu.Lock()
			s.staged[tname] = u
			s.mu.Unlock()
			return nil
		}
		return u.archive(tname)
	case "Remove":
		if dir == "inbound" && name != "" {
			s.mu.Lock()
			u := s.staged[name]
			delete(s.staged, name)
			_, done := s.uploaded[name]
			s.mu.Unlock()
			if u != nil {
				u.discard()
				return nil
			}
			if done {
				return fmt.Errorf("%w: inbound/%s was received and archived; it cannot be taken back", errDenied, name)
			}
			return fmt.Errorf("%w: inbound/%s", os.ErrNotExist, name)
		}
		if dir != "outbound" || name == "" {
			return errDenied
		}
		if !s.o.AllowDelete {
			return fmt.Errorf("%w: deleting from outbound/ is not enabled for %s", errDenied, s.o.Partner)
		}
		w, err := s.find(r.Context(), name)
		if err != nil {
			// "get FILE" then "rm FILE": the download already took it out
			// of outbound/ (delivered); the delete is the client's way of
			// saying the same, so it succeeds.
			s.mu.Lock()
			gone := s.fetched[name]
			s.mu.Unlock()
			if gone {
				return nil
			}
			return err
		}
		return s.o.Outbox.Removed(r.Context(), w.MessageID, s.o.RemoteAddr)
	}
	return fmt.Errorf("%w: %s is not supported here", errDenied, strings.ToLower(r.Method))
}

// Filelist lists and stats the virtual home.
func (s *Session) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	dir, name, err := split(r.Filepath)
	if err != nil {
		return nil, err
	}
	switch r.Method {
	case "List":
		if name != "" {
			return nil, fmt.Errorf("%w: %s is a file", errDenied, r.Filepath)
		}
		switch dir {
		case "":
			return lister{dirInfo("inbound"), dirInfo("outbound")}, nil
		case "inbound":
			return lister(s.inboundFiles()), nil
		default:
			ws, err := s.o.Outbox.Waiting(r.Context(), s.o.Partner, "sftp")
			if err != nil {
				return nil, err
			}
			seen := map[string]bool{}
			var out lister
			for i := len(ws) - 1; i >= 0; i-- { // newest wins a name
				if !seen[ws[i].Name] {
					seen[ws[i].Name] = true
					out = append(out, fileInfo{name: ws[i].Name, size: ws[i].Size, mod: ws[i].Created})
				}
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
			return out, nil
		}
	case "Stat", "Lstat":
		if name == "" {
			if dir == "" {
				return lister{dirInfo("/")}, nil
			}
			return lister{dirInfo(dir)}, nil
		}
		if dir == "inbound" {
			if fi, ok := s.inboundFile(name); ok {
				return lister{fi}, nil
			}
			return nil, os.ErrNotExist
		}
		w, err := s.find(r.Context(), name)
		if err != nil {
			return nil, err
		}
		return lister{fileInfo{name: w.Name, size: w.Size, mod: w.Created}}, nil
	}
	return nil, fmt.Errorf("%w: %s is not supported here", errDenied, strings.ToLower(r.Method))
}

// inboundFile is what inboundFiles lists under name, looked up by name:
// OpenSSH's sftp stats the target of every put, so a session that
// uploads n files would otherwise build and sort its whole list n times.
// (Staged names are temporary names and uploaded ones final names, so no
// name is in both.)
func (s *Session) inboundFile(name string) (os.FileInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.staged[name]; u != nil {
		return fileInfo{name: name, size: u.size, mod: u.started}, true
	}
	if size, ok := s.uploaded[name]; ok {
		return fileInfo{name: name, size: size, mod: time.Now()}, true
	}
	return nil, false
}

func (s *Session) inboundFiles() []os.FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []os.FileInfo
	for n, size := range s.uploaded {
		out = append(out, fileInfo{name: n, size: size, mod: time.Now()})
	}
	for n, u := range s.staged {
		out = append(out, fileInfo{name: n, size: u.size, mod: u.started})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

type lister []os.FileInfo

func (l lister) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n+int(off) >= len(l) {
		return n, io.EOF
	}
	return n, nil
}

type fileInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func dirInfo(name string) fileInfo { return fileInfo{name: name, dir: true, mod: time.Now()} }

func (f fileInfo) Name() string       { return f.name }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) ModTime() time.Time { return f.mod }
func (f fileInfo) IsDir() bool        { return f.dir }
func (f fileInfo) Sys() any           { return nil }
func (f fileInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o750
	}
	return 0o640
}
