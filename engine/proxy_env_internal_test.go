package engine

import (
	"net/url"
	"testing"
)

// TestProxyFromEnv checks the environment's rules: HTTP_PROXY for ws://, HTTPS_PROXY for wss://,
// ALL_PROXY when the scheme's own variable is unset, NO_PROXY, lower-case names, loopback direct.
func TestProxyFromEnv(t *testing.T) {
	cases := []struct {
		env    map[string]string
		target string
		want   string // "" for a direct dial
	}{
		{nil, "ws://example.com/", ""},
		{map[string]string{"HTTP_PROXY": "http://p:3128"}, "ws://example.com/", "http://p:3128"},
		{map[string]string{"HTTP_PROXY": "http://p:3128"}, "wss://example.com/", ""},
		{map[string]string{"HTTPS_PROXY": "https://p:3129"}, "wss://example.com/", "https://p:3129"},
		{map[string]string{"https_proxy": "p:3129"}, "wss://example.com/", "http://p:3129"},
		{map[string]string{"ALL_PROXY": "socks5h://s:1080"}, "ws://example.com/", "socks5h://s:1080"},
		{map[string]string{"all_proxy": "socks5://s:1080"}, "wss://example.com/", "socks5://s:1080"},
		{map[string]string{"ALL_PROXY": "socks5://s:1080", "HTTPS_PROXY": "http://p:3128"}, "wss://example.com/", "http://p:3128"},
		{map[string]string{"ALL_PROXY": "socks5://s:1080", "NO_PROXY": ".internal"}, "wss://db.internal/", ""},
		{map[string]string{"ALL_PROXY": "socks5://s:1080", "no_proxy": "example.com"}, "ws://example.com:8080/", ""},
		{map[string]string{"ALL_PROXY": "socks5://s:1080"}, "ws://127.0.0.1:8080/", ""},
		{map[string]string{"ALL_PROXY": "socks5://s:1080"}, "ws://localhost/", ""},
	}
	for _, c := range cases {
		f := proxyFromEnv(func(k string) string { return c.env[k] })
		var got *url.URL
		if f != nil {
			var err error
			if got, err = f(mustParse(t, c.target)); err != nil {
				t.Fatalf("%v %s: %v", c.env, c.target, err)
			}
		}
		if (got == nil && c.want != "") || (got != nil && got.String() != c.want) {
			t.Errorf("%v %s: proxy %v, want %q", c.env, c.target, got, c.want)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := parseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
