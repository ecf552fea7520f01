package loadtest

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// Scenario is what the connections do.
type Scenario string

const (
	// Echo sends stamped messages and times their echoes (request/response).
	Echo Scenario = "echo"
	// Push listens to messages the server pushes (fan-out latency from their send stamps).
	Push Scenario = "push"
	// Connect opens and closes connections: handshake rate and connect latency.
	Connect Scenario = "connect"
	// Soak holds connections for the duration with keepalive pings and reports drops;
	// with a rate it also exchanges echo messages.
	Soak Scenario = "soak"
	// FlowRun runs Config.Flow: every connection walks the flow's steps.
	FlowRun Scenario = "flow"
)

// Model is how load is offered.
type Model string

const (
	// Closed: each connection sends its next message when the previous reply arrives (or, for
	// connect, each worker dials again when its last dial ended).
	Closed Model = "closed"
	// Open: sends (or dials) follow a fixed schedule at a target rate, whatever the replies do;
	// latency is measured from the intended time.
	Open Model = "open"
)

// Shard is the i-th of n equal parts of a distributed run (Index 0-based).
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/n" (0 <= i < n).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) norm() Shard {
	if s.Count < 1 {
		return Shard{0, 1}
	}
	return s
}

// IDs returns the global connection ids of this shard out of total: every Count-th id from
// Index on. Striding (rather than contiguous blocks) keeps every shard's share of the
// schedule evenly spread: shards ramp up together and their sends interleave.
func (s Shard) IDs(total int) []int {
	s = s.norm()
	var ids []int
	for id := s.Index; id < total; id += s.Count {
		ids = append(ids, id)
	}
	return ids
}

