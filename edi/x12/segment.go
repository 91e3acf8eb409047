package x12

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// A Segment is one segment as returned by [Reader.Read]: a view of the
// reader's buffer. It and every slice it returns are valid only until the
// next Read; copy what you keep (for example with [Segment.Clone] or
// string conversions). Accessors do not allocate.
//
// Element 0 is the segment ID; elements are numbered from 1 as in the X12
// standards (for example Element(2) of "ST*204*0001" is "0001").
type Segment struct {
	Offset int64 // input offset of the segment's first byte
	raw    []byte
	ends   []int32 // ends[i] = end of element i in raw
	d      Delimiters
	class  *[256]byte // byte classes of d (see Reader.setClass)
	nested bool       // holds a component or repetition separator
}

// Byte classes used by split.
const (
	clNone = iota
	clElem
	clCRLF
	clNested
)

func classOf(d Delimiters) *[256]byte {
	var t [256]byte
	t['\r'], t['\n'] = clCRLF, clCRLF
	if d.Component != 0 {
		t[d.Component] = clNested
	}
	if d.Repetition != 0 {
		t[d.Repetition] = clNested
	}
	t[d.Element] = clElem
	return &t
}

func (s *Segment) reset(b []byte, off int64, d Delimiters) {
	s.raw = b
	s.Offset = off
	if d != s.d {
		s.class = nil
	}
	s.d = d
	s.ends = s.ends[:0]
}

const (
	swarLo  = 0x0101010101010101
	swarLow = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes returns 0x80 in each byte of v that is zero (exact, no borrow).
func zeroBytes(v uint64) uint64 {
	t := (v & swarLow) + swarLow
	return ^(t | v | swarLow)
}

// split records element ends; it reports whether the segment holds CR or LF.
// It looks at 8 bytes at a time, the hot loop of reading.
func (s *Segment) split() bool {
	b := s.raw
	if s.class == nil {
		s.class = classOf(s.d)
	}
	d := s.d
	sep := swarLo * uint64(d.Element)
	// Absent separators test for NUL instead: harmless, since checkValue
	// looks only for separators that exist.
	var comp, rep uint64
	if d.Component != 0 {
		comp = swarLo * uint64(d.Component)
	}
	if d.Repetition != 0 {
		rep = swarLo * uint64(d.Repetition)
	}
	var ctl, nested uint64
	ends := s.ends[:0]
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		for m := zeroBytes(v ^ sep); m != 0; m &= m - 1 {
			ends = append(ends, int32(i+bits.TrailingZeros64(m)>>3))
		}
		ctl |= (v - swarLo*0x0E) &^ v // high bit set when some byte < 0x0E (CR, LF, ...)
		nested |= zeroBytes(v^comp) | zeroBytes(v^rep)
	}
	crlf := uint64(0)
	if ctl&(swarLo*0x80) != 0 {
		// Rare: a byte below 0x0E; look for CR and LF exactly.
		for j := 0; j < i; j++ {
			if b[j] == '\r' || b[j] == '\n' {
				crlf = 1
				break
			}
		}
	}
	cl := s.class
	var seen byte
	for ; i < len(b); i++ {
		k := cl[b[i]]
		if k == clElem {
			ends = append(ends, int32(i))
		}
		seen |= 1 << k
	}
	s.ends = append(ends, int32(len(b)))
	s.nested = nested != 0 || seen&(1<<clNested) != 0
	return crlf != 0 || seen&(1<<clCRLF) != 0
}

// Bytes returns the segment's bytes without terminator (and without CR/LF
// that were not delimiters).
func (s *Segment) Bytes() []byte { return s.raw }

// String returns the segment as a string, without terminator.
func (s *Segment) String() string { return string(s.raw) }

// Delimiters returns the delimiters of the segment's interchange.
func (s *Segment) Delimiters() Delimiters { return s.d }

// ID returns the segment ID (element 0).
func (s *Segment) ID() []byte { return s.raw[:s.ends[0]] }

// Len returns the number of elements including the ID: "N1*ST*X" has Len 3.
// Trailing empty elements written by the sender count.
func (s *Segment) Len() int { return len(s.ends) }

// Element returns element i (0 = ID), or nil when absent.
func (s *Segment) Element(i int) []byte {
	if i < 0 || i >= len(s.ends) {
		return nil
	}
	st := 0
	if i > 0 {
		st = int(s.ends[i-1]) + 1
	}
	return s.raw[st:s.ends[i]]
}

// Component returns component j (1-based) of the first repetition of
// element i, or nil. Component(i, 1) of a simple element is the element.
func (s *Segment) Component(i, j int) []byte {
	return s.RepComponent(i, 0, j)
}

// Repetitions returns how many repetitions element i holds (1 when it has
// no repetition separator, 0 when absent or empty).
func (s *Segment) Repetitions(i int) int {
	e := s.Element(i)
	if len(e) == 0 {
		return 0
	}
	if s.d.Repetition == 0 {
		return 1
	}
	return bytes.Count(e, []byte{s.d.Repetition}) + 1
}

// Repetition returns repetition k (0-based) of element i, or nil.
func (s *Segment) Repetition(i, k int) []byte {
	e := s.Element(i)
	if s.d.Repetition == 0 {
		if k == 0 {
			return e
		}
		return nil
	}
	return nth(e, s.d.Repetition, k)
}

// RepComponent returns component j (1-based) of repetition k of element i.
func (s *Segment) RepComponent(i, k, j int) []byte {
	e := s.Repetition(i, k)
	if e == nil || j < 1 {
		return nil
	}
	if s.d.Component == 0 {
		if j == 1 {
			return e
		}
		return nil
	}
	return nth(e, s.d.Component, j-1)
}

// Components returns the number of components of element i's first repetition.
func (s *Segment) Components(i int) int {
	e := s.Repetition(i, 0)
	if len(e) == 0 {
		return 0
	}
	if s.d.Component == 0 {
		return 1
	}
	return bytes.Count(e, []byte{s.d.Component}) + 1
}

func nth(b []byte, sep byte, k int) []byte {
	for ; k > 0; k-- {
		j := bytes.IndexByte(b, sep)
		if j < 0 {
			return nil
		}
		b = b[j+1:]
	}
	if j := bytes.IndexByte(b, sep); j >= 0 {
		return b[:j]
	}
	return b
}

// Is reports whether the segment's ID is id.
func (s *Segment) Is(id string) bool {
	return string(s.ID()) == id
}

// Clone returns a copy of the segment that stays valid after the next Read.
func (s *Segment) Clone() *Segment {
	c := &Segment{Offset: s.Offset, d: s.d, class: s.class, nested: s.nested}
	c.raw = append([]byte(nil), s.raw...)
	c.ends = append([]int32(nil), s.ends...)
	return c
}
