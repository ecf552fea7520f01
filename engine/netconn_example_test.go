package engine_test

import (
	"context"
	"fmt"
	"net"
	"net/rpc"

	"github.com/wsfleet/wsfleet/engine"
)

// Arith is the net/rpc service of ExampleNetConn.
type Arith struct{}

// Factors are Arith.Multiply's arguments.
type Factors struct{ A, B int }

// Multiply sets product to f.A × f.B.
func (Arith) Multiply(f Factors, product *int) error {
	*product = f.A * f.B
	return nil
}

// ExampleNetConn runs a net/rpc client over a WebSocket. The server end is a bridge (this
// package's test helper startBridge) that carries each WebSocket's messages to a TCP
// connection to an ordinary net/rpc server, as websockify does.
func ExampleNetConn() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	srv := rpc.NewServer()
	if err := srv.Register(Arith{}); err != nil {
		fmt.Println(err)
		return
	}
	go srv.Accept(ln)
	url, stop := startBridge(ln.Addr().String())
	defer stop()

	eng, err := engine.New(engine.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	c, err := eng.Dial(context.Background(), url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	client := rpc.NewClient(engine.NetConn(c, engine.Binary))
	defer client.Close() // closes the WebSocket with 1000
	var product int
	if err := client.Call("Arith.Multiply", Factors{A: 6, B: 7}, &product); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("6 × 7 =", product)
	// Output: 6 × 7 = 42
}
