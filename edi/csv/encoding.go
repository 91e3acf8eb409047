package csv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wharfedi/wharf/internal/iobuf"
)

// Encodings a layout may declare.
const (
	UTF8        = "utf-8"        // UTF-8; a byte order mark is skipped on read, none written
	UTF8BOM     = "utf-8-bom"    // UTF-8 with a byte order mark written (and skipped on read)
	Windows1252 = "windows-1252" // single-byte Windows Latin 1
)

// ErrEncoding: text cannot be represented in (or read from) the encoding.
var ErrEncoding = errors.New("character not representable in the encoding")

// win1252 maps bytes 0x80..0x9F to runes; other bytes are Latin-1.
// Undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to U+FFFD.
var win1252 = [32]rune{
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
}

var win1252Rev = func() map[rune]byte {
	m := map[rune]byte{}
	for i, r := range win1252 {
		if r != 0xFFFD {
			m[r] = byte(0x80 + i)
		}
	}
	return m
}()

// NormalizeEncoding returns the canonical name of enc ("" means UTF-8),
// or an error for an encoding Wharf does not read.
func NormalizeEncoding(enc string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "utf-8", "utf8":
		return UTF8, nil
	case "utf-8-bom", "utf8-bom":
		return UTF8BOM, nil
	case "windows-1252", "cp1252":
		return Windows1252, nil
	}
	return "", fmt.Errorf("csv: encoding %q: use utf-8, utf-8-bom or windows-1252", enc)
}

// NewDecoder returns a reader of UTF-8 text from r in encoding enc: a
// leading UTF-8 byte order mark is dropped, Windows-1252 is transcoded.
// It streams; memory does not grow with the input.
func NewDecoder(r io.Reader, enc string) (io.Reader, error) {
	enc, err := NormalizeEncoding(enc)
	if err != nil {
		return nil, err
	}
	br := iobuf.NewReader(r, 3, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) && enc != Windows1252 {
		br.Discard(3)
	}
	if enc != Windows1252 {
		return br, nil
	}
	return &decoder1252{r: br.Reader}, nil
}

type decoder1252 struct {
	r   *bufio.Reader
	buf []byte
}

func (d *decoder1252) Read(p []byte) (int, error) {
	if len(d.buf) > 0 {
		n := copy(p, d.buf)
		d.buf = d.buf[n:]
		return n, nil
	}
	n := 0
	for n+utf8.UTFMax <= len(p) {
		b, err := d.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		switch {
		case b < 0x80:
			p[n] = b
			n++
		case b < 0xA0:
			n += utf8.EncodeRune(p[n:], win1252[b-0x80])
		default:
			n += utf8.EncodeRune(p[n:], rune(b))
		}
	}
	if n == 0 {
		// p is shorter than one rune: read through a small buffer.
		var tmp [utf8.UTFMax]byte
		m, err := d.Read(tmp[:])
		d.buf = append(d.buf, tmp[:m]...)
		n = copy(p, d.buf)
		d.buf = d.buf[n:]
		return n, err
	}
	return n, nil
}

// NewEncoder returns a writer taking UTF-8 text and writing it to w in
// encoding enc (a byte order mark first for utf-8-bom). Writing a rune
// Windows-1252 cannot hold is an error wrapping ErrEncoding, never a
// silent '?'.
func NewEncoder(w io.Writer, enc string) (io.Writer, error) {
	enc, err := NormalizeEncoding(enc)
	if err != nil {
		return nil, err
	}
	switch enc {
	case UTF8BOM:
		return &bomWriter{w: w}, nil
	case Windows1252:
		return &encoder1252{w: w}, nil
	}
	return w, nil
}

type bomWriter struct {
	w    io.Writer
	done bool
}

func (b *bomWriter) Write(p []byte) (int, error) {
	if !b.done {
		b.done = true
		if _, err := b.w.Write([]byte{0xEF, 0xBB, 0xBF}); err != nil {
			return 0, err
		}
	}
	return b.w.Write(p)
}

type encoder1252 struct {
	w       io.Writer
	out     []byte
	partial []byte
}

func (e *encoder1252) Write(p []byte) (int, error) {
	e.out = e.out[:0]
	in := p
	if len(e.partial) > 0 {
		in = append(e.partial, p...)
		e.partial = nil
	}
	for len(in) > 0 {
		if in[0] < 0x80 {
			e.out = append(e.out, in[0])
			in = in[1:]
			continue
		}
		if !utf8.FullRune(in) {
			e.partial = append([]byte(nil), in...)
			break
		}
		r, size := utf8.DecodeRune(in)
		switch {
		case r >= 0xA0 && r <= 0xFF:
			e.out = append(e.out, byte(r))
		default:
			b, ok := win1252Rev[r]
			if !ok {
				return 0, fmt.Errorf("csv: %w: %q in windows-1252", ErrEncoding, r)
			}
			e.out = append(e.out, b)
		}
		in = in[size:]
	}
	if _, err := e.w.Write(e.out); err != nil {
		return 0, err
	}
	return len(p), nil
}
