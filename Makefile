# wsfleet — the commands the README promises.
GO      ?= go
PKGS    := ./...
FUZZTIME ?= 5m

.PHONY: test test-short peers bench fuzz lint autobahn

## test: every test under the race detector, plus the committed fuzz seed corpora (go test replays them).
test: peers
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-short: the quick subset (skips the 10k-connection and interop-heavy tests).
test-short:
	$(GO) test -short -count=1 $(PKGS)

## peers: installs the real interop peers (Python websockets, Node ws) when they are missing.
peers:
	bash .ci/install-peers

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./codec/... ./pool/... ./engine/... | tee bench.txt

## bench-peers: wsfleet against gorilla, gws, gobwas, coder and nbio (COUNT=3; see bench/run-peers.sh).
.PHONY: bench-peers
bench-peers:
	bash bench/run-peers.sh

## fuzz: runs every fuzz target for FUZZTIME each (default 5m).
fuzz:
	bash .ci/fuzz $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

## autobahn: SUITE=<checkout of the Python 3 autobahn-testsuite port>
autobahn:
	@test -n "$(SUITE)" || { echo "usage: make autobahn SUITE=/path/to/autobahn-testsuite"; exit 2; }
	bash .ci/autobahn "$(SUITE)"
