package transports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"sync"
	"time"
)

// After says what a poll does with a remote file once it is archived.
type After string

const (
	AfterDelete After = "delete" // remove it (the default)
	AfterMove   After = "move"   // rename it into PollOptions.MoveTo (Renamer transports)
	AfterKeep   After = "keep"   // leave it; it is remembered and not fetched again
	AfterTag    After = "tag"    // tag it with PollOptions.Tags (Tagger transports); remembered like keep
)

// Ledger remembers what was already received, by idempotency key.
type Ledger interface {
	// Received returns which of keys were received from the partner.
	Received(ctx context.Context, partner string, keys []string) (map[string]bool, error)
}

// PollOptions configure one poll of a remote folder.
type PollOptions struct {
	Partner   string
	Transport string // name recorded with the message, e.g. "sftp-client"
	Origin    string // identifies the remote (host:port/user) in idempotency keys
	Folder    string
	Pattern   string        // path.Match pattern on the base name; "" matches all
	MinAge    time.Duration // skip files modified more recently (still being written)
	After     After
	MoveTo    string // folder for AfterMove
	Max       int    // files per poll; 0 means 1000
	// Stable, when set, applies the size-stable rule: a file is fetched
	// only once two consecutive polls saw it with the same size and
	// modification time. Keep one Stability per polled folder.
	Stable *Stability
	// Tags are set on archived objects with AfterTag (default wharf=archived).
	Tags map[string]string
	// Workers is how many files are fetched and archived at once (default
	// 1); concurrent archive writes share database commits.
	Workers int
	// ErrorTo is a folder (Renamer transports) that files the Receiver
	// rejects for good (ErrRejected) are moved into; "" leaves them in place.
	ErrorTo string
	Now     func() time.Time
	Log     *slog.Logger
}

// Stability remembers what the previous poll of a folder saw, for the
// size-stable rule. It is safe for concurrent use.
type Stability struct {
	mu   sync.Mutex
	seen map[string]Object
}

// settled records obj and tells whether the previous poll saw it unchanged.
func (s *Stability) settled(obj Object) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]Object{}
	}
	prev, ok := s.seen[obj.Name]
	s.seen[obj.Name] = obj
	return ok && prev.Size == obj.Size && prev.ModTime.Equal(obj.ModTime)
}

// keep forgets files that are gone, so the map does not grow forever.
func (s *Stability) keep(objs []Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make(map[string]bool, len(objs))
	for _, o := range objs {
		names[o.Name] = true
	}
	for n := range s.seen {
		if !names[n] {
			delete(s.seen, n)
		}
	}
}

// PollResult counts what a poll did.
type PollResult struct {
	Listed, Received, Skipped, AlreadyHad int
	// More: the poll stopped at PollOptions.Max with files left to take;
	// poll again at once (Follow does).
	More bool
}

