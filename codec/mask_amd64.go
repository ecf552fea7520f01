//go:build amd64 && !purego

package codec

import "golang.org/x/sys/cpu"

// The assembly kernels in mask_amd64.s. Both handle every length (maskAVX2
// hands lengths under 32 to maskSSE2) and read the first and last vectors
// before storing anything, so dst == src is safe.
//
//go:noescape
func maskAVX2(dst, src []byte, key uint32)

//go:noescape
func maskSSE2(dst, src []byte, key uint32)

// useAVX2 is decided once at start-up; SSE2 is part of the amd64 baseline.
// cpu.X86.HasAVX2 also requires the OS to save the YMM registers.
var useAVX2 = cpu.X86.HasAVX2

// maskBytes is the kernel the public functions use. A branch on a constant
// bool rather than a func variable: an indirect call would make dst and src
// escape to the heap in every caller.
func maskBytes(dst, src []byte, key uint32) {
	if useAVX2 {
		maskAVX2(dst, src, key)
		return
	}
	maskSSE2(dst, src, key)
}

// maskImpls lists the kernels this machine can run, for the tests and benchmarks.
var maskImpls = func() []maskImpl {
	impls := []maskImpl{{"sse2", maskSSE2}, {"generic", maskGeneric}}
	if cpu.X86.HasAVX2 {
		impls = append([]maskImpl{{"avx2", maskAVX2}}, impls...)
	}
	return impls
}()
