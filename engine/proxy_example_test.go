package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// ExampleProxyURL dials through a SOCKS5 proxy with a username and password, and tells the
// ways a proxy can refuse apart. (Not run: it needs a proxy; engine/proxy_test.go runs the
// same against tinyproxy and microsocks.)
func ExampleProxyURL() {
	proxy, err := url.Parse("socks5h://fleet:s3cret@egress.example:1080")
	if err != nil {
		panic(err)
	}
	opts := &engine.DialOptions{
		Proxy:          engine.ProxyURL(proxy), // nil: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY
		ConnectTimeout: 10 * time.Second,       // covers the proxy leg too
	}
	c, err := engine.Dial(context.Background(), "wss://md.example/feed", opts)
	var pe *engine.ProxyError
	switch {
	case errors.As(err, &pe) && pe.StatusCode == 407:
		fmt.Println("the HTTP proxy wants credentials:", pe.Status)
	case errors.As(err, &pe) && pe.SOCKSAuth > 0:
		fmt.Println("the SOCKS5 proxy refused the username/password")
	case errors.As(err, &pe) && pe.SOCKSReply > 0:
		fmt.Println("the SOCKS5 proxy could not reach the target, reply", pe.SOCKSReply)
	case errors.Is(err, engine.ErrTimeout):
		fmt.Println("no answer in time:", err)
	case err != nil:
		fmt.Println(err)
	default:
		defer c.Close()
		fmt.Println("through", c.RemoteAddr())
	}
}
