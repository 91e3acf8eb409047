//go:build amd64 && !purego

#include "textflag.h"

// CHUNK classifies the 16 bytes at off(SI) and ORs their bits, shifted
// left by sh, into R8 (element separator), R9 (terminator) and R10 (below
// 0x0E, component or repetition separator).
#define CHUNK(off, sh) \
	MOVOU	off(SI), X0; \
	MOVO	X0, X1; \
	PCMPEQB	X8, X1; \
	PMOVMSKB	X1, AX; \
	SHLQ	$sh, AX; \
	ORQ	AX, R8; \
	MOVO	X0, X2; \
	PCMPEQB	X9, X2; \
	PMOVMSKB	X2, AX; \
	SHLQ	$sh, AX; \
	ORQ	AX, R9; \
	MOVO	X0, X3; \
	PCMPEQB	X10, X3; \
	MOVO	X0, X4; \
	PCMPEQB	X11, X4; \
	POR	X4, X3; \
	PSUBUSB	X12, X0; \
	PCMPEQB	X13, X0; \
	POR	X0, X3; \
	PMOVMSKB	X3, AX; \
	SHLQ	$sh, AX; \
	ORQ	AX, R10

// func maskBlocksSSE2(p *byte, n int, v *vecDelims, out *blockMask)
TEXT ·maskBlocksSSE2(SB), NOSPLIT, $0-32
	MOVQ	p+0(FP), SI
	MOVQ	n+8(FP), CX
	MOVQ	v+16(FP), DX
	MOVQ	out+24(FP), DI
	MOVOU	0(DX), X8
	MOVOU	16(DX), X9
	MOVOU	32(DX), X10
	MOVOU	48(DX), X11
	MOVOU	64(DX), X12
	PXOR	X13, X13
	TESTQ	CX, CX
	JEQ	done

loop:
	XORQ	R8, R8
	XORQ	R9, R9
	XORQ	R10, R10
	CHUNK(0, 0)
	CHUNK(16, 16)
	CHUNK(32, 32)
	CHUNK(48, 48)
	MOVQ	R8, 0(DI)
	MOVQ	R9, 8(DI)
	MOVQ	R10, 16(DI)
	ADDQ	$64, SI
	ADDQ	$24, DI
	DECQ	CX
	JNZ	loop

done:
	RET
