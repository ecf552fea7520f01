# Proxies for engine/proxy_test.go: tinyproxy (HTTP CONNECT, with and without Basic auth) and
# microsocks (SOCKS5, with and without username/password). The tests start their own instances
# on free loopback ports with their own config; the Debian packages' services are not used.
if ! command -v tinyproxy >/dev/null 2>&1 || ! command -v microsocks >/dev/null 2>&1; then
  apt_install tinyproxy microsocks
fi
command -v tinyproxy >/dev/null 2>&1 && command -v microsocks >/dev/null 2>&1 || {
  say "tinyproxy or microsocks still missing"
  exit 1
}
say "proxies: $(tinyproxy -v 2>&1 | head -1), microsocks"
