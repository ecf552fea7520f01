package transport

import (
	"testing"
)

func TestGoroutineID(t *testing.T) {
	me := GoroutineID()
	if me == 0 {
		t.Fatal("no goroutine number")
	}
	if again := GoroutineID(); again != me {
		t.Fatalf("%d then %d on one goroutine", me, again)
	}
	other := make(chan uint64)
	go func() { other <- GoroutineID() }()
	if o := <-other; o == me || o == 0 {
		t.Fatalf("another goroutine got %d (this one %d)", o, me)
	}
	if n := testing.AllocsPerRun(100, func() { GoroutineID() }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
