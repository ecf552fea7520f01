// Package loadtest is wsfleet's load generator as a library, built around flows: a Flow is
// what every connection does — connect, send, expect (with captures and measures), think,
// loop, close, and background rules — written as a YAML file (ParseFlow, docs/flows.md) or
// built in Go, checked whole by Compile before anything is dialled, and run by Run on as
// many connections as the Config asks. The built-in scenarios echo, push and soak are flows
// too (the files in loadtest/flows, with their stamps as Go steps and matchers); connect
// measures the dial itself on a schedule of its own. Results (text, JSON, HTML) carry
// HdrHistograms, merged exactly across shards by MergeResults; SLOs are checked by CheckSLO.
//
// # Measuring honestly
//
// A loop with a rate or a period is an open schedule: every iteration has an intended time
// fixed by arithmetic before the run starts, and measures count from it, not from the moment
// the generator got round to sending — so a server that stalls (or a generator that falls
// behind) shows up in the percentiles instead of silently lowering the offered load: there is
// no coordinated omission. How late the generator itself was is reported as sender lag. A
// closed loop (the next iteration when the reply is back) is the classic benchmark loop; it
// is coordinated by nature and hides server stalls, which the tests demonstrate.
//
// Stamped messages carry their connection id, a sequence number and their intended send
// time, so loss, duplicates and reordering are counted per connection, not guessed from
// totals; a message that does not read as a stamp of this run is counted as foreign.
//
// # Where things run
//
// Connections use the engine's Handler path, and each walks its flow as a small state
// machine: its event loop drives it with messages (parsed in place, never copied), and a few
// timer goroutines (one per core, each with a min-heap of its connections' next wake-ups)
// with the times it waits for — a think's end, an expect's deadline, an open loop's next
// intended time. There is no goroutine per connection, and Send never blocks.
//
// Latencies go into HdrHistograms (microseconds, 3 significant digits), one per timer stripe,
// merged for the report; per-second interval histograms (2 digits) give the time series, and
// all of them are kept in the JSON result in HdrHistogram's compressed V2 encoding so that
// shards can be merged exactly.
package loadtest
