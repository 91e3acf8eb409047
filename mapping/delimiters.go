package mapping

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/wharfedi/wharf/edi/x12"
)

// delimiterSets are the delimiter sets an outbound interchange is written
// with when nothing pins them: the first set none of whose characters
// occurs in a value of the interchange (envelope identities included).
// Today's default comes first; then the component separator changes (the
// least visible change), then the element separator, then the segment
// terminator. The repetition separator counts only from ISA12 00402 on
// (005010): an 004010 ISA11 is "U" and readers take "^" as data. The last
// set, ASCII GS, US, RS and FS, fits any value without control
// characters, so rendering free text never fails for want of a delimiter.
// Keep docs/mapping.md ("Delimiters") in step.
var delimiterSets = [...]x12.Delimiters{
	{Element: '*', Component: ':', Repetition: '^', Segment: '~'}, // x12.DefaultDelimiters
	{Element: '*', Component: '>', Repetition: '^', Segment: '~'},
	{Element: '*', Component: '\\', Repetition: '^', Segment: '~'},
	{Element: '|', Component: ':', Repetition: '^', Segment: '~'},
	{Element: '|', Component: '>', Repetition: '^', Segment: '~'},
	{Element: '|', Component: '\\', Repetition: '^', Segment: '~'},
	{Element: '*', Component: ':', Repetition: '^', Segment: '\n'}, // one segment per line
	{Element: '*', Component: '>', Repetition: '^', Segment: '\n'},
	{Element: '*', Component: '\\', Repetition: '^', Segment: '\n'},
	{Element: '|', Component: ':', Repetition: '^', Segment: '\n'},
	{Element: '|', Component: '>', Repetition: '^', Segment: '\n'},
	{Element: '|', Component: '\\', Repetition: '^', Segment: '\n'},
	{Element: 0x1D, Component: 0x1F, Repetition: 0x1E, Segment: 0x1C}, // control characters
}

// DelimiterSets returns, in order of preference, the delimiter sets an
// X12Renderer chooses from when the delimiters are not pinned.
func DelimiterSets() []x12.Delimiters {
	return append([]x12.Delimiters(nil), delimiterSets[:]...)
}

// delimPicker tracks which candidate delimiter sets can still write every
// value seen so far: one table lookup per byte of data.
type delimPicker struct {
	sets   []x12.Delimiters
	kills  [256]uint32 // bit i: the byte is a delimiter of sets[i]
	fit    uint32      // bit i: sets[i] holds no byte seen so far
	pinned string      // who pinned the delimiters, "" when picking
}

func newDelimPicker(sets []x12.Delimiters, repetition bool, pinned string) *delimPicker {
	p := &delimPicker{sets: sets, pinned: pinned, fit: 1<<len(sets) - 1}
	for i, d := range sets {
		for _, b := range []byte{d.Element, d.Component, d.Segment} {
			p.kills[b] |= 1 << i
		}
		if repetition {
			p.kills[d.Repetition] |= 1 << i
		}
	}
	p.kills[0] &^= 1<<len(sets) - 1 // an absent component or repetition separator is no delimiter
	return p
}

// mask returns the sets that cannot write s.
func (p *delimPicker) mask(s string) uint32 {
	var m uint32
	for i := 0; i < len(s); i++ {
		m |= p.kills[s[i]]
	}
	return m
}

// chosen returns the first set still fitting.
func (p *delimPicker) chosen() x12.Delimiters {
	return p.sets[bits.TrailingZeros32(p.fit)]
}

// culprit explains why value v leaves no set that fits, given the sets
// before ruled out by the values before it (fit).
func (p *delimPicker) culprit(fit uint32, v string) error {
	var b byte
	at := 0
	for i := 0; i < len(v); i++ {
		if fit&^p.kills[v[i]] == 0 {
			b, at = v[i], i+1
			break
		}
		fit &^= p.kills[v[i]]
	}
	if p.pinned != "" {
		d := p.sets[0]
		return fmt.Errorf("%w: %q holds %q at byte %d, the %s of the delimiters pinned by %s (%s)", ErrBadValue, v, b, at, delimRole(d, b), p.pinned, describeDelims(d))
	}
	var tried []string
	for _, d := range p.sets {
		tried = append(tried, "{"+describeDelims(d)+"}")
	}
	return fmt.Errorf("%w: %q holds %q at byte %d: no delimiter set fits it together with the interchange's other values (tried %s)", ErrBadValue, v, b, at, strings.Join(tried, ", "))
}

