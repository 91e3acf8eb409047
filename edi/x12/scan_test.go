package x12

import (
	"math/rand"
	"testing"
)

// maskBlocks (SSE2 on amd64) must agree with maskBlocksGo and with a
// byte-by-byte classification.
func TestMaskBlocks(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	alpha := []byte("*~:^|\r\n\x00\x01\x0d\x0e\x1c\x1d\x7f\x80\x8d\xfe\xff ABZ09")
	ds := []Delimiters{
		DefaultDelimiters,
		{Element: '*', Component: ':', Segment: '~'},
		{Element: '|', Segment: '\n'},
		{Element: 0x1D, Component: 0x1F, Repetition: 0x1E, Segment: 0x1C},
		{Element: 0xFE, Component: 0x80, Repetition: 0x7F, Segment: '\r'},
	}
	for iter := 0; iter < 2000; iter++ {
		d := ds[iter%len(ds)]
		n := rng.Intn(6)
		b := make([]byte, 64*n)
		for i := range b {
			if rng.Intn(3) == 0 {
				b[i] = alpha[rng.Intn(len(alpha))]
			} else {
				b[i] = byte(rng.Intn(256))
			}
		}
		var v vecDelims
		v.set(d)
		got, want := make([]blockMask, n), make([]blockMask, n)
		maskBlocks(b, &v, got)
		maskBlocksGo(b, &v, want)
		for k := range want {
			var exact blockMask
			for i, c := range b[64*k : 64*k+64] {
				bit := uint64(1) << i
				if c == d.Element {
					exact.sep |= bit
				}
				if c == d.Segment {
					exact.term |= bit
				}
				if c < 0x0E || c == d.Component && d.Component != 0 || c == d.Repetition && d.Repetition != 0 {
					exact.rare |= bit
				}
			}
			if got[k] != want[k] || want[k] != exact {
				t.Fatalf("delims %v block %d: maskBlocks %x, maskBlocksGo %x, want %x", d, k, got[k], want[k], exact)
			}
		}
	}
}
