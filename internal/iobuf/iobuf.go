// Package iobuf sizes read buffers to their input, so that reading a
// message of a kilobyte does not allocate and zero a buffer made for
// megabytes. Most files Wharf reads are that small, and many readers are
// made for each.
package iobuf

import (
	"bufio"
	"io"
)

// Size returns the size of a buffer for reading n bytes: n when it is
// below limit (at least 16, the least bufio takes), else limit.
func Size(n int64, limit int) int {
	if n < int64(limit) {
		return max(int(n), 16)
	}
	return limit
}

// Len returns how many bytes are left to read from r when r tells it, as
// readers over memory do with a Len method (*bytes.Reader, *bytes.Buffer,
// *strings.Reader), and a Reader over such a reader. It is a hint for
// sizing buffers: a reader must still read on until io.EOF.
func Len(r io.Reader) (n int64, ok bool) {
	switch r := r.(type) {
	case *Reader:
		if r.src == nil {
			return 0, false
		}
		n, ok := Len(r.src)
		return n + int64(r.Buffered()), ok
	case interface{ Len() int }:
		return int64(max(r.Len(), 0)), true
	}
	return 0, false
}

// A Reader is a bufio.Reader made by NewReader. Len sees through it to
// its source, so that a reader reading from it in turn (an x12.Reader
// over what the caller peeked at) can size its own buffer.
type Reader struct {
	*bufio.Reader
	src io.Reader // nil when unknown
}

// NewReader returns a Reader over r with a buffer of limit bytes or, when
// r tells how much it holds (Len), just large enough for that, but never
// below least (the most the caller peeks at once). A Reader or bufio.Reader
// of at least least bytes is used as it is: buffering it again would only
// copy.
func NewReader(r io.Reader, least, limit int) *Reader {
	switch b := r.(type) {
	case *Reader:
		if b.Size() >= least {
			return b
		}
	case *bufio.Reader:
		if b.Size() >= least {
			return &Reader{Reader: b}
		}
	}
	size := limit
	if n, ok := Len(r); ok {
		// One byte more than r holds: the first fill then ends short of
		// a full buffer.
		size = Size(n+1, limit)
	}
	return &Reader{Reader: bufio.NewReaderSize(r, max(size, least)), src: r}
}
