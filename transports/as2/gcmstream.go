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
// Field elements are two big-endian words of the 16 bytes, the first
// holding the lowest-degree coefficients (bit 63 of low is x^0).
type ghash struct {
	table   [256]gcmElem // table[b]: the byte b (its bit 7 the lowest degree) times H
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
	g.table[128] = gcmElem{binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:])}
	for k := 64; k >= 1; k >>= 1 {
		g.table[k] = gcmDouble(g.table[2*k])
	}
	for i := 2; i < 256; i <<= 1 {
		for j := 1; j < i; j++ {
			g.table[i+j] = gcmAdd(g.table[i], g.table[j])
		}
	}
	return g
}

func gcmAdd(x, y gcmElem) gcmElem { return gcmElem{x.low ^ y.low, x.high ^ y.high} }

// gcmDouble multiplies by x: a shift towards higher degrees, reduced by
// x^128 = x^7 + x^2 + x + 1.
func gcmDouble(x gcmElem) gcmElem {
	msb := x.high&1 == 1
	d := gcmElem{low: x.low >> 1, high: x.high>>1 | x.low<<63}
	if msb {
		d.low ^= 0xe100000000000000
	}
	return d
}

// gcmReduce8[b] is what the coefficients x^120..x^127 (the byte b, its
// bit 0 the highest degree) become when an element is multiplied by x^8.
var gcmReduce8 = func() (t [256]uint64) {
	for b := range t {
		e := gcmElem{high: uint64(b)}
		for i := 0; i < 8; i++ {
			e = gcmDouble(e)
		}
		t[b] = e.low
	}
	return t
}()

// mul sets y to y·H (Horner over y's bytes, highest degree first).
func (g *ghash) mul(y *gcmElem) {
	var z gcmElem
	for i := 0; i < 2; i++ {
		word := y.high
		if i == 1 {
			word = y.low
		}
		for j := 0; j < 64; j += 8 {
			msb := z.high & 0xff
			z.high = z.high>>8 | z.low<<56
			z.low = z.low>>8 ^ gcmReduce8[msb]
			t := &g.table[word&0xff]
			z.low ^= t.low
			z.high ^= t.high
			word >>= 8
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

// gcmCounter is GCM's keystream from inc32(J0). With a 96-bit nonce J0
// ends in 1, so the 32-bit counter cannot wrap within GCM's 64 GiB limit
// and crypto/cipher's CTR (128-bit increment, hardware-pipelined) gives
// the same stream; other nonces get the 32-bit counter written out.
func gcmCounter(block cipher.Block, j0 [16]byte, nonceLen int) cipher.Stream {
	c := j0
	binary.BigEndian.PutUint32(c[12:], binary.BigEndian.Uint32(j0[12:])+1)
	if nonceLen == 12 {
		return cipher.NewCTR(block, c[:])
	}
	return &ctr32{b: block, ctr: c, used: 512}
}

// gcmOpener decrypts AES-GCM ciphertext written to it into w and checks
// the tag on Close.
type gcmOpener struct {
	w       io.Writer
	g       *ghash
	ctr     cipher.Stream
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
	o.ctr = gcmCounter(block, j0, len(nonce))
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
