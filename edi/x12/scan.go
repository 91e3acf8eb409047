package x12

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Reading in two stages: maskBlocks classifies every byte of the buffer,
// 64 at a time, into bit masks (element separator, segment terminator,
// and "rare": below 0x0E, component or repetition separator); scanFast
// then takes each segment's terminator and element ends from the masks
// with a few word operations. maskBlocks has an SSE2 version on amd64
// (scan_amd64.s) and a portable one (maskBlocksGo) that tests compare.

// blockMask holds bit i set for byte i of a 64-byte block that is an
// element separator (sep), the segment terminator (term), or a byte
// below 0x0E, the component or the repetition separator (rare).
type blockMask struct {
	sep, term, rare uint64
}

// vecDelims holds what maskBlocks compares bytes with, each repeated 16
// times: element separator, terminator, component and repetition
// separator (0 when absent: NUL is below 0x0E anyway), and 0x0D.
type vecDelims [5][16]byte

func (v *vecDelims) set(d Delimiters) {
	for i, c := range [5]byte{d.Element, d.Segment, d.Component, d.Repetition, 0x0D} {
		for j := range v[i] {
			v[i][j] = c
		}
	}
}

// maskBlocksGo is maskBlocks in Go: out[k] gets the masks of
// b[64k:64k+64]; len(b) is 64*len(out).
func maskBlocksGo(b []byte, v *vecDelims, out []blockMask) {
	sep, term := swarLo*uint64(v[0][0]), swarLo*uint64(v[1][0])
	comp, rept := swarLo*uint64(v[2][0]), swarLo*uint64(v[3][0])
	for k := range out {
		blk := b[64*k : 64*k+64]
		var s, t, r uint64
		for w := 0; w < 8; w++ {
			x := binary.LittleEndian.Uint64(blk[8*w:])
			// Below 0x0E, exactly: no carry leaves a byte.
			lt := ^((x & swarLow) + swarLo*(0x80-0x0E) | x) & (swarLo * 0x80)
			s |= gather(zeroBytes(x^sep)) << (8 * w)
			t |= gather(zeroBytes(x^term)) << (8 * w)
			r |= gather(zeroBytes(x^comp)|zeroBytes(x^rept)|lt) << (8 * w)
		}
		out[k] = blockMask{s, t, r}
	}
}

// gather packs the high bits of x's bytes (its only bits) into 8 bits.
func gather(x uint64) uint64 {
	return (x >> 7) * 0x0102040810204080 >> 56
}

// ensureMasks makes the masks of every whole block of buf[:end] from the
// block holding pos on valid.
func (r *Reader) ensureMasks(pos int) {
	if len(r.masks) != len(r.buf)>>6 {
		r.masks = make([]blockMask, len(r.buf)>>6)
		r.mLo, r.mHi = 0, 0
	}
	if k := pos >> 6; k < r.mLo || k > r.mHi {
		r.mLo, r.mHi = k, k
	}
	if full := r.end >> 6; r.mHi < full {
		maskBlocks(r.buf[r.mHi<<6:full<<6], &r.vec, r.masks[r.mHi:full])
		r.mHi = full
	}
}

// scanFast reads the segment at r.start from the masks. It handles the
// common case, a non-empty segment whose terminator lies in the whole
// blocks buffered, within 4 KiB, and that holds no CR or LF; otherwise it
// returns nil and readSegment takes the general path.
func (r *Reader) scanFast() *Segment {
	pos := r.start
	lim := min(r.end&^63, pos+min(fastWindow, r.maxSeg()+1))
	if lim <= pos {
		return nil
	}
	k := pos >> 6
	if k < r.mLo || r.mHi != r.end>>6 {
		r.ensureMasks(pos)
	}
	m := r.masks
	before := uint64(1)<<(pos&63) - 1 // bits of the block before pos
	t := m[k].term &^ before
	kt := k
	for t == 0 {
		kt++
		if kt<<6 >= lim {
			return nil
		}
		t = m[kt].term
	}
	j := kt<<6 + bits.TrailingZeros64(t)
	if j >= lim || j == pos {
		return nil
	}
	if j-pos >= len(r.fastEnds) {
		// At most j-pos element ends and the segment's end.
		n := max(fastEndsStart, 2*len(r.fastEnds))
		for n <= j-pos {
			n *= 2
		}
		r.fastEnds = make([]int32, min(n, fastEndsLen))
	}
	e := r.fastEnds
	mask := len(e) - 1
	if mask < 0 {
		return nil // never: tells the compiler that n&mask is in bounds
	}
	n := 0 // element ends in e
	var rare uint64
	for b := k; b <= kt; b++ {
		in := ^uint64(0) // bits of the block in [pos, j)
		if b == k {
			in &^= before
		}
		if b == kt {
			in &= uint64(1)<<(j&63) - 1
		}
		rare |= m[b].rare & in
		off := b<<6 - pos
		for s := m[b].sep & in; s != 0; s &= s - 1 {
			e[n&mask] = int32(off + bits.TrailingZeros64(s))
			n++
		}
	}
	raw := r.buf[pos:j]
	nested := false
	if rare != 0 {
		// CR and LF need the general path; a component or repetition
		// separator, or another byte below 0x0E, marks the segment
		// nested, a hint that makes element checks look closer
		// (checkValue finds the same for a NUL or control byte as
		// without it).
		if bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
			return nil
		}
		nested = true
	}
	e[n&mask] = int32(j - pos)
	s := &r.seg
	s.raw = raw
	s.ends = e[:n+1]
	s.Offset = r.base + int64(pos)
	if r.segOwnD {
		r.segOwnD = false
		if s.d != r.d {
			s.d, s.class = r.d, nil
		}
	}
	s.nested = nested
	r.start = j + 1
	r.nseg++
	r.track()
	return s
}
