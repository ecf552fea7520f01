package dialflags

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProxyFunc(t *testing.T) {
	target, _ := url.Parse("wss://example.com/feed")
	for _, c := range []struct {
		flag, want, err string
	}{
		{"", "<env>", ""},
		{"none", "<direct>", ""},
		{"proxy.corp:3128", "http://proxy.corp:3128", ""},
		{"https://u:p@proxy.corp", "https://u:p@proxy.corp", ""},
		{"socks5h://exit:1080", "socks5h://exit:1080", ""},
		{"ftp://x:21", "", "not http, https, socks5 or socks5h"},
		{"http://", "", "no host"},
	} {
		f := Flags{Proxy: c.flag}
		fn, err := f.ProxyFunc()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("-proxy %q: error %v, want %q", c.flag, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("-proxy %q: %v", c.flag, err)
		}
		got := "<env>"
		if fn != nil {
			u, _ := fn(target)
			got = "<direct>"
			if u != nil {
				got = u.String()
			}
		}
		if got != c.want {
			t.Errorf("-proxy %q: %s, want %s", c.flag, got, c.want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	if conf, err := (&Flags{}).TLSConfig(); conf != nil || err != nil {
		t.Errorf("no flags: %v, %v; want nil (system roots)", conf, err)
	}
	if conf, err := (&Flags{Insecure: true}).TLSConfig(); err != nil || !conf.InsecureSkipVerify {
		t.Errorf("-insecure: %+v, %v", conf, err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f   Flags
		err string
	}{
		{Flags{CACert: empty}, "no PEM certificate"},
		{Flags{CACert: filepath.Join(t.TempDir(), "missing.pem")}, "-cacert"},
		{Flags{Cert: empty}, "-cert and -key go together"},
		{Flags{Cert: empty, Key: empty}, "-cert/-key"},
	} {
		if _, err := c.f.TLSConfig(); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.err)
		}
	}
}
