// Package loadtest is wsfleet's load generator as a library: scenarios (echo, push, connect,
// soak), open and closed load models, latency histograms, reports (text, JSON, HTML) and
// shards. cmd/wsbench is a thin command over it.
//
// # Measuring honestly
//
// In the open model every message has an intended send time fixed by the schedule before the
// run starts (a rate, total or per connection). Latency is measured from that intended time,
// not from the moment the generator got round to sending, so a server that stalls (or a
// generator that falls behind) shows up in the percentiles instead of silently lowering the
// offered load: there is no coordinated omission. How late the generator itself was is
// reported separately as sender lag. The closed model (each connection sends its next message
// when the previous echo arrives) is the classic benchmark loop; it is coordinated by nature
// and hides server stalls, which the tests demonstrate.
//
// Every message carries its connection id, a sequence number and its intended send time, so
// loss, duplicates and reordering are counted per connection, not guessed from totals.
//
// # Where things run
//
// Connections use the engine's Handler path: replies are parsed and recorded on the engine's
// event loops without copying, and the closed model sends the next message from the callback.
// The open model's schedule runs on a few sender goroutines (one per core), each owning a
// share of the connections and a min-heap of their next intended send times; the clock is
// injectable (SimClock) so the rate control can be tested exactly.
//
// Latencies go into HdrHistograms (microseconds, 3 significant digits), one per sender stripe,
// merged for the report; per-second interval histograms (2 digits) give the time series, and
// all of them are kept in the JSON result in HdrHistogram's compressed V2 encoding so that
// shards can be merged exactly (MergeResults).
package loadtest
