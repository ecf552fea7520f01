package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ToxiproxyVersion is the toxiproxy release .ci/peers.d/toxiproxy.sh builds.
const ToxiproxyVersion = "v2.12.0"

// Toxiproxy is a running toxiproxy server process, driven over its HTTP API. The server is
// a separate process (built by .ci/peers.d/toxiproxy.sh) rather than embedded so that the
// module's go.mod does not take in toxiproxy's dependencies, and so that its CPU and file
// descriptors are not counted against the clients under test.
type Toxiproxy struct {
	api  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	done chan error
	log  *tailBuffer
	http *http.Client
}

// Toxic is one toxic as toxiproxy's API takes it. Attributes depend on Type: timeout
// {"timeout": ms}, latency {"latency": ms, "jitter": ms}, bandwidth {"rate": KB/s}, slicer
// {"average_size", "size_variation", "delay": µs}, limit_data {"bytes"}, reset_peer {"timeout": ms}.
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"` // "upstream" (client to server) or "downstream"
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
	// Dormant adds the toxic with toxicity 0 (AddToxic otherwise sends 1); Arm wakes it.
	// reset_peer needs this: toxiproxy sets SO_LINGER 0 (the RST) only on links opened while
	// a reset_peer toxic is in place, so it must be there, dormant, before the clients connect.
	Dormant bool `json:"-"`
}

// ToxiproxyBinary finds the server: $TOXIPROXY_SERVER, else bin/toxiproxy-<version>/server
// under the module root (where .ci/peers.d/toxiproxy.sh puts it).
func ToxiproxyBinary() (string, error) {
	if p := os.Getenv("TOXIPROXY_SERVER"); p != "" {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", "toxiproxy-"+ToxiproxyVersion, "server")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("toxiproxy server not built (run bash .ci/install-peers, or set TOXIPROXY_SERVER): %w", err)
	}
	return p, nil
}

// moduleRoot is the nearest directory above the working directory that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("faulttest: no go.mod above the working directory")
		}
		dir = up
	}
}

// StartToxiproxy runs the server on a free loopback port and waits until its API answers.
func StartToxiproxy(bin string) (*Toxiproxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t := &Toxiproxy{
		api:  "http://127.0.0.1:" + strconv.Itoa(port),
		done: make(chan error, 1),
		log:  newTailBuffer(8 << 10),
		// No idle connections kept: a round's descriptor and goroutine counts must come back.
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.cmd = exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	t.cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
	t.cmd.Stdout, t.cmd.Stderr = t.log, t.log
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("toxiproxy: start %s: %w", bin, err)
	}
	go func() { t.done <- t.cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := t.http.Get(t.api + "/version")
		if err == nil {
			_ = resp.Body.Close()
			return t, nil
		}
		select {
		case werr := <-t.done:
			return nil, fmt.Errorf("toxiproxy: exited before answering (%v): %s", werr, t.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = t.Close()
			return nil, fmt.Errorf("toxiproxy: API at %s did not answer within 20 s: %w", t.api, err)
		}
	}
}

// Proxy creates a proxy from a free loopback port to upstream and returns its listen address.
func (t *Toxiproxy) Proxy(name, upstream string) (string, error) {
	var out struct {
		Listen string `json:"listen"`
	}
	err := t.call(http.MethodPost, "/proxies", map[string]any{
		"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": true,
	}, &out)
	if err != nil {
		return "", err
	}
	return out.Listen, nil
}

// AddToxic adds a toxic to a proxy; it applies to the proxy's open links at once and to new ones.
func (t *Toxiproxy) AddToxic(proxy string, x Toxic) error {
	if x.Toxicity == 0 && !x.Dormant {
		x.Toxicity = 1
	}
	return t.call(http.MethodPost, "/proxies/"+proxy+"/toxics", x, nil)
}

// Arm sets a toxic's toxicity to 1 on every link of the proxy.
func (t *Toxiproxy) Arm(proxy, name string) error {
	return t.call(http.MethodPost, "/proxies/"+proxy+"/toxics/"+name, map[string]any{"toxicity": 1}, nil)
}

// RemoveToxic removes a toxic by name.
func (t *Toxiproxy) RemoveToxic(proxy, name string) error {
	return t.call(http.MethodDelete, "/proxies/"+proxy+"/toxics/"+name, nil, nil)
}

// DeleteProxy removes a proxy, closing its links.
func (t *Toxiproxy) DeleteProxy(name string) error {
	return t.call(http.MethodDelete, "/proxies/"+name, nil, nil)
}

func (t *Toxiproxy) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, t.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("toxiproxy: %s %s: reading the answer: %w", method, path, err)
		}
	}
	return nil
}

// Close stops the server and waits for it to exit.
func (t *Toxiproxy) Close() error {
	t.http.CloseIdleConnections()
	_ = t.cmd.Process.Kill()
	<-t.done
	return nil
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
