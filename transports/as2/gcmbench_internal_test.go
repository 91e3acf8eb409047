package as2

import (
	"crypto/aes"
	"io"
	"testing"
)

func BenchmarkGCMOpener(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 32))
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	o, _ := newGCMOpener(block, make([]byte, 12), nil, make([]byte, 16), io.Discard)
	for i := 0; i < b.N; i++ {
		o.Write(buf)
	}
}
