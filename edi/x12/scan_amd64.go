//go:build amd64 && !purego

package x12

// maskBlocks fills out[k] with the masks of b[64k:64k+64]; len(b) is
// 64*len(out). SSE2 is part of amd64.
func maskBlocks(b []byte, v *vecDelims, out []blockMask) {
	if len(out) > 0 {
		maskBlocksSSE2(&b[0], len(out), v, &out[0])
	}
}

//go:noescape
func maskBlocksSSE2(p *byte, n int, v *vecDelims, out *blockMask)
