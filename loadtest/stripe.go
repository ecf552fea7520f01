package loadtest

import (
	"sync"
	"sync/atomic"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// stripe gathers the measurements of one share of the connections (those of one sender):
// loops record reply latencies under mu, the sender records its lag under lagMu, and the
// collector swaps the per-second histograms out under the same locks.
type stripe struct {
	mu    sync.Mutex
	lat   *hdr.Histogram // measured window
	latIv *hdr.Histogram // current second
	spare *hdr.Histogram

	lagMu    sync.Mutex
	lag      *hdr.Histogram
	lagIvMax int64

	sent, sentM, recv, recvM, unsent, pongs atomic.Int64

	// a flow's named metrics (under mu) and counts by label (total, measured) — see Program
	mh  []*hdr.Histogram
	mIv []*hdr.Histogram // current second, by metric
	ctr []atomic.Int64
	_   [64]byte
}

func newStripe(p *Program) *stripe {
	s := &stripe{lat: newHist(), latIv: newIvHist(), spare: newIvHist(), lag: newHist()}
	if p != nil {
		for range p.metrics {
			s.mh = append(s.mh, newHist())
			s.mIv = append(s.mIv, newIvHist())
		}
		s.ctr = make([]atomic.Int64, 2*len(p.labels))
	}
	return s
}

// recordMetric records a flow metric; the first metric also feeds the per-second series.
func (s *stripe) recordMetric(i int, ns int64, measured bool) {
	s.mu.Lock()
	if i == 0 {
		recordNs(s.latIv, ns)
	}
	recordNs(s.mIv[i], ns)
	if measured {
		recordNs(s.mh[i], ns)
	}
	s.mu.Unlock()
}

func (s *stripe) recordLat(ns int64, measured bool) {
	s.mu.Lock()
	recordNs(s.latIv, ns)
	if measured {
		recordNs(s.lat, ns)
	}
	s.mu.Unlock()
}

func (s *stripe) recordLag(ns int64, measured bool) {
	s.lagMu.Lock()
	if ns > s.lagIvMax {
		s.lagIvMax = ns
	}
	if measured {
		recordNs(s.lag, ns)
	}
	s.lagMu.Unlock()
}

// seqTrack counts one connection's replies by sequence number: fresh, duplicate, or out of
// order, remembering the last 1024 numbers below the highest seen. Older ones cannot be told
// apart and count as reordered (and fresh).
type seqTrack struct {
	next                uint64 // highest seen + 1
	recv                uint64 // distinct sequence numbers received
	dup, reord, corrupt uint64
	win                 [seqWindow / 64]uint64
}

const seqWindow = 1024

func (t *seqTrack) bit(s uint64) (*uint64, uint64) {
	i := s % seqWindow
	return &t.win[i/64], 1 << (i % 64)
}

// see records sequence number s and reports whether it is new.
func (t *seqTrack) see(s uint64) bool {
	switch {
	case s >= t.next:
		if s-t.next >= seqWindow {
			t.win = [seqWindow / 64]uint64{}
		} else {
			for x := t.next; x < s; x++ {
				w, b := t.bit(x)
				*w &^= b
			}
		}
		w, b := t.bit(s)
		*w |= b
		t.next = s + 1
		t.recv++
		return true
	case t.next-s > seqWindow:
		t.reord++
		t.recv++
		return true
	}
	w, b := t.bit(s)
	if *w&b != 0 {
		t.dup++
		return false
	}
	*w |= b
	t.reord++
	t.recv++
	return true
}
