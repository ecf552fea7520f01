// Package testkit holds what the repository's tests share: payload generators, a raw TCP
// server with the server side of the WebSocket wire written by hand (for inputs no real
// server sends), the test binary re-run as a helper process, and test certificates with a
// TLS front that terminates TLS before a plain server. It depends on nothing of
// wsfleet, so that every package's tests, codec's included, may use it.
package testkit