// Poll fetches the folder's finished files: each is archived through the
// Receiver (durable, processing committed) BEFORE it is deleted or moved on
// the remote side. A file whose delete or move failed is recognised at the
// next poll by its idempotency key (origin, path, size and modification
// time) and only the delete or move is retried: it is never processed twice.
// Errors on one file do not stop the others; they are joined in the result.
func Poll(ctx context.Context, tr Transport, recv Receiver, ledger Ledger, o PollOptions) (PollResult, error) {
	var res PollResult
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.After == "" {
		o.After = AfterDelete
	}
	if o.Max <= 0 {
		o.Max = 1000
	}
	if o.After == AfterMove {
		if _, ok := tr.(Renamer); !ok || o.MoveTo == "" {
			return res, fmt.Errorf("poll %s: after=move needs a transport that can rename and a move_to folder", o.Partner)
		}
	}
	if o.After == AfterTag {
		if _, ok := tr.(Tagger); !ok {
			return res, fmt.Errorf("poll %s: after=tag needs a transport whose objects carry tags (S3)", o.Partner)
		}
		if len(o.Tags) == 0 {
			o.Tags = map[string]string{"wharf": "archived"}
		}
	}
	if o.ErrorTo != "" {
		if _, ok := tr.(Renamer); !ok {
			return res, fmt.Errorf("poll %s: an error folder needs a transport that can rename", o.Partner)
		}
	}
	objs, err := tr.List(ctx, o.Folder)
	if err != nil {
		return res, err
	}
	res.Listed = len(objs)
	if o.Stable != nil {
		o.Stable.keep(objs)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, max(o.Workers, 1))
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	count := func(n *int) {
		mu.Lock()
		*n++
		mu.Unlock()
	}
	// one archives a file, then deletes, moves or tags it.
	one := func(obj Object, key string, had bool) {
		if had {
			count(&res.AlreadyHad)
			if o.After != AfterKeep { // tags are set again: a failed tag is retried
				if err := after(ctx, tr, obj.Name, o); err != nil {
					fail(err)
				}
			}
			return
		}
		rc, err := tr.Open(ctx, obj.Name)
		if err != nil {
			fail(err)
			return
		}
		id, err := recv.Receive(ctx, Incoming{Partner: o.Partner, Transport: o.Transport, RemoteName: obj.Name, RemoteAddr: o.Origin, IdempotencyKey: key, KeyLookedUp: true}, rc)
		rc.Close()
		if err != nil && errors.Is(err, ErrRejected) && o.ErrorTo != "" {
			to := path.Join(o.ErrorTo, path.Base(obj.Name))
			if rerr := tr.(Renamer).Rename(ctx, obj.Name, to); rerr != nil {
				err = errors.Join(err, rerr)
			} else {
				fail(fmt.Errorf("poll %s: %s: rejected, moved to %s: %w", o.Partner, obj.Name, to, err))
				return
			}
		}
		if err != nil {
			fail(fmt.Errorf("poll %s: %s: not archived, left in place: %w", o.Partner, obj.Name, err))
			return
		}
		count(&res.Received)
		o.Log.Info("fetched", "partner", o.Partner, "transport", o.Transport, "file", obj.Name, "bytes", obj.Size, "message", id)
		if o.After != AfterKeep {
			if err := after(ctx, tr, obj.Name, o); err != nil {
				fail(err)
			}
		}
	}
	// The files to take, and then which of them were received already
	// (their delete, move or tag failed): one question to the ledger.
	var take []Object
	var keys []string
	for _, obj := range objs {
		if ctx.Err() != nil {
			break
		}
		if len(take) >= o.Max {
			res.More = true
			break
		}
		base := path.Base(obj.Name)
		if o.Pattern != "" {
			if ok, _ := path.Match(o.Pattern, base); !ok {
				continue
			}
		}
		if base == "" || base[0] == '.' { // temporary names by convention
			continue
		}
		if o.MinAge > 0 && o.Now().Sub(obj.ModTime) < o.MinAge {
			res.Skipped++
			continue
		}
		if o.Stable != nil && !o.Stable.settled(obj) {
			res.Skipped++
			continue
		}
		key := o.Origin + ":" + obj.Name + ":" + strconv.FormatInt(obj.Size, 10) + ":" + strconv.FormatInt(obj.ModTime.UnixNano(), 10)
		if obj.ETag != "" {
			key += ":" + obj.ETag
		}
		take = append(take, obj)
		keys = append(keys, key)
	}
	if len(take) == 0 {
		return res, nil
	}
	had, err := ledger.Received(ctx, o.Partner, keys)
	if err != nil {
		return res, fmt.Errorf("poll %s: %d file(s) left in place, not archived: %w", o.Partner, len(take), err)
	}
	for i, obj := range take {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			one(obj, keys[i], had[keys[i]])
		}()
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

func after(ctx context.Context, tr Transport, name string, o PollOptions) error {
	var err error
	switch o.After {
	case AfterDelete:
		err = tr.Remove(ctx, name)
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	case AfterMove:
		err = tr.(Renamer).Rename(ctx, name, path.Join(o.MoveTo, path.Base(name)))
		if errors.Is(err, ErrNotFound) {
			err = nil // moved by an earlier poll whose record of it was lost
		}
	case AfterTag:
		err = tr.(Tagger).Tag(ctx, name, o.Tags)
	}
	if err != nil {
		return fmt.Errorf("poll %s: %s archived, but %s on the remote side failed (retried at the next poll; it will not be processed again): %w", o.Partner, name, o.After, err)
	}
	return nil
}
