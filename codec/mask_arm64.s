//go:build arm64 && !purego

#include "textflag.h"

// dst[i] = src[i] ^ key[(pos+i)&3], len(dst) == len(src). Same tail trick as
// on amd64: the
// last 16 bytes (or word) are loaded at src+n-size before any store, masked
// with the key rotated right by 8*(n&3) bits, and stored last, so lengths
// that are not a multiple of 16 need no byte loop and dst == src is safe.

// func maskNEON(dst, src []byte, key [4]byte, pos int)
TEXT ·maskNEON(SB), NOSPLIT, $0-64
	MOVD  dst_base+0(FP), R0
	MOVD  src_base+24(FP), R1
	MOVD  src_len+32(FP), R2
	MOVWU key+48(FP), R4
	MOVD  pos+56(FP), R5

	// R3 = the key rotated to start at pos (rotateKey in mask_generic.go), R4 = the
	// key for a stretch that ends at n. RORW uses the amount mod 32, so 8*pos
	// rotates by 8*(pos&3) for any pos.
	LSL  $3, R5, R8
	RORW R8, R4, R3
	ADD  R2, R5, R8
	LSL  $3, R8, R8
	RORW R8, R4, R4

	ADD R2, R1, R6 // src end
	ADD R2, R0, R7 // dst end

	CMP $16, R2
	BLT small

	VDUP R3, V0.S4
	VDUP R4, V1.S4

	// V2 = the last 16 bytes, masked, stored at the very end.
	SUB  $16, R6, R8
	VLD1 (R8), [V2.B16]
	VEOR V1.B16, V2.B16, V2.B16

loop64:
	CMP    $64, R2
	BLT    loop16
	VLD1.P 64(R1), [V4.B16, V5.B16, V6.B16, V7.B16]
	VEOR   V0.B16, V4.B16, V4.B16
	VEOR   V0.B16, V5.B16, V5.B16
	VEOR   V0.B16, V6.B16, V6.B16
	VEOR   V0.B16, V7.B16, V7.B16
	VST1.P [V4.B16, V5.B16, V6.B16, V7.B16], 64(R0)
	SUB    $64, R2, R2
	B      loop64

loop16:
	// 16 bytes or fewer left: the tail vector covers them.
	CMP    $16, R2
	BLE    tail16
	VLD1.P 16(R1), [V4.B16]
	VEOR   V0.B16, V4.B16, V4.B16
	VST1.P [V4.B16], 16(R0)
	SUB    $16, R2, R2
	B      loop16

tail16:
	SUB  $16, R7, R8
	VST1 [V2.B16], (R8)
	RET

small:
	// 0..15 bytes.
	CMP $8, R2
	BLT small4

	// 8..15: two overlapping 8-byte words; the keys doubled to 64 bits.
	ORR  R3<<32, R3, R3
	ORR  R4<<32, R4, R4
	MOVD (R1), R8
	MOVD -8(R6), R9
	EOR  R3, R8, R8
	EOR  R4, R9, R9
	MOVD R8, (R0)
	MOVD R9, -8(R7)
	RET

small4:
	// 4..7: two overlapping 4-byte words.
	CMP   $4, R2
	BLT   small1
	MOVWU (R1), R8
	MOVWU -4(R6), R9
	EORW  R3, R8, R8
	EORW  R4, R9, R9
	MOVW  R8, (R0)
	MOVW  R9, -4(R7)
	RET

small1:
	// 0..3: byte by byte.
	CBZ R2, done

loop1:
	MOVBU.P 1(R1), R8
	EORW    R3, R8, R8
	MOVB.P  R8, 1(R0)
	LSRW    $8, R3, R3
	SUBS    $1, R2, R2
	BNE     loop1

done:
	RET
