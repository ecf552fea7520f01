// Package faulttest puts fleets of engine connections through network faults and server
// restarts, using only the engine's public API, and measures what the application sees.
//
// Faults come from Shopify's toxiproxy (a separate process, built by
// .ci/peers.d/toxiproxy.sh, driven over its HTTP API) between the clients and a server in
// its own process: the reference server (this test binary re-executed, see ChildMain) or
// Python's websockets (testdata/echo_server.py), both echo servers. A round (Plan, Run)
// opens a fleet, runs stamped traffic, injects the fault, waits for what the fault must
// cause (every connection's loss, its return, or its giving up), drains, closes, and checks
// that the process got back its goroutines, descriptors and heap.
//
// Every message carries a stamp (connection id, sequence number, send time); each
// connection keeps a ledger (ledger.go) that reconciles what Send accepted with what came
// back, so that a message lost without an error reaching the application is counted.
//
// In make test the rounds run at a few hundred connections in one process; with -fleet N
// (by hand) they run at N connections split over worker processes of at most 2,500
// connections each, each with its own toxiproxy, to stay under 20,000 open files a process.
package faulttest
