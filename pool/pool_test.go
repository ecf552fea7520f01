package pool

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

// backing identifies a buffer's backing array.
func backing(b *bytebufferpool.ByteBuffer) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(b.B[:cap(b.B)]))
}

// quiet makes sync.Pool deterministic for one test: it starts empty (two GCs
// clear the pools and their victim caches), then no GC (which would empty
// them) and one P (a Put on one P is invisible to a Get on another P's
// private slot).
func quiet(t *testing.T) {
	runtime.GC()
	runtime.GC()
	gc := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	})
}

func TestClassFor(t *testing.T) {
	for _, tc := range []struct{ n, size int }{
		{-5, 256}, {0, 256}, {1, 256}, {256, 256}, {257, 512}, {512, 512},
		{1000, 1024}, {4096, 4096}, {4097, 8192}, {1 << 20, 1 << 20},
		{LargestClass - 1, LargestClass}, {LargestClass, LargestClass},
		{LargestClass + 1, LargestClass + 1},
	} {
		if got := ClassSize(tc.n); got != tc.size {
			t.Errorf("ClassSize(%d) = %d, want %d", tc.n, got, tc.size)
		}
	}
}

func TestGetGuaranteesCap(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 257, 3000, 65536, 65537, 1<<20 + 3, LargestClass, LargestClass + 7} {
		b := Get(n)
		if len(b.B) != 0 || cap(b.B) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b.B), cap(b.B))
		}
		Put(b)
	}
}

func TestPutThenGetReuses(t *testing.T) {
	quiet(t)
	tries := 1
	if raceEnabled {
		tries = 100 // each Put is kept with probability 3/4
	}
	for _, n := range []int{256, 1000, 4096, 100 << 10, LargestClass} {
		reused := false
		for i := 0; i < tries && !reused; i++ {
			b := Get(n)
			b.B = append(b.B, "hello"...)
			p := backing(b)
			Put(b)
			b2 := Get(n)
			reused = backing(b2) == p
			if reused && len(b2.B) != 0 {
				t.Fatalf("reused buffer has len %d", len(b2.B))
			}
			Put(b2)
		}
		if !reused {
			t.Errorf("Get(%d) after Put did not reuse the buffer", n)
		}
	}
}

func TestGrownBufferGoesToTheClassItsCapFits(t *testing.T) {
	quiet(t)
	tries := 1
	if raceEnabled {
		tries = 100
	}
	reused := false
	for i := 0; i < tries && !reused; i++ {
		b := Get(256)
		b.B = append(b.B, make([]byte, 5000)...) // cap now > 4096, < 8192
		if c := cap(b.B); c < 4096 || c >= 8192 {
			t.Skipf("append grew to cap %d; test assumes (4096, 8192)", c)
		}
		p := backing(b)
		Put(b)
		if got := Get(256); backing(got) == p {
			t.Fatal("a 4 KiB-class buffer came back from the 256 B class")
		}
		got := Get(4096)
		reused = backing(got) == p
		if cap(got.B) < 4096 {
			t.Fatalf("cap %d < 4096", cap(got.B))
		}
		Put(got)
	}
	if !reused {
		t.Error("grown buffer was not filed under the 4 KiB class")
	}
}

func TestHugeBufferIsNotKept(t *testing.T) {
	quiet(t)
	n := LargestClass + 1
	b := Get(n)
	if cap(b.B) < n {
		t.Fatalf("cap %d", cap(b.B))
	}
	p := backing(b)
	Put(b)
	if b.B != nil {
		t.Error("Put kept a reference to an oversize buffer")
	}
	b2 := Get(n)
	if backing(b2) == p {
		t.Error("oversize buffer was kept")
	}
	// An ordinary buffer appended past the largest class is dropped too.
	b3 := Get(LargestClass)
	b3.B = append(b3.B[:cap(b3.B)], 1)
	Put(b3)
	for i := 0; i < 4; i++ {
		if got := Get(LargestClass); cap(got.B) > LargestClass {
			t.Fatalf("class %d handed out cap %d", LargestClass, cap(got.B))
		}
	}
}

func TestPutTolerates(t *testing.T) {
	Put(nil)
	Put(&bytebufferpool.ByteBuffer{})                         // never pooled: too small
	Put(&bytebufferpool.ByteBuffer{B: make([]byte, 10, 100)}) // too small
	b := Get(0)
	if cap(b.B) < SmallestClass {
		t.Fatalf("cap %d", cap(b.B))
	}
}

