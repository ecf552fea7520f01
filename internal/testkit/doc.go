// Package testkit holds what the repository's tests share: payload generators, a raw TCP
// server with the server side of the WebSocket wire written by hand (for inputs no real
// server sends), and the test binary re-run as a helper process. It depends on nothing of
// wsfleet, so that every package's tests, codec's included, may use it.
package testkit
