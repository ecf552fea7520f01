//go:build amd64 && !purego

package codec

import "golang.org/x/sys/cpu"

// The assembly kernels in mask_amd64.s. Both handle every length (maskAVX2
// hands lengths under 32 to maskSSE2) and read the first and last vectors
// before storing anything, so dst == src is safe.
//
//go:noescape
func maskAVX2(dst, src []byte, key [4]byte, pos int)

//go:noescape
func maskSSE2(dst, src []byte, key [4]byte, pos int)

// maskAMD64 masks up to 16 bytes itself (the shortest path) and jumps to
// maskAVX2 or maskSSE2 for more, according to useAVX2: one call site, and
// no branch on the Go side.
//
//go:noescape
func maskAMD64(dst, src []byte, key [4]byte, pos int)

// useAVX2 is decided once at start-up; SSE2 is part of the amd64 baseline.
// cpu.X86.HasAVX2 also requires the OS to save the YMM registers.
var useAVX2 = cpu.X86.HasAVX2

// maskBytes is the kernel the public functions use. (Not a func variable:
// an indirect call would make dst and src escape to the heap in every caller.)
func maskBytes(dst, src []byte, key [4]byte, pos int) { maskAMD64(dst, src, key, pos) }

// maskImpls lists the kernels this machine can run, for the tests and benchmarks.
var maskImpls = func() []maskImpl {
	impls := []maskImpl{{"sse2", maskSSE2}, {"generic", maskGeneric}}
	if cpu.X86.HasAVX2 {
		impls = append([]maskImpl{{"avx2", maskAVX2}}, impls...)
	}
	return impls
}()
