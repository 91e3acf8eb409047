package sftp

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// stage holds an upload's bytes until it is archived: in memory while the
// file fits in max bytes (most EDI: the archive keeps such a file in its
// index, so a small upload makes no file at all), else in a file of the
// spool folder, which the bytes written so far move into when the upload
// outgrows max. It is an io.WriterAt and io.ReaderAt like the file.
type stage struct {
	mu   sync.Mutex
	mem  []byte
	max  int64
	f    *os.File
	open func() (*os.File, error) // the staging file, made on the first spill
	// spilled runs once when the bytes move to a file (the session's
	// count of uploads held in memory).
	spilled func()
}

func (s *stage) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) < off {
		return 0, fmt.Errorf("write at offset %d: not a position in a file", uint64(off))
	}
	s.mu.Lock()
	if s.f == nil {
		end := off + int64(len(p))
		if end <= s.max {
			if int64(len(s.mem)) < end {
				s.mem = append(s.mem, make([]byte, end-int64(len(s.mem)))...) // a gap reads as zeros, as in a file
			}
			copy(s.mem[off:], p)
			s.mu.Unlock()
			return len(p), nil
		}
		if err := s.spill(); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	f := s.f
	s.mu.Unlock()
	return f.WriteAt(p, off)
}

// spill moves the bytes held in memory into a new staging file.
func (s *stage) spill() error {
	f, err := s.open()
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(s.mem, 0); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	s.f, s.mem = f, nil
	if s.spilled != nil {
		s.spilled()
		s.spilled = nil
	}
	return nil
}

func (s *stage) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	if f := s.f; f != nil {
		s.mu.Unlock()
		return f.ReadAt(p, off)
	}
	defer s.mu.Unlock()
	if off >= int64(len(s.mem)) {
		return 0, io.EOF
	}
	n := copy(p, s.mem[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// file is the staging file, nil while the bytes are in memory.
func (s *stage) file() *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// content is what the upload holds, size bytes: a reader of the bytes in
// memory, or (nil and) the staging file.
func (s *stage) content(size int64) (*bytes.Reader, *os.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return nil, s.f
	}
	return bytes.NewReader(s.mem[:min(size, int64(len(s.mem)))]), nil
}

// discard removes the staging file, if any, and drops the bytes.
func (s *stage) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		return
	}
	s.mem = nil
	if s.spilled != nil { // no longer held in memory either
		s.spilled()
		s.spilled = nil
	}
}
