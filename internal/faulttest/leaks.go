package faulttest

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// Snapshot is what a process holds at one moment: what a fault round must give back.
type Snapshot struct {
	Goroutines int
	FDs        int
	Heap       uint64 // live heap after two GCs, so that sync.Pool caches are emptied
}

// TakeSnapshot measures the process now.
func TakeSnapshot() Snapshot {
	runtime.GC()
	runtime.GC()
	return Snapshot{Goroutines: runtime.NumGoroutine(), FDs: countFDs(), Heap: heapLive()}
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

// LeakCheck compares a process after a round with its snapshot before.
type LeakCheck struct {
	Before, After Snapshot
	Problem       string // empty when goroutines, descriptors and heap came back
}

// HeapSlack is how far the live heap may stay above its baseline after a round: what the
// runtime and the buffer pools keep in spans and caches, not per connection.
const HeapSlack = 8 << 20

// CheckBack waits up to timeout for goroutines and descriptors to return to before, then
// compares the heap.
func CheckBack(before Snapshot, timeout time.Duration) LeakCheck {
	deadline := time.Now().Add(timeout)
	var now Snapshot
	for {
		now = TakeSnapshot()
		if (now.Goroutines <= before.Goroutines && now.FDs <= before.FDs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	lc := LeakCheck{Before: before, After: now}
	switch {
	case now.Goroutines > before.Goroutines:
		lc.Problem = fmt.Sprintf("%d goroutines left behind (%d before, %d after)", now.Goroutines-before.Goroutines, before.Goroutines, now.Goroutines)
	case now.FDs > before.FDs:
		lc.Problem = fmt.Sprintf("%d file descriptors left behind (%d before, %d after)", now.FDs-before.FDs, before.FDs, now.FDs)
	case now.Heap > before.Heap+HeapSlack:
		lc.Problem = fmt.Sprintf("live heap %d KiB above its baseline (%d KiB before, %d KiB after)", (now.Heap-before.Heap)>>10, before.Heap>>10, now.Heap>>10)
	}
	return lc
}
