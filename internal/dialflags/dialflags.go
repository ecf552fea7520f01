// Package dialflags holds the dial flags that wscat and wsbench share: the proxy (-proxy) and
// the TLS settings for wss:// (-cacert, -cert, -key, -insecure).
package dialflags

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/wsfleet/wsfleet/engine"
)

// Flags are the values of the shared flags.
type Flags struct {
	Proxy    string // "" (the environment's), "none", or a proxy URL
	CACert   string
	Cert     string
	Key      string
	Insecure bool
}

// Register defines -proxy, -cacert, -cert, -key and -insecure on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Proxy, "proxy", "", "proxy `URL`: http://[user:pass@]host:port (CONNECT), https://…, socks5://…, socks5h://… (the proxy resolves names); \"none\" dials directly. Default: the environment's HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY")
	fs.StringVar(&f.CACert, "cacert", "", "PEM `file` of CA certificates to trust for wss:// and https:// proxies (instead of the system roots)")
	fs.StringVar(&f.Cert, "cert", "", "PEM client certificate `file` for mutual TLS (with -key)")
	fs.StringVar(&f.Key, "key", "", "PEM private key `file` of -cert")
	fs.BoolVar(&f.Insecure, "insecure", false, "INSECURE: do not verify the server's TLS certificate (anyone in the path can read and change the traffic)")
}

// TLSConfig builds the wss:// settings (nil: the system roots, full verification).
func (f *Flags) TLSConfig() (*tls.Config, error) {
	if f.CACert == "" && f.Cert == "" && f.Key == "" && !f.Insecure {
		return nil, nil
	}
	conf := &tls.Config{InsecureSkipVerify: f.Insecure}
	if f.CACert != "" {
		pem, err := os.ReadFile(f.CACert)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no PEM certificate in it", f.CACert)
		}
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("-cert/-key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// ProxyFunc turns -proxy into engine.DialOptions.Proxy: nil (the environment's) when unset,
// engine.NoProxy for "none"; a URL without a scheme is an http:// proxy, as in HTTP_PROXY.
func (f *Flags) ProxyFunc() (func(*url.URL) (*url.URL, error), error) {
	switch f.Proxy {
	case "":
		return nil, nil
	case "none":
		return engine.NoProxy, nil
	}
	raw := f.Proxy
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err == nil && u.Host == "" {
		err = errors.New("no host")
	}
	if err == nil {
		switch u.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			err = fmt.Errorf("scheme %q is not http, https, socks5 or socks5h", u.Scheme)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("-proxy %q: %v (want scheme://[user:password@]host:port, or none)", f.Proxy, err)
	}
	return engine.ProxyURL(u), nil
}
