package transport

import (
	"runtime"
	"sync"
)

// GoroutineID is the calling goroutine's number, as runtime.Stack prints it. gnet runs each
// event loop, with every callback and every Runnable given to Execute, on one goroutine for
// the loop's life, so comparing with the number a loop recorded (Loop.OnLoop) tells whether
// the caller is that loop: a sender that must never wait for its own loop. It costs about a
// microsecond; callers keep it off their fast paths.
func GoroutineID() uint64 {
	bp := stackBufs.Get().(*[32]byte)
	b := bp[:runtime.Stack(bp[:], false)] // "goroutine 123 [running]: ..."
	const prefix = len("goroutine ")
	var id uint64
	for i := prefix; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		id = id*10 + uint64(b[i]-'0')
	}
	stackBufs.Put(bp)
	return id
}

// stackBufs keeps GoroutineID allocation-free: runtime.Stack's buffer escapes.
var stackBufs = sync.Pool{New: func() any { return new([32]byte) }}
