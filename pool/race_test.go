//go:build race

package pool

// Under the race detector sync.Pool drops a random quarter of Puts on
// purpose, so reuse can only be asserted statistically.
const raceEnabled = true
