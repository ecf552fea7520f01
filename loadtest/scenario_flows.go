package loadtest

import (
	"embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// The built-in scenarios echo, push and soak are the flow files of the same names in
// loadtest/flows (embedded there for `wsbench run -flow NAME` and here for Run), with their
// parameters taken from the Config: one source for both. Their stamps are Go steps and
// matchers, registered like any other: stamp-send, stamp-echo and push-stamp. The connect
// scenario dials and closes on its own schedule (connect.go): what it measures is the dial,
// which no flow step can repeat.
//
//go:embed flows/echo.yaml flows/push.yaml flows/soak.yaml
var scenarioFiles embed.FS

// ForeignLabel counts messages that carry no valid stamp of this run, in the built-in
// scenarios: never parsed into sequence numbers or latencies.
const ForeignLabel = "foreign"

func scenarioFlow(cfg *Config) (*Program, error) {
	name, set := string(cfg.Scenario), map[string]string{}
	if cfg.Scenario == Echo || cfg.Scenario == Soak && cfg.Rate > 0 {
		name = "echo"
		rate, per := "0", "fleet"
		if cfg.Model == Open {
			rate = strconv.FormatFloat(cfg.Rate, 'g', -1, 64) + "/s"
		}
		if cfg.PerConnRate {
			per = "connection"
		}
		set = map[string]string{"rate": rate, "per": per, "messages": strconv.FormatInt(cfg.Messages, 10),
			"size": strconv.Itoa(cfg.Size), "binary": strconv.FormatBool(cfg.Binary), "template": string(cfg.Payload)}
	}
	src, err := scenarioFiles.ReadFile("flows/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in flow for scenario %q", cfg.Scenario)
	}
	f, err := ParseFlow(name+".yaml", src, set)
	if err != nil {
		return nil, err
	}
	f.Name = name
	return Compile(f, "")
}

func init() {
	RegisterStep("stamp-send", newStampSend)
	RegisterMatcher("stamp-echo", matchStampEcho)
	RegisterMatcher("push-stamp", matchPushStamp)
}

// newStampSend builds the step that sends one stamped message (connection id, sequence
// number, intended send time; see payload) from with: size, binary, template.
func newStampSend(args map[string]string) (func(*Session) error, error) {
	size, err := strconv.Atoi(orDefault(args["size"], strconv.Itoa(DefaultSize)))
	if err != nil {
		return nil, fmt.Errorf("stamp-send: size %q: want a number of bytes", args["size"])
	}
	bin, err := strconv.ParseBool(orDefault(args["binary"], "false"))
	if err != nil {
		return nil, fmt.Errorf("stamp-send: binary %q: want true or false", args["binary"])
	}
	var tmplText []byte
	if t := args["template"]; t != "" {
		tmplText = []byte(t)
	}
	pl, err := newPayload(tmplText, size, bin)
	if err != nil {
		return nil, fmt.Errorf("stamp-send: %w", err)
	}
	typ := engine.Text
	if bin {
		typ = engine.Binary
	}
	return func(s *Session) error {
		cs, r := s.cs, s.r
		if cs.pl == nil {
			cs.pl, cs.buf = pl, pl.NewBuffer()
		}
		intended := s.Intended()
		pl.Fill(cs.buf, uint64(cs.id), cs.seq, intended)
		if err := s.conn.Send(typ, cs.buf); err != nil {
			if errors.Is(err, engine.ErrBackedUp) {
				cs.st.unsent.Add(1) // the schedule goes on: a refused send is counted, not retried
				r.errs.add(KindBackedUp, err)
				return nil
			}
			return err
		}
		cs.seq++
		cs.sentEp++
		cs.st.sent.Add(1)
		if intended >= r.warmEnd {
			cs.st.sentM.Add(1)
		}
		return nil
	}, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

var errForeignReply = errors.New("a reply carries another connection's id")

// matchStampEcho takes an echoed stamp: a message of the stamp's exact layout whose
// sequence number was sent on this connection and whose time lies between the run's start
// and now. Anything else is not a stamp of ours (it is counted as foreign, never parsed into
// numbers). A stamp with another connection's id is a corrupt reply.
func matchStampEcho(s *Session, _ engine.MessageType, data []byte) bool {
	cs, r := s.cs, s.r
	if cs.pl == nil {
		return false
	}
	id, seq, ts, hasID, ok := cs.pl.Parse(data)
	now := r.clk.Now()
	if !ok || ts < r.t0 || ts > now {
		return false
	}
	if hasID && id != uint64(cs.id) {
		cs.track.corrupt++
		r.errs.add(KindForeignReply, errForeignReply)
		return true
	}
	if seq >= cs.seq {
		return false // never sent on this connection
	}
	cs.tookStamp(seq, now-ts, ts >= r.warmEnd)
	return true
}

// tookStamp counts a stamp by its sequence number and, when it is fresh, its latency.
func (cs *connState) tookStamp(seq uint64, lat int64, measured bool) {
	if cs.track.see(seq) {
		cs.recvEp++
		if !cs.r.user { // a user's flow counts every message it receives already
			cs.st.recv.Add(1)
			if measured {
				cs.st.recvM.Add(1)
			}
		}
		cs.st.recordLat(lat, measured)
	}
}

// pushSkew bounds how far a push stamp's time may lie from this host's clock (hosts' clocks
// differ a little; a number that is not a time at all differs by years).
const pushSkew = int64(time.Hour)

// pushGap bounds a sequence number's jump ahead of the highest seen: a server's counter
// advances by one per push, and a field that is not a sequence number jumps by billions.
const pushGap = 1 << 24

// matchPushStamp takes a pushed stamp (the reference server's: a binary message of at least
// 16 bytes, send time in Unix ns then sequence number, little endian) when both read as
// what they are: a time within an hour of ours and a sequence number that does not leap.
func matchPushStamp(s *Session, typ engine.MessageType, data []byte) bool {
	cs, r := s.cs, s.r
	if typ != engine.Binary {
		return false
	}
	seq, wall, ok := parsePush(data)
	now := time.Now().UnixNano()
	if !ok || wall < r.t0Wall-pushSkew || wall > now+pushSkew || seq > cs.track.next+pushGap {
		return false
	}
	cs.tookStamp(seq, now-wall, wall >= r.warmEndWall)
	return true
}