func TestGrowPreservesContents(t *testing.T) {
	b := Get(10)
	want := []byte{}
	for i := 0; i < 300000; i += 997 {
		chunk := bytes.Repeat([]byte{byte(i)}, 997)
		b = Grow(b, len(chunk))
		if cap(b.B)-len(b.B) < len(chunk) {
			t.Fatalf("Grow left %d bytes of room, want %d", cap(b.B)-len(b.B), len(chunk))
		}
		b.B = append(b.B, chunk...)
		want = append(want, chunk...)
	}
	if !bytes.Equal(b.B, want) {
		t.Fatal("contents changed while growing")
	}
	same := Grow(b, 0)
	if same != b {
		t.Fatal("Grow(b, 0) replaced the buffer")
	}
	Put(b)

	if g := Grow(nil, 100); cap(g.B) < 100 {
		t.Fatal("Grow(nil) too small")
	}
}

func TestGrowBeyondLargestClass(t *testing.T) {
	b := Get(LargestClass)
	b.B = append(b.B, bytes.Repeat([]byte("ab"), LargestClass/2)...)
	b = Grow(b, 10)
	if cap(b.B) < LargestClass+10 || len(b.B) != LargestClass {
		t.Fatalf("len %d cap %d", len(b.B), cap(b.B))
	}
	if b.B[0] != 'a' || b.B[LargestClass-1] != 'b' {
		t.Fatal("contents lost")
	}
	Put(b)
}

// TestConcurrent is mainly for -race: owners write and verify their own
// pattern, so a buffer handed to two owners at once shows up as corruption.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			pat := byte(seed + 1) // each owner writes its own byte
			src := bytes.Repeat([]byte{pat}, 70000)
			for i := 0; i < 2000; i++ {
				n := r.IntN(len(src))
				b := Get(n)
				b.B = append(b.B, src[:n]...)
				if r.IntN(4) == 0 {
					b = Grow(b, r.IntN(100000))
				}
				if bytes.Count(b.B, src[:1]) != len(b.B) {
					t.Errorf("buffer holds bytes of another owner: shared")
					return
				}
				Put(b)
			}
		}(uint64(g))
	}
	wg.Wait()
}

func TestGetPutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts under -race")
	}
	Put(Get(1000))
	if a := testing.AllocsPerRun(1000, func() { Put(Get(1000)) }); a != 0 {
		t.Errorf("Get+Put: %v allocs", a)
	}
}

func BenchmarkGetPut(b *testing.B) {
	for _, size := range []int{256, 4 << 10, 64 << 10, 1 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf := Get(size)
				buf.B = append(buf.B, 'x')
				Put(buf)
			}
		})
	}
}

func BenchmarkGetPutParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf := Get(4096)
			buf.B = append(buf.B, 'x')
			Put(buf)
		}
	})
}

func BenchmarkGrow(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buf := Get(256)
		buf.B = append(buf.B, make([]byte, 200)...)
		buf = Grow(buf, 4000)
		Put(buf)
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// bytebufferpool recalibrates every 42000 Puts and then drops buffers bigger
// than what it saw; reuse must survive that, including for grown buffers.
func TestReuseSurvivesCalibration(t *testing.T) {
	quiet(t)
	for i := 0; i < 100000; i++ {
		b := Get(1000)
		if i%30 == 0 {
			// Mostly tiny lens: calibrated on them, bytebufferpool would
			// drop every 1 KiB buffer from then on.
			b.B = b.B[:cap(b.B)]
		} else {
			b.B = append(b.B, 'x')
		}
		Put(b)
	}
	tries := 1
	if raceEnabled {
		tries = 100
	}
	reused := false
	for i := 0; i < tries && !reused; i++ {
		b := Get(1000)
		if i%2 == 1 {
			b.B = append(b.B, make([]byte, 1500)...) // grown: a bigger class
		}
		p := backing(b)
		class := 1 << (bits.Len(uint(cap(b.B))) - 1)
		Put(b)
		got := Get(class)
		reused = backing(got) == p
		if cap(got.B) < class {
			t.Fatalf("cap %d", cap(got.B))
		}
		Put(got)
	}
	if !reused {
		t.Error("no reuse after calibration")
	}
}