// share is the fraction of a fleet-wide quantity (rate, ramp) that this shard carries when
// it holds n of total connections.
func share(n, total int) float64 {
	if total <= 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// quota is connection id's share of a fleet-wide message count.
func quota(messages int64, id, total int) int64 {
	if messages <= 0 || total <= 0 {
		return -1 // unlimited
	}
	q := messages / int64(total)
	if int64(id) < messages%int64(total) {
		q++
	}
	return q
}

// Config describes a run. Counts and rates are for the whole fleet; a Shard carries its part.
type Config struct {
	Scenario Scenario
	// Flow, when set, is what every connection does (Scenario becomes FlowRun); Conns,
	// Duration, Warmup, Ramp, Targets and Subprotocols default to the flow's own.
	Flow  *Program
	Model Model
	// Targets are the URLs; connection id goes to Targets[id % len(Targets)].
	Targets []string
	// Conns is the number of connections (connect: concurrent dialers in the closed model).
	Conns int
	// Duration of the measured window, after Warmup. With Messages set it is a cap (0: none).
	Duration time.Duration
	// Messages, when set, is the total number of messages to send (echo, soak), split evenly
	// over the connections; it includes those sent during the warm-up.
	Messages int64
	// Rate: open model messages/s (dials/s for connect); for push, messages/s per connection
	// asked of the server (used only when building the in-process URL). PerConnRate makes Rate
	// per connection instead of for the whole fleet.
	Rate        float64
	PerConnRate bool
	// Size of each message in bytes (echo, soak); Payload overrides it.
	Size   int
	Binary bool
	// Payload is a template with {{seq}}, {{ts}} and optionally {{id}} (see newPayload).
	Payload []byte
	// Headers are "Name: value" lines; {{id}} becomes the connection id and {{token}} the
	// connection's token (Tokens[id % len(Tokens)]).
	Headers      []string
	Tokens       []string
	Subprotocols []string
	// Ping is the keepalive ping interval (engine.DialOptions.PingInterval); soak defaults to 5 s.
	Ping time.Duration
	// Reconnect, when set, redials dropped connections with the engine's policy (echo, soak
	// and flows; a returning connection starts its flow again from the first step, unless it
	// had finished), so that a long run rides through server restarts; the result then counts
	// the returns, the time each connection was disconnected and the stamped messages lost in
	// the gaps.
	Reconnect *engine.ReconnectPolicy
	// Warmup is excluded from the results: messages whose intended send time falls in it.
	Warmup time.Duration
	// Ramp is the connection opening rate (connections/s for the fleet; 0: as fast as dials go).
	Ramp float64
	// Drain is how long to wait for outstanding replies after the last send (default 2 s).
	Drain time.Duration
	// ConnectTimeout per dial (default 8 s).
	ConnectTimeout time.Duration
	// ConnectRetries dials a connection again, up to this many more times in the run, when
	// its dial fails (refused, timed out, upgrade rejected): after 100 ms, doubling up to 5 s,
	// with jitter, so that a server still busy with the connections it has gets its breath.
	// 0 (default): a failed dial is final. The connect time counts from the first attempt's
	// intended start; attempts that failed before one succeeded are counted as retries, not
	// errors.
	ConnectRetries int
	// TLSConfig for wss:// targets and https:// proxies (nil: verify against the system roots).
	TLSConfig *tls.Config
	// Proxy picks the proxy to dial through, as engine.DialOptions.Proxy: nil is the
	// environment's (engine.ProxyFromEnvironment), engine.NoProxy dials directly. The result's
	// Proxy histogram times the proxy leg.
	Proxy func(target *url.URL) (*url.URL, error)
	// Compression, when set, offers permessage-deflate; the result counts the connections
	// on which the server accepted it.
	Compression *engine.Compression
	// SourceIPs, when set, are bound as local addresses, round robin by connection id.
	SourceIPs []net.IP
	Shard     Shard
	// Loops is the engine's event-loop count (default GOMAXPROCS).
	Loops int
	// StartAt, when set, is the wall-clock time the run starts (every shard together).
	StartAt time.Time

	// Progress receives a live line per second (nil: none); ProgressTTY rewrites one line.
	Progress    io.Writer
	ProgressTTY bool
	// OnPoint is called with each per-second point as it completes (live metrics).
	OnPoint func(Point)
	// Notes are copied into the result (e.g. "target: in-process reference server").
	Notes []string
	// InProcessServer says the target runs in this process (its CPU is counted as ours).
	InProcessServer bool
}

// Defaults used by Validate.
const (
	DefaultConns    = 200
	DefaultDuration = 10 * time.Second
	DefaultSize     = 64
	DefaultDrain    = 2 * time.Second
	DefaultSoakPing = 5 * time.Second
)

// Validate applies defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.Flow != nil {
		return c.validateFlow()
	}
	switch c.Scenario {
	case "":
		c.Scenario = Echo
	case Echo, Push, Connect, Soak:
	default:
		return fmt.Errorf("unknown scenario %q: want echo, push, connect or soak", c.Scenario)
	}
	switch c.Model {
	case "":
		c.Model = Closed
		if c.Rate > 0 && c.Scenario != Push {
			c.Model = Open
		}
	case Closed, Open:
	default:
		return fmt.Errorf("unknown model %q: want closed or open", c.Model)
	}
	if len(c.Targets) == 0 {
		return errors.New("no target URL")
	}
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Ramp < 0 || c.Rate < 0 || c.Messages < 0 {
		return errors.New("durations, rates and counts must not be negative")
	}
	if c.Duration == 0 && c.Messages == 0 {
		c.Duration = DefaultDuration
	}
	if c.Size <= 0 {
		c.Size = DefaultSize
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	if c.Scenario == Soak && c.Ping == 0 {
		c.Ping = DefaultSoakPing
	}
	if c.Reconnect != nil && c.Scenario != Echo && c.Scenario != Soak {
		return fmt.Errorf("reconnecting applies to the echo and soak scenarios and to flows, not %s (a push's sequence numbers restart on a new connection)", c.Scenario)
	}
	if c.ConnectRetries < 0 {
		return fmt.Errorf("connect retries %d: want 0 or more", c.ConnectRetries)
	}
	if c.ConnectRetries > 0 && c.Scenario == Connect {
		return errors.New("connect retries do not apply to the connect scenario: its dials are what it measures")
	}
	if c.Reconnect != nil && c.Messages > 0 {
		return errors.New("reconnecting applies to runs with a duration, not a message count (a returning connection starts its flow again)")
	}
	if c.Model == Open && c.Rate == 0 && (c.Scenario == Echo || c.Scenario == Connect) {
		return fmt.Errorf("the open model needs a rate (-r): messages/s%s", map[bool]string{true: " (dials/s for connect)", false: ""}[c.Scenario == Connect])
	}
	if c.Model == Closed && c.Rate > 0 && c.Scenario == Echo {
		return errors.New("the closed model has no rate: each connection sends when its echo arrives; use -model open with -r")
	}
	if c.Scenario == Soak && c.Rate > 0 {
		c.Model = Open
	}
	if c.Scenario == Push || (c.Scenario == Soak && c.Rate == 0) {
		c.Model = "" // the server paces pushes; a soak without a rate sends nothing
	}
	if c.Shard.Count == 0 {
		c.Shard = Shard{0, 1}
	}
	if c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count {
		return fmt.Errorf("shard %d/%d out of range", c.Shard.Index, c.Shard.Count)
	}
	if len(c.Shard.IDs(c.Conns)) == 0 {
		return fmt.Errorf("shard %d/%d of %d connections holds none", c.Shard.Index, c.Shard.Count, c.Conns)
	}
	for _, h := range c.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("header %q: want \"Name: value\"", h)
		}
		if strings.Contains(h, "{{token}}") && len(c.Tokens) == 0 {
			return fmt.Errorf("header %q uses {{token}} but no tokens were given (-tokens FILE)", h)
		}
	}
	return nil
}

