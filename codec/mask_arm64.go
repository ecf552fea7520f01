//go:build arm64 && !purego

package codec

// maskNEON is in mask_arm64.s. NEON (Advanced SIMD) is mandatory on arm64,
// so there is nothing to detect. It handles every length and reads the last
// vector before storing anything, so dst == src is safe.
//
//go:noescape
func maskNEON(dst, src []byte, key [4]byte, pos int)

// maskBytes is the kernel the public functions use.
func maskBytes(dst, src []byte, key [4]byte, pos int) { maskNEON(dst, src, key, pos) }

// maskImpls lists the kernels this machine can run, for the tests and benchmarks.
var maskImpls = []maskImpl{{"neon", maskNEON}, {"generic", maskGeneric}}
