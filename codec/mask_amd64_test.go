//go:build amd64 && !purego

package codec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMaskDispatch runs the public entry with each choice start-up can make,
// so the SSE2 route through maskAMD64 is checked on machines with AVX2 too.
func TestMaskDispatch(t *testing.T) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	r := rand.New(rand.NewPCG(11, 12))
	for _, avx2 := range []bool{false, true} {
		if avx2 && !saved {
			continue // the CPU has no AVX2
		}
		useAVX2 = avx2
		name := fmt.Sprintf("MaskCopy/useAVX2=%v", avx2)
		for n := 0; n <= 300; n++ {
			data := randBytes(r, n)
			for pos := 0; pos < 4; pos++ {
				checkMask(t, name, MaskCopy, data, testKey, pos, n%32, (n+pos)%32, false)
				checkMask(t, name, MaskCopy, data, testKey, pos, n%32, n%32, true)
			}
		}
	}
}