func delimRole(d x12.Delimiters, b byte) string {
	switch b {
	case d.Element:
		return "element separator"
	case d.Segment:
		return "segment terminator"
	case d.Component:
		return "component separator"
	}
	return "repetition separator"
}

func describeDelims(d x12.Delimiters) string {
	s := fmt.Sprintf("element %q, component %q", d.Element, d.Component)
	if d.Repetition != 0 {
		s += fmt.Sprintf(", repetition %q", d.Repetition)
	}
	return s + fmt.Sprintf(", segment %q", d.Segment)
}

// checkPinned reports whether d can be an interchange's delimiters.
func checkPinned(d x12.Delimiters) error {
	bs := []byte{d.Element, d.Component, d.Segment}
	if d.Repetition != 0 {
		bs = append(bs, d.Repetition)
	}
	for i, b := range bs {
		if b == 0 || b == ' ' || b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' {
			return fmt.Errorf("%w: delimiters (%s): element, component and segment must be set, none a letter, digit or space", ErrBadValue, describeDelims(d))
		}
		if strings.IndexByte(string(bs[:i]), b) >= 0 {
			return fmt.Errorf("%w: delimiters (%s): %q used twice", ErrBadValue, describeDelims(d), b)
		}
	}
	return nil
}

// check rules out the sets that cannot write the document's segments. If
// none would be left, it adds to c.errs the error of the first value that
// leaves none (its segment, element and byte) and rules out nothing.
func (p *delimPicker) check(c *outCtx, set string) {
	var m uint32
	for _, s := range c.segs {
		for _, e := range s.el {
			m |= p.mask(e)
		}
	}
	if p.fit&^m != 0 {
		p.fit &^= m
		return
	}
	fit := p.fit
	for i, s := range c.segs {
		for j, e := range s.el {
			em := p.mask(e)
			if fit&^em == 0 {
				c.errs = append(c.errs, &Error{Partner: c.p.Partner, Document: c.doc, Field: fmt.Sprintf("%s%02d", s.id, j+1),
					Pos: Position{SetID: set, SegmentID: s.id, SetPosition: i + 2, Element: j + 1}, Err: p.culprit(fit, e)})
				return
			}
			fit &^= em
		}
	}
}

// heldSegs holds the segments of rendered documents until the delimiters
// are known, in one string (no allocation per value when read back): per
// segment, the element count plus one (0 ends a set), then the ID and each
// element, each as a uvarint length and its bytes.
type heldSegs struct {
	b    strings.Builder
	sets int
}

func (h *heldSegs) uvarint(n int) {
	var tmp [binary.MaxVarintLen64]byte
	h.b.Write(tmp[:binary.PutUvarint(tmp[:], uint64(n))])
}

func (h *heldSegs) add(segs []outSeg) {
	for _, s := range segs {
		h.uvarint(len(s.el) + 1)
		h.uvarint(len(s.id))
		h.b.WriteString(s.id)
		for _, e := range s.el {
			h.uvarint(len(e))
			h.b.WriteString(e)
		}
	}
	h.b.WriteByte(0)
	h.sets++
}

// each calls fn with the segments of each held set, in order; the slices
// are reused between calls, the strings share the held bytes.
func (h *heldSegs) each(fn func([]outSeg) error) error {
	var segs []outSeg
	var el []string
	b := h.b.String()
	num := func() int {
		n, shift := 0, 0
		for {
			c := b[0]
			b = b[1:]
			n |= int(c&0x7f) << shift
			if c < 0x80 {
				return n
			}
			shift += 7
		}
	}
	str := func() string {
		n := num()
		s := b[:n]
		b = b[n:]
		return s
	}
	for len(b) > 0 {
		n := num()
		if n == 0 {
			if err := fn(segs); err != nil {
				return err
			}
			segs, el = segs[:0], el[:0]
			continue
		}
		id := str()
		start := len(el)
		for i := 1; i < n; i++ {
			el = append(el, str())
		}
		segs = append(segs, outSeg{id, el[start:len(el):len(el)]})
	}
	return nil
}
