package x12

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/wharfedi/wharf/internal/iobuf"
)

// Delimiters are the four separator characters of an interchange.
// A zero Component or Repetition means the interchange has none.
type Delimiters struct {
	Element    byte // ISA byte 4 (after "ISA")
	Component  byte // ISA16
	Repetition byte // ISA11 from control version 00402 on, when not alphanumeric
	Segment    byte // the byte after ISA16; CR for CRLF
}

// DefaultDelimiters are the customary '*', ':', '^' and '~'.
var DefaultDelimiters = Delimiters{Element: '*', Component: ':', Repetition: '^', Segment: '~'}

// ParseDelimiters reads delimiters written as four characters in the
// order element, component, repetition, segment terminator (e.g. "*>^~"),
// the way a partner's specification lists them; the two characters \n stand for a line
// feed as segment terminator and "-" for no repetition separator (control
// versions before 00402). The characters must differ and must not be
// letters, digits or spaces.
func ParseDelimiters(s string) (Delimiters, error) {
	s = strings.ReplaceAll(s, `\n`, "\n")
	if len(s) != 4 {
		return Delimiters{}, fmt.Errorf("x12: delimiters %q: write four characters: element, component, repetition (- for none), segment terminator, e.g. \"*>^~\"", s)
	}
	d := Delimiters{Element: s[0], Component: s[1], Repetition: s[2], Segment: s[3]}
	if d.Repetition == '-' {
		d.Repetition = 0
	}
	if !d.valid() {
		return Delimiters{}, fmt.Errorf("x12: delimiters %q: the four must differ and must not be letters, digits or spaces", s)
	}
	return d, nil
}

func (d Delimiters) valid() bool {
	bs := []byte{d.Element, d.Segment}
	if d.Component != 0 {
		bs = append(bs, d.Component)
	}
	if d.Repetition != 0 {
		bs = append(bs, d.Repetition)
	}
	for i, b := range bs {
		if isAlnum(b) || b == ' ' {
			return false
		}
		for _, c := range bs[:i] {
			if c == b {
				return false
			}
		}
	}
	return true
}

const (
	defaultMaxSegment = 1 << 20
	// minBuffer is the buffer of a long input, which reads fill: a
	// Reader starts smaller (startBuffer, or what the input holds when it
	// tells, see iobuf.Len) and doubles its buffer up to minBuffer while
	// reads fill it, so that a file of a kilobyte costs a kilobyte.
	minBuffer   = 128 << 10
	startBuffer = 4 << 10
	isaMax      = 256 // longest unpadded/over-padded ISA accepted, CR/LF excluded
)

// A Reader reads segments from X12 input. Set the exported fields before the
// first call to Read. A Reader buffers its input; it uses constant memory
// bounded by MaxSegmentSize.
type Reader struct {
	// Delimiters, when Element is non-zero before the first Read, are used
	// for the whole input and ISA detection is off; this reads bare
	// segments (for example ST..SE without envelopes). Otherwise each ISA
	// sets the delimiters of its interchange.
	Delimiters Delimiters

	// MaxSegmentSize is the longest segment accepted, in bytes (default 1 MiB).
	MaxSegmentSize int

	// OnWarning, if set, is called for each leniency applied (text outside
	// interchanges, unpadded ISA, missing final terminator, ...). The
	// *ParseError wraps one of the warning sentinels.
	OnWarning func(*ParseError)

	r        io.Reader
	buf      []byte
	start    int   // first unread byte
	end      int   // end of buffered data
	base     int64 // input offset of buf[0]
	eof      bool
	readErr  error
	started  bool
	preset   bool
	seeking  bool // looking for the next ISA
	sawISA   bool
	d        Delimiters
	seg      Segment
	nseg     int64
	pos      int // position in the current set
	isaBuf   [isaMax]byte
	ctl      [3]ctlNum   // interchange, group, set control numbers
	pendingX int         // index of ctl to clear after this segment (IEA/GE/SE), -1 none
	segOwnD  bool        // seg.d may differ from d (after an ISA or a change of d)
	vec      vecDelims   // d for maskBlocks, set wherever d is
	filled   bool        // the last read filled buf: the input may be long
	masks    []blockMask // of buf's 64-byte blocks, valid in [mLo, mHi)
	mLo, mHi int
	fastEnds []int32 // element ends written by scanFast; a power of two long, at most fastEndsLen
}

