package x12

import (
	"bytes"
	"math/bits"
)

// setValidator checks one transaction set against its Schema: segment
// order and loops with a stack of open loops, requirement and maximum use,
// and the elements of each segment. It is reused from set to set.
type setValidator struct {
	sch     *Schema
	strict  bool
	stack   []frame
	arena   []int32 // uses counters of the open frames
	keyDone bool
}

// frame is one open loop: the child placed last and per-child uses in the
// current iteration.
type frame struct {
	n    *Node
	pos  int
	off  int // start of uses in arena
	uses []int32
}

// reset starts a set of schema sch; ST has been read.
func (v *setValidator) reset(sch *Schema, strict bool) {
	sch.s.once.Do(sch.s.index)
	v.sch, v.strict, v.keyDone = sch, strict, false
	v.stack, v.arena = v.stack[:0], v.arena[:0]
	v.push(sch.Root)
}

func (v *setValidator) push(n *Node) {
	off, k := len(v.arena), len(n.Children)
	if cap(v.arena)-off < k {
		v.arena = append(v.arena[:off], make([]int32, k)...)
	} else {
		v.arena = v.arena[:off+k]
		clear(v.arena[off:])
	}
	f := frame{n: n, pos: 0, off: off, uses: v.arena[off : off+k : off+k]}
	f.uses[0] = 1
	v.stack = append(v.stack, f)
}

const maxSegmentErrors = 100

func (v *setValidator) add(s *checkState, e SegmentError) {
	if len(s.st.Errors) < maxSegmentErrors {
		s.st.Errors = append(s.st.Errors, e)
	}
}

// structure reports a problem of segment order, loops or maximum use. The
// embedded schemas encode the standards as far as known, so these are
// warnings unless strict (see the package documentation); a missing
// mandatory segment is always an error.
func (v *setValidator) structure(s *checkState, id string, pos int, loop, code, msg string) {
	if v.strict || code == "3" {
		v.add(s, SegmentError{ID: id, Position: pos, Loop: loop, Code: code})
		return
	}
	if len(s.st.Issues) < s.maxIssues() {
		s.st.Issues = append(s.st.Issues, Issue{Warning: true, Code: code, ParseError: s.perr(0, wrapf(ErrUnexpectedSegment, "%s", msg))})
	}
}

// place finds where segment idx fits, closing and opening loops. It
// reports whether it found a place.
func (v *setValidator) place(s *checkState, idx int, id []byte, pos int) bool {
	if d, c := v.find(idx); d >= 0 {
		if d < len(v.stack)-1 {
			v.closeAbove(s, d, pos)
		}
		f := &v.stack[d]
		k := f.n.Children[c]
		if c != f.pos {
			if f.pos+1 < c {
				v.skipped(s, f, f.pos+1, c, pos)
			}
			f.pos = c
			f.uses[c] = 0
		}
		f.uses[c]++
		if k.IsLoop() {
			if k.Max > 0 && int(f.uses[c]) > k.Max {
				v.structure(s, string(id), pos, k.Loop, "4", "loop "+k.Loop+" occurs more than "+itoa(k.Max)+" times")
			}
			v.push(k)
		} else if k.Max > 0 && int(f.uses[c]) > k.Max {
			v.structure(s, string(id), pos, f.n.Loop, "5", string(id)+" used more than "+itoa(k.Max)+" times")
		}
		return true
	}
	if idx > 0 && v.sch.known[idx] {
		v.structure(s, string(id), pos, v.loop(), "7", string(id)+" is not in proper sequence for "+v.sch.Name)
	} else {
		v.structure(s, string(id), pos, v.loop(), "6", string(id)+" is not in transaction set "+v.sch.Name)
	}
	return false
}

// find returns the depth d in the stack of open loops and the child c of
// that loop where segment idx fits next, or d = -1. It is the search part
// of place, kept free of calls.
func (v *setValidator) find(idx int) (d, c int) {
	if idx == 0 {
		return -1, 0
	}
	for d = len(v.stack) - 1; d >= 0; d-- {
		f := &v.stack[d]
		c = f.pos
		if d > 0 && c == 0 {
			c = 1 // a loop's first segment again starts a new iteration: the parent's business
		}
		if occ := f.n.occ; occ != nil {
			if m := occ[idx] >> c; m != 0 {
				return d, c + bits.TrailingZeros64(m)
			}
			continue
		}
		kids := f.n.kidIdx
		for ; c < len(kids); c++ {
			if int(kids[c]) == idx {
				return d, c
			}
		}
	}
	return -1, 0
}

func (v *setValidator) loop() string { return v.stack[len(v.stack)-1].n.Loop }

// closeAbove ends the loops above depth d.
func (v *setValidator) closeAbove(s *checkState, d, pos int) {
	for i := len(v.stack) - 1; i > d; i-- {
		f := &v.stack[i]
		v.skipped(s, f, f.pos+1, len(f.n.Children), pos)
		v.arena = v.arena[:f.off]
	}
	v.stack = v.stack[:d+1]
}

