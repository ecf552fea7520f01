//go:build purego || !(amd64 || arm64)

package codec

// Without assembly (other architectures, or the purego tag) the portable
// kernel does all the work.
func maskBytes(dst, src []byte, key [4]byte, pos int) { maskGeneric(dst, src, key, pos) }

// maskImpls lists the kernels this build can run, for the tests and benchmarks.
var maskImpls = []maskImpl{{"generic", maskGeneric}}
