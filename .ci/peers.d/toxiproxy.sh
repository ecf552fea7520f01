# Shopify's toxiproxy server (the fault injector of internal/faulttest), built from source with the
# Go toolchain into the project-local bin/toxiproxy-$TOXIPROXY_VERSION/ (git-ignored), so it needs
# no root and leaves the main go.mod alone. Sourced by .ci/install-peers; a quick no-op when built.
TOXIPROXY_VERSION=v2.12.0
toxiproxy_dir="bin/toxiproxy-$TOXIPROXY_VERSION"
if [ ! -x "$toxiproxy_dir/server" ]; then
  command -v go >/dev/null 2>&1 || { say "toxiproxy: go is not on PATH"; exit 1; }
  say "go install github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION into $toxiproxy_dir"
  toxiproxy_install() {
    GOBIN="$PWD/$toxiproxy_dir" GOFLAGS=-mod=mod go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
  }
  toxiproxy_install || { sleep 5; toxiproxy_install; }
fi
"$toxiproxy_dir/server" -version >/dev/null 2>&1 || { say "toxiproxy: $toxiproxy_dir/server does not run"; exit 1; }
say "toxiproxy $TOXIPROXY_VERSION in $toxiproxy_dir"
