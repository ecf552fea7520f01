package faulttest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Fleet is a group of connections driven by a round: in this process (*Group, through
// LocalFleet) or in a worker process (*WorkerFleet), so that 10,000 connections can be split
// over processes under the 20,000-descriptor limit.
type Fleet interface {
	Open() error
	StartTraffic()
	StopTraffic()
	Wait(w WaitFor, timeout time.Duration) int
	// Finish closes the connections and returns the ledger.
	Finish() (*GroupReport, error)
}

// LocalFleet runs a Group in this process.
type LocalFleet struct{ *Group }

func (f LocalFleet) Open() error { return f.Group.Open(context.Background()) }

func (f LocalFleet) Finish() (*GroupReport, error) {
	f.Group.Close()
	return f.Group.Report(), nil
}

// request and response are the worker protocol: one JSON object per line each way.
type request struct {
	Op      string     // "new", "open", "traffic", "stop", "wait", "finish"
	Spec    *GroupSpec `json:",omitempty"`
	Wait    WaitFor
	Timeout time.Duration
}

type response struct {
	Err    string
	N      int
	Report *GroupReport `json:",omitempty"`
}

// workerChild serves requests for one Group until "finish", then checks its own leaks.
func workerChild(in io.Reader, out io.Writer) int {
	base := TakeSnapshot()
	dec, enc := json.NewDecoder(bufio.NewReader(in)), json.NewEncoder(out)
	var g *Group
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if err == io.EOF {
				return 0
			}
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		var resp response
		switch req.Op {
		case "new":
			var err error
			if g, err = NewGroup(*req.Spec); err != nil {
				resp.Err = err.Error()
			}
		case "open":
			if err := g.Open(context.Background()); err != nil {
				resp.Err = err.Error()
			}
		case "traffic":
			g.StartTraffic()
		case "stop":
			g.StopTraffic()
		case "wait":
			resp.N = g.Wait(req.Wait, req.Timeout)
		case "finish":
			g.Close()
			resp.Report = g.Report()
			g = nil
			lc := CheckBack(base, 20*time.Second)
			resp.Report.Leaks = &lc
		default:
			resp.Err = "unknown op " + req.Op
		}
		if err := enc.Encode(&resp); err != nil {
			return 1
		}
	}
}

// WorkerFleet is a Group in a child process (this test binary in the "clients" role).
type WorkerFleet struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	enc  *json.Encoder
	dec  *json.Decoder
	in   io.Closer
	log  *tailBuffer
	err  error
	done chan struct{}
}

// StartWorker starts a worker process and creates its group.
func StartWorker(spec GroupSpec) (*WorkerFleet, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	w := &WorkerFleet{cmd: exec.Command(exe, "-test.run=^$"), log: newTailBuffer(8 << 10), done: make(chan struct{})}
	w.cmd.Env = append(os.Environ(), RoleEnv+"=clients")
	w.cmd.Stderr = w.log
	stdin, err := w.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()
	w.in, w.enc, w.dec = stdin, json.NewEncoder(stdin), json.NewDecoder(bufio.NewReaderSize(stdout, 1<<20))
	if _, err := w.call(request{Op: "new", Spec: &spec}); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

func (w *WorkerFleet) call(req request) (*response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	var resp response
	if err := w.enc.Encode(&req); err != nil {
		w.err = fmt.Errorf("worker %s: %w (%s)", req.Op, err, w.log)
		return nil, w.err
	}
	if err := w.dec.Decode(&resp); err != nil {
		w.err = fmt.Errorf("worker %s: %w (%s)", req.Op, err, w.log)
		return nil, w.err
	}
	if resp.Err != "" {
		return &resp, fmt.Errorf("worker %s: %s", req.Op, resp.Err)
	}
	return &resp, nil
}

func (w *WorkerFleet) Open() error {
	_, err := w.call(request{Op: "open"})
	return err
}

func (w *WorkerFleet) StartTraffic() { _, _ = w.call(request{Op: "traffic"}) }
func (w *WorkerFleet) StopTraffic()  { _, _ = w.call(request{Op: "stop"}) }

func (w *WorkerFleet) Wait(wf WaitFor, timeout time.Duration) int {
	resp, err := w.call(request{Op: "wait", Wait: wf, Timeout: timeout})
	if err != nil {
		return 0
	}
	return resp.N
}

func (w *WorkerFleet) Finish() (*GroupReport, error) {
	resp, err := w.call(request{Op: "finish"})
	w.stop()
	if err != nil {
		return nil, err
	}
	return resp.Report, nil
}

// stop closes the worker's stdin (its cue to exit) and waits, killing it after 10 s.
func (w *WorkerFleet) stop() {
	_ = w.in.Close()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}