const (
	// fastWindow is how far scanFast looks for a terminator; longer
	// segments take the general path.
	fastWindow = 4096
	// fastEndsLen bounds the element ends of a segment scanFast reads
	// (at most one per byte) as a power of two, so that indexing with
	// n&(len(fastEnds)-1) needs no bounds check. fastEnds starts at
	// fastEndsStart and doubles when a segment may have more.
	fastEndsLen   = 2 * fastWindow
	fastEndsStart = 64
)

// setDelims makes d the delimiters in effect.
func (r *Reader) setDelims(d Delimiters) {
	if d != r.d || r.vec[0][0] == 0 {
		r.d = d
		r.vec.set(d)
		r.mLo, r.mHi = 0, 0
	}
	r.segOwnD = true
}

type ctlNum struct {
	b [16]byte
	n int
}

func (c *ctlNum) set(v []byte) {
	c.n = copy(c.b[:], v)
}

func (c *ctlNum) String() string { return string(c.b[:c.n]) }

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, pendingX: -1}
}

// Delims returns the delimiters in effect for the current interchange.
func (r *Reader) Delims() Delimiters { return r.d }

// InputOffset returns the input offset of the end of the last segment read
// (its terminator included).
func (r *Reader) InputOffset() int64 { return r.base + int64(r.start) }

// SegmentIndex returns the 1-based index in the input of the last segment read.
func (r *Reader) SegmentIndex() int64 { return r.nseg }

// SetPosition returns the position of the last segment read within its
// transaction set (ST = 1), or 0 outside a set.
func (r *Reader) SetPosition() int { return r.pos }

// Control numbers of the enclosing envelopes of the last segment read.
func (r *Reader) Control() (interchange, group, set string) {
	return r.ctl[0].String(), r.ctl[1].String(), r.ctl[2].String()
}

func (r *Reader) perr(off int64, elem int, id string, err error) *ParseError {
	return &ParseError{
		Offset: off, Segment: r.nseg, Position: r.pos, Element: elem, SegmentID: id,
		Interchange: r.ctl[0].String(), Group: r.ctl[1].String(), Set: r.ctl[2].String(),
		Err: err,
	}
}

func (r *Reader) warn(off int64, err error) {
	if r.OnWarning != nil {
		r.OnWarning(r.perr(off, 0, "", err))
	}
}

