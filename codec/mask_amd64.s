//go:build amd64 && !purego

#include "textflag.h"

// Every kernel: dst[i] = src[i] ^ key[(pos+i)&3], len(dst) == len(src).
//
// The tail trick: the last vector (or word) is loaded at src+n-size, which may
// overlap bytes the loop also does. A stretch of a multiple of 4 bytes that
// ends at n starts at key offset (pos+n)&3, so it has its own key, DX below.
// Every load that overlaps another store is done before any store, so the
// result is right when dst == src, and no length needs a byte loop except
// 1-3 bytes.

// KEYS reads the key and pos and leaves AX = the key doubled to 64 bits and
// rotated to start at pos (rotateKey in mask_generic.go), DX = the same for a stretch
// that ends at n (BX). The doubled key repeats every 4 bytes, so RORQ by
// 8*pos (it uses the count mod 64) rotates by 8*(pos&3) for any pos, and its
// low half is the 32-bit key.
#define KEYS \
	MOVL key+48(FP), AX \
	MOVQ AX, DX \
	SHLQ $32, DX \
	ORQ  DX, AX \
	MOVQ AX, DX \
	MOVQ pos+56(FP), CX \
	SHLQ $3, CX \
	RORQ CL, AX \
	LEAQ (CX)(BX*8), CX \
	RORQ CL, DX

// UPTO16 masks n = 0..16 bytes (BX) from SI to DI with the keys from KEYS,
// with two overlapping words, both loaded before either is stored.
#define UPTO16 \
	CMPQ BX, $8 \
	JB   upto7 \
	MOVQ (SI), R10 \
	MOVQ -8(SI)(BX*1), R11 \
	XORQ AX, R10 \
	XORQ DX, R11 \
	MOVQ R10, (DI) \
	MOVQ R11, -8(DI)(BX*1) \
	RET \
upto7: \
	CMPQ BX, $4 \
	JB   upto3 \
	MOVL (SI), R10 \
	MOVL -4(SI)(BX*1), R11 \
	XORL AX, R10 \
	XORL DX, R11 \
	MOVL R10, (DI) \
	MOVL R11, -4(DI)(BX*1) \
	RET \
upto3: \
	TESTQ BX, BX \
	JZ    done \
loop1: \
	MOVB (SI), R10 \
	XORB AX, R10 \
	MOVB R10, (DI) \
	SHRQ $8, AX \
	INCQ SI \
	INCQ DI \
	DECQ BX \
	JNZ  loop1 \
done: \
	RET

// func maskAMD64(dst, src []byte, key [4]byte, pos int)
//
// The entry MaskCopy and Mask call: small lengths are done right here, the
// shortest path this file has; the rest go to the kernel start-up chose.
TEXT ·maskAMD64(SB), NOSPLIT, $0-64
	MOVQ src_len+32(FP), BX
	CMPQ BX, $16
	JA   large
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	KEYS
	UPTO16

large:
	CMPB ·useAVX2(SB), $0
	JEQ  sse2
	JMP  ·maskAVX2(SB)

sse2:
	JMP ·maskSSE2(SB)

// func maskSSE2(dst, src []byte, key [4]byte, pos int)
TEXT ·maskSSE2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), BX
	KEYS
	CMPQ BX, $16
	JA   vectors
	UPTO16

vectors:
	// X0 = key from dst[0], X1 = key for the last 16 bytes.
	MOVQ       AX, X0
	PUNPCKLQDQ X0, X0
	MOVQ       DX, X1
	PUNPCKLQDQ X1, X1

	// X2 = the last 16 bytes, masked, stored at the very end.
	MOVOU -16(SI)(BX*1), X2
	PXOR  X1, X2
	LEAQ  (DI)(BX*1), R8

loop64:
	CMPQ  BX, $64
	JB    loop16
	MOVOU 0(SI), X3
	MOVOU 16(SI), X4
	MOVOU 32(SI), X5
	MOVOU 48(SI), X6
	PXOR  X0, X3
	PXOR  X0, X4
	PXOR  X0, X5
	PXOR  X0, X6
	MOVOU X3, 0(DI)
	MOVOU X4, 16(DI)
	MOVOU X5, 32(DI)
	MOVOU X6, 48(DI)
	ADDQ  $64, SI
	ADDQ  $64, DI
	SUBQ  $64, BX
	JMP   loop64

loop16:
	// 16 bytes or fewer left: the tail vector covers them.
	CMPQ  BX, $16
	JBE   tail16
	MOVOU (SI), X3
	PXOR  X0, X3
	MOVOU X3, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	SUBQ  $16, BX
	JMP   loop16

tail16:
	MOVOU X2, -16(R8)
	RET

// func maskAVX2(dst, src []byte, key [4]byte, pos int)
TEXT ·maskAVX2(SB), NOSPLIT, $0-64
	MOVQ src_len+32(FP), BX
	CMPQ BX, $32
	JB   short

	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	KEYS
	MOVQ         AX, X0
	VPBROADCASTQ X0, Y0
	MOVQ         DX, X1
	VPBROADCASTQ X1, Y1

	// Y2 = the first 32 bytes, Y3 = the last 32, both masked; they are
	// stored after the loop, which lets the loop start at an aligned dst.
	VPXOR (SI), Y0, Y2
	VPXOR -32(SI)(BX*1), Y1, Y3
	MOVQ  DI, R10
	LEAQ  (DI)(BX*1), R8

	// Skip R9 = 0..31 bytes (the head vector covers them) so that every
	// store in the loop is 32-byte aligned, never split across cache lines.
	MOVQ         DI, R9
	NEGQ         R9
	ANDQ         $31, R9
	ADDQ         R9, DI
	ADDQ         R9, SI
	SUBQ         R9, BX
	LEAQ         (R9*8), CX
	RORQ         CL, AX
	MOVQ         AX, X0
	VPBROADCASTQ X0, Y0

loop128:
	CMPQ    BX, $128
	JB      loop32
	VPXOR   0(SI), Y0, Y4
	VPXOR   32(SI), Y0, Y5
	VPXOR   64(SI), Y0, Y6
	VPXOR   96(SI), Y0, Y7
	VMOVDQU Y4, 0(DI)
	VMOVDQU Y5, 32(DI)
	VMOVDQU Y6, 64(DI)
	VMOVDQU Y7, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, BX
	JMP     loop128

loop32:
	// 32 bytes or fewer left: the tail vector covers them.
	CMPQ    BX, $32
	JBE     tail32
	VPXOR   (SI), Y0, Y4
	VMOVDQU Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, BX
	JMP     loop32

tail32:
	VMOVDQU Y2, (R10)
	VMOVDQU Y3, -32(R8)
	VZEROUPPER
	RET

short:
	// Under 32 bytes the SSE2 kernel does as well; same arguments.
	JMP ·maskSSE2(SB)
