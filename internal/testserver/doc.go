// Package testserver is wsfleet's reference WebSocket server: the peer that the
// engine's tests, the benchmarks and `wsbench serve` talk to.
//
// It must never be the bottleneck of a measurement, so it runs on gnet event
// loops (one per core by default), parses client frames in place out of gnet's
// read buffer, and echoes without copying or allocating per message: replies are
// gathered per loop and written once per read with Write or Writev.
//
// Echo is frame by frame: every data frame goes back with the same FIN bit,
// opcode and length, so fragmentation is preserved, and a frame that spans many
// reads is streamed back as its bytes arrive (nothing is buffered per message).
// Text is checked as valid UTF-8 as it passes; invalid text fails the connection
// with 1007, or, if part of that frame has already been echoed, by closing TCP.
//
// Behaviour depends on the request path:
//
//	/ and /echo                    echo data, answer ping with pong, echo close then close TCP
//	/push?interval=10ms&size=64&count=0
//	                               also push binary messages of size bytes every interval
//	                               (count 0 = forever); bytes 0-7 of each are the send time
//	                               (UnixNano, little endian), bytes 8-15 a sequence number
//	                               (uint64 LE, from 0). Pushes fall on multiples of interval
//	                               since the server started, so connections with the same
//	                               interval are pushed together (one timer pass per loop).
//	                               A connection with over 4 MiB of pushes unread is skipped
//	                               for that tick; its sequence number still advances.
//	/stall?every=10s&for=1s        echo, but hold every reply during the stall windows
//	                               [k*every, k*every+for), k >= 1, counted from the server's
//	                               start and shared by all /stall connections; held replies
//	                               are flushed, in order, when the window ends
//	/close?code=4001&reason=bye    send a close frame right after the handshake, wait for the
//	                               client's close (at most 5 s), close TCP
//	/reset?after=N                 echo N messages, then reset TCP (SO_LINGER 0 and close)
//
// Any other path gets 404; a request that is not a valid upgrade gets 400 (426 with
// Sec-WebSocket-Version: 13 for an unsupported version). No extension is ever
// negotiated; a subprotocol is chosen from Options.Subprotocols in that order.
package testserver