// header builds a connection's request headers from the templates.
func (c *Config) header(cs *connState) http.Header {
	id := cs.id
	if cs.fs != nil && len(cs.fs.p.headers) > 0 {
		h := http.Header{}
		for _, t := range cs.fs.p.headers {
			h.Add(t.name, string(t.v.render(nil, cs.fs, 0)))
		}
		return h
	}
	if len(c.Headers) == 0 {
		return nil
	}
	h := http.Header{}
	for _, line := range c.Headers {
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		value = strings.ReplaceAll(value, "{{id}}", strconv.Itoa(id))
		if len(c.Tokens) > 0 {
			value = strings.ReplaceAll(value, "{{token}}", c.Tokens[id%len(c.Tokens)])
		}
		h.Add(strings.TrimSpace(name), value)
	}
	return h
}

func (c *Config) target(id int) string { return c.Targets[id%len(c.Targets)] }

func (c *Config) localAddr(id int) net.Addr {
	if len(c.SourceIPs) == 0 {
		return nil
	}
	return &net.TCPAddr{IP: c.SourceIPs[id%len(c.SourceIPs)]}
}

// ParseSourceIPs reads "127.0.0.2-127.0.0.200", a CIDR such as "127.0.0.0/24" (network and
// broadcast addresses left out for prefixes shorter than /31), or a comma-separated list of
// those and single addresses.
func ParseSourceIPs(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch {
		case strings.Contains(part, "/"):
			ip, nw, err := net.ParseCIDR(part)
			if err != nil || ip.To4() == nil {
				return nil, fmt.Errorf("source IPs %q: want an IPv4 CIDR such as 127.0.0.0/24", part)
			}
			ones, bits := nw.Mask.Size()
			lo := binary.BigEndian.Uint32(nw.IP.To4())
			n := uint32(1) << (bits - ones)
			first, last := lo, lo+n-1
			if bits-ones >= 2 {
				first, last = lo+1, lo+n-2
			}
			if last-first > 1<<20 {
				return nil, fmt.Errorf("source IPs %q: more than a million addresses", part)
			}
			for v := first; v <= last; v++ {
				out = append(out, u32IP(v))
			}
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			ipa, ipb := net.ParseIP(strings.TrimSpace(a)).To4(), net.ParseIP(strings.TrimSpace(b)).To4()
			if ipa == nil || ipb == nil {
				return nil, fmt.Errorf("source IPs %q: want an IPv4 range such as 127.0.0.2-127.0.0.200", part)
			}
			va, vb := binary.BigEndian.Uint32(ipa), binary.BigEndian.Uint32(ipb)
			if vb < va || vb-va > 1<<20 {
				return nil, fmt.Errorf("source IPs %q: empty or too large range", part)
			}
			for v := va; v <= vb; v++ {
				out = append(out, u32IP(v))
			}
		default:
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, fmt.Errorf("source IPs %q: not an IP address", part)
			}
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("source IPs: none given")
	}
	return out, nil
}

func u32IP(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}

// validateFlow applies a flow's own shape where the Config leaves it open, and checks it.
func (c *Config) validateFlow() error {
	f := c.Flow.Flow
	c.Scenario, c.Model = FlowRun, ""
	if len(c.Targets) == 0 {
		c.Targets = f.URLs
	}
	if len(c.Targets) == 0 {
		return errors.New("no target URL: the flow has no url and none was given")
	}
	if c.Conns <= 0 {
		c.Conns = f.Connections
	}
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.Duration == 0 {
		c.Duration = f.Duration
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Warmup == 0 {
		c.Warmup = f.Warmup
	}
	if c.Ramp == 0 {
		c.Ramp = f.Ramp
	}
	if len(c.Subprotocols) == 0 {
		c.Subprotocols = f.Subprotocols
	}
	if c.Compression == nil && f.Compress {
		c.Compression = &engine.Compression{}
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Ramp < 0 {
		return errors.New("durations and rates must not be negative")
	}
	if c.Messages > 0 || c.Rate > 0 {
		return errors.New("a flow sets its own rates and counts (loop rate/every/count): -r and -n do not apply")
	}
	if c.Drain <= 0 {
		c.Drain = DefaultDrain
	}
	if c.Shard.Count == 0 {
		c.Shard = Shard{0, 1}
	}
	if c.Shard.Index < 0 || c.Shard.Index >= c.Shard.Count {
		return fmt.Errorf("shard %d/%d out of range", c.Shard.Index, c.Shard.Count)
	}
	if len(c.Shard.IDs(c.Conns)) == 0 {
		return fmt.Errorf("shard %d/%d of %d connections holds none", c.Shard.Index, c.Shard.Count, c.Conns)
	}
	if fd := c.Flow.feed; fd != nil {
		if err := fd.check(c.Conns); err != nil {
			return err
		}
	}
	return nil
}
