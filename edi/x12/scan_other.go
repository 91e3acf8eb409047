//go:build !amd64 || purego

package x12

// maskBlocks fills out[k] with the masks of b[64k:64k+64]; len(b) is
// 64*len(out).
func maskBlocks(b []byte, v *vecDelims, out []blockMask) {
	maskBlocksGo(b, v, out)
}
