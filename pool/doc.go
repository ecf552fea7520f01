// Package pool lends byte buffers sorted into size classes, so that the hot
// paths (reading frames, writing frames, assembling messages) reuse memory
// instead of allocating it for every message.
//
// The discipline is simple and strict:
//
//   - Get(n) hands out a buffer with len 0 and cap >= n. From that moment the
//     caller owns it: exactly one goroutine (or one event loop) reads and
//     writes it, and it may grow it freely with append or Grow.
//   - Ownership can be passed on (to a Message, to a writer), but at any time
//     there is exactly one owner, and only the owner calls Put.
//   - Put(b) ends the ownership. After Put, neither b nor any slice taken from
//     b.B may be touched again, not even read: the next Get may already have
//     handed the same bytes to somebody else. Keep no sub-slices across Put.
//   - Grow(b, n) may return a different buffer; the old one has then been Put,
//     so the same rule applies to it.
//   - Forgetting to Put is not a leak, only a lost reuse: the garbage collector
//     frees the buffer as usual.
//
// A buffer larger than the largest class (16 MiB) is allocated on demand and
// dropped by Put, so one huge message never pins huge memory for ever.
package pool