// skipped reports mandatory children of f in [from, to) not used.
func (v *setValidator) skipped(s *checkState, f *frame, from, to, pos int) {
	if from >= to {
		return
	}
	next := f.n.nextReq
	for c := next[from]; c < to; c = next[c+1] {
		k := f.n.Children[c]
		if f.uses[c] > 0 {
			continue
		}
		if k.IsLoop() {
			id := k.Children[0].Segment
			v.structure(s, id, pos, k.Loop, "3", "mandatory loop "+k.Loop+" ("+id+") missing")
		} else if k.Segment != "SE" {
			v.structure(s, k.Segment, pos, f.n.Loop, "3", "mandatory segment "+k.Segment+" missing")
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}

func (v *setValidator) segment(s *checkState, seg *Segment, pos int) {
	id := seg.ID()
	sch := v.sch
	idx := sch.s.ids.lookup(id)
	if idx == 0 && !validID(id) {
		v.add(s, SegmentError{ID: clip(string(id), 3), Position: pos, Code: "1"})
		return
	}
	v.place(s, idx, id, pos)
	if !v.keyDone && sch.KeyElement > 0 && string(id) == sch.KeySegment {
		v.keyDone = true
		if k := seg.Element(sch.KeyElement); len(k) > 0 {
			s.st.Key = string(k)
			s.st.KeyRef = sch.keyRef
		}
	}
	var d *SegmentDef
	if idx > 0 {
		d = sch.s.defs[idx]
	}
	if d == nil {
		return
	}
	var errs []ElementError
	n := seg.Len() - 1
	if d.MaxElements > 0 && n > d.MaxElements {
		errs = append(errs, ElementError{Position: d.MaxElements + 1, Code: "3", Copy: clip(string(seg.Element(d.MaxElements+1)), 99)})
	}
	// Elements present in the segment, then the absent ones up to the
	// last mandatory one.
	raw, ends, checks := seg.raw, seg.ends, d.checks
	np := min(n, len(checks))
	nested := seg.nested
	i := passing(checks[:np], ends, nested)
	if i == np && np >= d.lastReq && errs == nil {
		return // the common case
	}
	for ; i < np; i++ {
		c := &checks[i]
		a, b := int(ends[i])+1, int(ends[i+1])
		l := uint32(b - a)
		if l == 0 {
			if c.req {
				errs = append(errs, ElementError{Position: i + 1, Ref: d.Elements[i].Ref, Code: "1"})
			}
			continue
		}
		if c.fast && !nested && l-c.min <= c.span {
			continue // the common case, without a call
		}
		ed := &d.Elements[i]
		val := raw[a:b]
		if code := checkValue(ed, val, seg); code != "" {
			errs = append(errs, ElementError{Position: i + 1, Ref: ed.Ref, Code: code, Copy: clip(string(val), 99), Warning: !v.strict})
		}
	}
	for i := np; i < d.lastReq; i++ {
		if checks[i].req {
			errs = append(errs, ElementError{Position: i + 1, Ref: d.Elements[i].Ref, Code: "1"})
		}
	}
	if errs != nil {
		w := true
		for _, e := range errs {
			w = w && e.Warning
		}
		v.add(s, SegmentError{ID: string(id), Position: pos, Loop: v.loop(), Code: "8", Elements: errs, Warning: w})
	}
}

// passing returns how many leading elements, ends as in Segment, pass
// their checks without a call: empty and optional, or length-only and of
// a length in range (and not nested).
func passing(checks []elemCheck, ends []int32, nested bool) int {
	if len(ends) <= len(checks) {
		return 0
	}
	for i := range checks {
		c := &checks[i]
		l := uint32(ends[i+1] - ends[i] - 1)
		if l == 0 {
			if c.req {
				return i
			}
			continue
		}
		if !c.fast || nested || l-c.min > c.span {
			return i
		}
	}
	return len(checks)
}

// checkValue returns the AK403 code for a bad value, or "".
func checkValue(ed *ElementDef, val []byte, seg *Segment) string {
	d := seg.d
	if ed.kind == 'C' || seg.nested && (d.Component != 0 && bytes.IndexByte(val, d.Component) >= 0 || d.Repetition != 0 && bytes.IndexByte(val, d.Repetition) >= 0) {
		return ""
	}
	n := len(val)
	switch ed.kind {
	case 'R', 'N':
		digits, dots := 0, 0
		for i, c := range val {
			switch {
			case c >= '0' && c <= '9':
				digits++
			case c == '-' && i == 0:
			case c == '.' && ed.kind == 'R':
				dots++
			default:
				return "6"
			}
		}
		if digits == 0 || dots > 1 {
			return "6"
		}
		n = digits
	case 'D':
		if !validDate(val, true) || n != ed.Min && n != ed.Max {
			return "8"
		}
	case 'T':
		if !validTime(val) {
			return "9"
		}
	case 'I':
		if ed.codes != nil {
			if _, ok := ed.codes.Codes[string(val)]; !ok {
				return "7"
			}
		}
	}
	if n < ed.Min {
		return "4"
	}
	if ed.Max > 0 && n > ed.Max {
		return "5"
	}
	return ""
}

// finish ends the set at SE (position sePos).
func (v *setValidator) finish(s *checkState, sePos int) {
	v.closeAbove(s, 0, sePos)
	f := &v.stack[0]
	v.skipped(s, f, f.pos+1, len(f.n.Children), sePos)
}