// fill reads more input, keeping buf[r.start:r.end]. It returns false at end
// of input (or on a read error, kept in r.readErr).
func (r *Reader) fill() bool {
	if r.eof {
		return false
	}
	limit := r.maxSeg() + isaMax
	if r.buf == nil {
		r.buf = make([]byte, r.firstSize(limit))
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.base += int64(r.start)
		r.start, r.end = 0, n
		r.mLo, r.mHi = 0, 0 // the masks are of bytes moved
	}
	// Grow when a segment fills the buffer (up to the longest segment) or
	// while reads fill it (up to minBuffer).
	if r.end == len(r.buf) || r.filled && len(r.buf) < min(minBuffer, limit) {
		if len(r.buf) >= limit {
			return false
		}
		nb := make([]byte, min(2*len(r.buf), limit))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		r.filled = r.end == len(r.buf)
		if err != nil {
			r.eof = true
			if err != io.EOF {
				r.readErr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.eof = true
	r.readErr = io.ErrNoProgress
	return false
}

// firstSize is the size of the first buffer: startBuffer, or just more
// than the input holds when it tells (see iobuf.Len), in whole 64-byte
// blocks (the unit of maskBlocks); never more than minBuffer or limit.
func (r *Reader) firstSize(limit int) int {
	n := startBuffer
	if l, ok := iobuf.Len(r.r); ok {
		n = iobuf.Size(l+1, minBuffer)
	}
	return min((n+63)&^63, minBuffer, limit)
}

func (r *Reader) maxSeg() int {
	if r.MaxSegmentSize > 0 {
		return r.MaxSegmentSize
	}
	return defaultMaxSegment
}

// Read returns the next segment. The segment and the slices it returns are
// valid only until the next call to Read. At the end of input Read returns
// (nil, io.EOF). A *ParseError from Read wrapping ErrSegmentTooLong or
// ErrBadISA is not fatal: calling Read again continues after the bad part.
func (r *Reader) Read() (*Segment, error) {
	// The common case first: a segment in an interchange, after the
	// line break that follows its predecessor's terminator.
	if r.pendingX < 0 && !r.seeking && r.started && (r.pos == 0 || r.ctl[2].n != 0) {
		b, i := r.buf[:r.end], r.start
		for i < len(b) && (b[i] == '\n' || b[i] == '\r') && b[i] != r.d.Segment {
			i++
		}
		if len(b)-i >= 4 && (r.preset || b[i] != 'I' || b[i+1] != 'S' || b[i+2] != 'A' || isAlnum(b[i+3])) {
			r.start = i
			if seg := r.scanFast(); seg != nil {
				return seg, nil
			}
			return r.read(false)
		}
	}
	return r.read(true)
}

// read is Read's general path; fast tells readSegment to try scanFast.
func (r *Reader) read(fast bool) (*Segment, error) {
	if !r.started {
		r.started = true
		if r.Delimiters.Element != 0 {
			r.preset = true
			r.setDelims(r.Delimiters)
		} else {
			r.seeking = true
		}
	}
	if r.pendingX >= 0 {
		for i := r.pendingX; i < 3; i++ {
			r.ctl[i].n = 0
		}
		if r.pendingX == 0 && !r.preset {
			r.seeking = true
		}
		r.pendingX = -1
	}
	if r.pos > 0 && r.ctl[2].n == 0 {
		r.pos = 0
	}
	for {
		if r.seeking {
			ok, err := r.seekISA()
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, r.eofErr()
			}
			return r.readISA()
		}
		// Skip CR/LF between segments.
		for {
			for r.start < r.end && (r.buf[r.start] == '\n' || r.buf[r.start] == '\r') && r.buf[r.start] != r.d.Segment {
				r.start++
			}
			if r.start < r.end || !r.fill() {
				break
			}
		}
		if r.start >= r.end {
			return nil, r.eofErr()
		}
		if !r.preset {
			if r.end-r.start < 4 {
				r.fill()
			}
			if r.end-r.start >= 4 && r.buf[r.start] == 'I' && r.buf[r.start+1] == 'S' && r.buf[r.start+2] == 'A' && !isAlnum(r.buf[r.start+3]) {
				return r.readISA()
			}
		}
		seg, err := r.readSegment(fast)
		if seg == nil && err == nil {
			fast = true
			continue // empty segment
		}
		return seg, err
	}
}

func (r *Reader) eofErr() error {
	if r.readErr != nil {
		return r.readErr
	}
	if !r.sawISA && !r.preset {
		return r.perr(r.InputOffset(), 0, "", ErrNoISA)
	}
	return io.EOF
}

// seekISA skips to the next "ISA" followed by a non-alphanumeric byte. It
// reports skipped non-blank text as a warning.
func (r *Reader) seekISA() (bool, error) {
	warned := false
	first := !r.sawISA
	// Skip a UTF-8 BOM at the very start.
	if r.base == 0 && r.start == 0 && first {
		if r.end < 3 {
			r.fill()
		}
		if r.end >= 3 && r.buf[0] == 0xEF && r.buf[1] == 0xBB && r.buf[2] == 0xBF {
			r.start = 3
		}
	}
	for {
		for r.start < r.end {
			c := r.buf[r.start]
			if c == 'I' {
				if r.end-r.start < 4 {
					break
				}
				if r.buf[r.start+1] == 'S' && r.buf[r.start+2] == 'A' && !isAlnum(r.buf[r.start+3]) && r.buf[r.start+3] != ' ' {
					r.seeking = false
					return true, nil
				}
			}
			if !warned && c != '\n' && c != '\r' && c != ' ' && c != '\t' && c != 0 && c != 0x1a {
				warned = true
				if first {
					r.warn(r.base+int64(r.start), ErrTextBeforeISA)
				} else {
					r.warn(r.base+int64(r.start), ErrTextAfterIEA)
				}
			}
			r.start++
		}
		if !r.fill() {
			if r.end-r.start > 0 && r.end-r.start < 4 {
				r.start = r.end
			}
			return false, nil
		}
	}
}

// readISA parses the ISA at r.start by counting element separators, so that
// unpadded ISAs and ISAs broken across lines are read.
func (r *Reader) readISA() (*Segment, error) {
	if r.end-r.start < isaMax+8 {
		for r.end-r.start < isaMax+8 && r.fill() {
		}
	}
	off := r.base + int64(r.start)
	var b []byte
	var sep byte
	n := 0     // bytes copied to isaBuf
	count := 0 // separators seen
	i := 0
	raw := 0 // raw length consumed
	var comp, term byte
	bad := func(msg string) (*Segment, error) {
		// Skip past "ISA" so reading can go on.
		r.start += 3
		r.nseg++
		r.seeking = !r.preset
		return nil, r.perr(off, 0, "ISA", wrapf(ErrBadISA, "%s", msg))
	}
	for {
		b = r.buf[r.start:r.end]
		sep = b[3]
		n, count, i = 0, 0, 0
		for ; i < len(b); i++ {
			c := b[i]
			if c == '\r' || c == '\n' {
				continue
			}
			if n >= isaMax-2 {
				return bad("too long")
			}
			r.isaBuf[n] = c
			n++
			if c == sep {
				count++
				if count == 16 {
					i++
					break
				}
			}
		}
		// The buffer ended before the ISA (CR and LF in it are not
		// counted): read on, so that what is decided does not depend on
		// how reads split the input.
		if (count < 16 || i+1 >= len(b)) && r.fill() {
			continue
		}
		break
	}
	if count < 16 || i >= len(b) {
		return bad("fewer than 16 elements")
	}
	padded, noComp := true, false
	c := b[i]
	if c == '\r' || c == '\n' {
		// ISA16 missing; the line break ends the ISA.
		term = c
		comp = 0
		raw = i + 1
		noComp = true
	} else {
		comp = c
		r.isaBuf[n] = c
		n++
		if i+1 >= len(b) {
			return bad("no segment terminator")
		}
		term = b[i+1]
		raw = i + 2
		if (term == '\r' || term == '\n') && isTerminatorLike(comp) && r.nextLineEndsWith(raw, comp, term) {
			// "...*P*~" + LF where every other segment ends "~" + LF: the
			// sender left out ISA16 and '~' is the terminator.
			n--
			term = comp
			comp = 0
			raw = i + 1
			noComp = true
		}
	}
	isa := r.isaBuf[:n]
	d := Delimiters{Element: sep, Component: comp, Segment: term}
	// Split the ISA into elements.
	r.segOwnD = true
	r.seg.reset(isa, off, d)
	r.seg.split()
	if r.seg.Len() != 17 {
		return bad("wrong element count")
	}
	if n != 105 || raw != 106 {
		padded = false
	}
	ver := r.seg.Element(12)
	rep := r.seg.Element(11)
	if len(ver) == 5 && string(ver) >= "00402" && len(rep) == 1 && !isAlnum(rep[0]) && rep[0] != ' ' {
		d.Repetition = rep[0]
	}
	r.seg.d, r.seg.class = d, nil
	if !d.valid() {
		r.start += raw
		r.nseg++
		r.seeking = !r.preset
		return nil, r.perr(off, 16, "ISA", ErrBadDelimiters)
	}
	if !r.preset {
		r.setDelims(d)
	}
	r.start += raw
	r.nseg++
	r.sawISA = true
	r.seeking = false
	r.ctl[0].set(trimSpace(r.seg.Element(13)))
	r.ctl[1].n, r.ctl[2].n = 0, 0
	r.pos = 0
	if noComp {
		r.warn(off, ErrISA16Missing)
	}
	if !padded {
		r.warn(off, ErrISANotPadded)
	}
	return &r.seg, nil
}

func isTerminatorLike(c byte) bool {
	return c == '~' || c == '\'' || c == '!' || c == '$'
}

// nextLineEndsWith reports whether the segment after the ISA (starting at
// raw bytes after r.start) ends with c immediately before a line break.
// It reads on until that line is buffered (or no more can be).
func (r *Reader) nextLineEndsWith(raw int, c, lb byte) bool {
	var b []byte
	j := -1
	for {
		b = r.buf[r.start+raw : r.end]
		for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
			b = b[1:]
		}
		if j = bytes.IndexByte(b, '\n'); j >= 0 || !r.fill() {
			break
		}
	}
	if j < 0 {
		return false
	}
	line := b[:j]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return len(line) > 0 && line[len(line)-1] == c
}

// readSegment reads the segment at r.start, first with scanFast if fast.
// It returns (nil, nil) for an empty segment.
func (r *Reader) readSegment(fast bool) (*Segment, error) {
	if fast {
		if seg := r.scanFast(); seg != nil {
			return seg, nil
		}
	}
	term := r.d.Segment
	searched := 0
	for {
		j := bytes.IndexByte(r.buf[r.start+searched:r.end], term)
		if j >= 0 {
			j += r.start + searched
			if j-r.start > r.maxSeg() {
				off := r.base + int64(r.start)
				r.start = j + 1
				r.nseg++
				return nil, r.perr(off, 0, "", ErrSegmentTooLong)
			}
			return r.finish(r.start, j, j+1)
		}
		searched = r.end - r.start
		if searched > r.maxSeg() {
			return nil, r.skipLong()
		}
		if !r.fill() {
			if r.readErr != nil {
				return nil, r.readErr
			}
			if r.start >= r.end {
				return nil, nil
			}
			r.warn(r.base+int64(r.start), ErrNoTerminator)
			return r.finish(r.start, r.end, r.end)
		}
	}
}

func (r *Reader) skipLong() error {
	off := r.base + int64(r.start)
	r.nseg++
	err := r.perr(off, 0, "", ErrSegmentTooLong)
	for {
		j := bytes.IndexByte(r.buf[r.start:r.end], r.d.Segment)
		if j >= 0 {
			r.start += j + 1
			return err
		}
		r.start = r.end
		if !r.fill() {
			return err
		}
	}
}

// finish makes buf[s:e] the current segment and moves past next.
func (r *Reader) finish(s, e, next int) (*Segment, error) {
	off := r.base + int64(s)
	b := r.buf[s:e]
	r.start = next
	r.seg.reset(b, off, r.d)
	if r.seg.split() {
		// Drop CR and LF that are not the terminator (lines wrapped by senders).
		r.seg.reset(dropCRLF(b), off, r.d)
		r.seg.split()
	}
	if len(r.seg.raw) == 0 {
		r.warn(off, ErrEmptySegment)
		return nil, nil
	}
	r.nseg++
	r.track()
	return &r.seg, nil
}

func dropCRLF(b []byte) []byte {
	w := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			b[w] = c
			w++
		}
	}
	return b[:w]
}

// track follows envelope segments for error positions.
func (r *Reader) track() {
	if r.pos > 0 {
		r.pos++
	}
	raw := r.seg.raw
	switch r.seg.ends[0] {
	case 2:
		switch uint16(raw[0])<<8 | uint16(raw[1]) {
		case 'G'<<8 | 'S':
			r.ctl[1].set(trimSpace(r.seg.Element(6)))
			r.ctl[2].n = 0
		case 'S'<<8 | 'T':
			r.ctl[2].set(trimSpace(r.seg.Element(2)))
			r.pos = 1
		case 'S'<<8 | 'E':
			r.pendingX = 2
		case 'G'<<8 | 'E':
			r.pendingX = 1
		}
	case 3:
		if raw[0] == 'I' && raw[1] == 'E' && raw[2] == 'A' {
			r.pendingX = 0
		}
	}
}

// Errorf returns a *ParseError positioned at the last segment read, with
// element elem (0 for the whole segment).
func (r *Reader) Errorf(elem int, err error) *ParseError {
	id := ""
	if r.seg.raw != nil {
		id = string(r.seg.ID())
	}
	return r.perr(r.seg.Offset, elem, id, err)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}
