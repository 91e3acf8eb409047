package as2

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
)

// Streaming AES-GCM (NIST SP 800-38D) for AuthEnvelopedData of any size:
// crypto/cipher's AEAD needs the whole ciphertext in memory, so this is
// GCM's two halves written out, CTR with a 32-bit counter (inc32) for the
// content and GHASH for the tag, with a 4-bit table (Shoup's method) in
// constant memory. The decrypted bytes are written as they come; the
// caller must not use them before Close has checked the tag (the receiving
// endpoint writes them to a spool file and only reads it afterwards).

type gcmElem struct{ low, high uint64 }

// ghash is GHASH keyed with H, over the AAD and then the ciphertext.
type ghash struct {
	table   [16]gcmElem
	y       gcmElem
	partial [16]byte
	np      int
	aadLen  uint64
	ctLen   uint64
}

func newGHASH(block cipher.Block) *ghash {
	var h [16]byte
	block.Encrypt(h[:], h[:])
	g := &ghash{}
	x := gcmElem{binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])}
	// The table holds the 16 multiples of H, indexed by bit-reversed nibbles.
	g.table[reverse4(1)] = x
	for i := 2; i < 16; i += 2 {
		g.table[reverse4(i)] = gcmDouble(g.table[reverse4(i/2)])
		g.table[reverse4(i+1)] = gcmAdd(g.table[reverse4(i)], x)
	}
	return g
}

func reverse4(i int) int {
	i = ((i << 2) & 0xc) | ((i >> 2) & 0x3)
	return ((i << 1) & 0xa) | ((i >> 1) & 0x5)
}

func gcmAdd(x, y gcmElem) gcmElem { return gcmElem{x.low ^ y.low, x.high ^ y.high} }

func gcmDouble(x gcmElem) gcmElem {
	msb := x.high&1 == 1
	d := gcmElem{low: x.low >> 1, high: x.high>>1 | x.low<<63}
	if msb {
		d.low ^= 0xe100000000000000
	}
	return d
}

var gcmReduction = [16]uint16{
	0x0000, 0x1c20, 0x3840, 0x2460, 0x7080, 0x6ca0, 0x48c0, 0x54e0,
	0xe100, 0xfd20, 0xd940, 0xc560, 0x9180, 0x8da0, 0xa9c0, 0xb5e0,
}

// mul sets y to y·H.
func (g *ghash) mul(y *gcmElem) {
	var z gcmElem
	for i := 0; i < 2; i++ {
		word := y.high
		if i == 1 {
			word = y.low
		}
		for j := 0; j < 64; j += 4 {
			msw := z.high & 0xf
			z.high = z.high>>4 | z.low<<60
			z.low = z.low>>4 ^ uint64(gcmReduction[msw])<<48
			t := &g.table[word&0xf]
			z.low ^= t.low
			z.high ^= t.high
			word >>= 4
		}
	}
	*y = z
}

func (g *ghash) block(b []byte) {
	g.y.low ^= binary.BigEndian.Uint64(b)
	g.y.high ^= binary.BigEndian.Uint64(b[8:])
	g.mul(&g.y)
}

// write absorbs data (zero-padded to whole blocks at flush).
func (g *ghash) write(p []byte) {
	if g.np > 0 {
		n := copy(g.partial[g.np:], p)
		g.np += n
		p = p[n:]
		if g.np < 16 {
			return
		}
		g.block(g.partial[:])
		g.np = 0
	}
	for len(p) >= 16 {
		g.block(p[:16])
		p = p[16:]
	}
	g.np = copy(g.partial[:], p)
}

func (g *ghash) flush() {
	if g.np > 0 {
		clear(g.partial[g.np:])
		g.block(g.partial[:])
		g.np = 0
	}
}

// sum returns GHASH(A, C) with the length block.
func (g *ghash) sum() [16]byte {
	g.flush()
	y := g.y
	y.low ^= g.aadLen * 8
	y.high ^= g.ctLen * 8
	g.mul(&y)
	var out [16]byte
	binary.BigEndian.PutUint64(out[:8], y.low)
	binary.BigEndian.PutUint64(out[8:], y.high)
	return out
}

// ctr32 is GCM's counter mode: only the last 32 bits of the counter count.
type ctr32 struct {
	b    cipher.Block
	ctr  [16]byte
	ks   [512]byte
	used int
}

func (c *ctr32) XORKeyStream(dst, src []byte) {
	for len(src) > 0 {
		if c.used == len(c.ks) {
			for i := 0; i < len(c.ks); i += 16 {
				c.b.Encrypt(c.ks[i:i+16], c.ctr[:])
				binary.BigEndian.PutUint32(c.ctr[12:], binary.BigEndian.Uint32(c.ctr[12:])+1)
			}
			c.used = 0
		}
		n := subtle.XORBytes(dst, src, c.ks[c.used:])
		c.used += n
		dst, src = dst[n:], src[n:]
	}
}

// gcmOpener decrypts AES-GCM ciphertext written to it into w and checks
// the tag on Close.
type gcmOpener struct {
	w       io.Writer
	g       *ghash
	ctr     *ctr32
	tagMask [16]byte
	tag     []byte
	buf     []byte
}

func newGCMOpener(block cipher.Block, nonce, aad, tag []byte, w io.Writer) (*gcmOpener, error) {
	if block.BlockSize() != 16 {
		return nil, errors.New("gcm: needs a 128-bit block cipher")
	}
	if len(nonce) == 0 {
		return nil, errors.New("gcm: empty nonce")
	}
	if len(tag) < 12 || len(tag) > 16 {
		return nil, errors.New("gcm: tag must be 12 to 16 bytes")
	}
	g := newGHASH(block)
	var j0 [16]byte
	if len(nonce) == 12 {
		copy(j0[:], nonce)
		j0[15] = 1
	} else {
		ng := newGHASH(block)
		ng.write(nonce)
		ng.flush()
		y := ng.y
		y.high ^= uint64(len(nonce)) * 8
		ng.mul(&y)
		binary.BigEndian.PutUint64(j0[:8], y.low)
		binary.BigEndian.PutUint64(j0[8:], y.high)
	}
	o := &gcmOpener{w: w, g: g, tag: tag, buf: make([]byte, 32<<10)}
	block.Encrypt(o.tagMask[:], j0[:])
	o.ctr = &ctr32{b: block, ctr: j0, used: 512}
	binary.BigEndian.PutUint32(o.ctr.ctr[12:], binary.BigEndian.Uint32(j0[12:])+1)
	g.write(aad)
	g.flush()
	g.aadLen = uint64(len(aad))
	return o, nil
}

func (o *gcmOpener) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := p[:min(len(p), len(o.buf))]
		o.g.write(c)
		o.g.ctLen += uint64(len(c))
		if o.g.ctLen > (1<<32-2)*16 {
			return n, errors.New("gcm: content exceeds GCM's 64 GiB limit")
		}
		o.ctr.XORKeyStream(o.buf[:len(c)], c)
		if _, err := o.w.Write(o.buf[:len(c)]); err != nil {
			return n, err
		}
		n += len(c)
		p = p[len(c):]
	}
	return n, nil
}

// Close checks the tag: an error means the content must be discarded.
func (o *gcmOpener) Close() error {
	s := o.g.sum()
	subtle.XORBytes(s[:], s[:], o.tagMask[:])
	if subtle.ConstantTimeCompare(s[:len(o.tag)], o.tag) != 1 {
		return errors.New("gcm authentication failed (wrong key or altered content)")
	}
	return nil
}
