package faulttest

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"
)

// Stall diagnosis: when connections have not drained by the end of a round, where are their
// bytes? The ledger says how many accepted messages the server has not echoed, and the
// kernel's socket queues (ss) say whether they sit in the client's send queue, unread by the
// proxy (Send-Q), or have left it (then they are in the proxy or the server, not the client).

// maxStallReports bounds what one group writes about stalled connections.
const maxStallReports = 5

// describeStalls describes up to maxStallReports connections that do not meet "drained".
func (g *Group) describeStalls() []string {
	var out []string
	stalled := 0
	for _, st := range g.states {
		if st.meets(WaitFor{Kind: "drained"}) {
			continue
		}
		stalled++
		if len(out) >= maxStallReports {
			continue
		}
		st.mu.Lock()
		pending := 0
		for seq := len(st.sentEpoch) - 1; seq >= 0 && int(st.sentEpoch[seq]) == st.epoch; seq-- {
			if w := seq / 64; w >= len(st.got) || st.got[w]&(1<<(seq%64)) == 0 {
				pending++
			}
		}
		quiet := time.Since(time.Unix(0, st.heard)).Round(time.Millisecond)
		c := st.conn
		st.mu.Unlock()
		local := "?"
		if c != nil {
			if a, ok := c.LocalAddr().(*net.TCPAddr); ok && a != nil {
				local = a.String()
			}
		}
		out = append(out, fmt.Sprintf("conn %d (%s): %d accepted messages not echoed, last traffic %v ago; sockets: %s",
			st.id, local, pending, quiet, socketQueues(local)))
	}
	if stalled > len(out) {
		out = append(out, fmt.Sprintf("... %d stalled connections in all", stalled))
	}
	return out
}

// socketQueues is ss's view of both ends of the loopback link at local (the client's socket
// and the proxy's or server's), queues and TCP state, on one line.
func socketQueues(local string) string {
	_, port, err := net.SplitHostPort(local)
	if err != nil {
		return "unknown address"
	}
	b, err := exec.Command("ss", "-tniH", fmt.Sprintf("( sport = :%s or dport = :%s )", port, port)).CombinedOutput()
	if err != nil {
		return "ss: " + err.Error()
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
