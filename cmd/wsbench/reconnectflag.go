package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/engine"
)

// parseReconnect reads -reconnect: "on" for the engine's default ReconnectPolicy, or
// comma-separated settings: min=100ms, max=30s, x=2 (multiplier), jitter=0.2, attempts=0.
func parseReconnect(v string) (*engine.ReconnectPolicy, error) {
	p := &engine.ReconnectPolicy{}
	if v == "on" || v == "true" {
		return p, nil
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("-reconnect %q: want on, or min=DUR,max=DUR,x=N,jitter=F,attempts=N", v)
		}
		var err error
		switch k {
		case "min":
			p.MinDelay, err = time.ParseDuration(val)
		case "max":
			p.MaxDelay, err = time.ParseDuration(val)
		case "x":
			p.Multiplier, err = strconv.ParseFloat(val, 64)
			if err == nil && p.Multiplier < 1 {
				err = fmt.Errorf("below 1")
			}
		case "jitter":
			p.Jitter, err = strconv.ParseFloat(val, 64)
			if err == nil && (p.Jitter < 0 || p.Jitter > 1) {
				err = fmt.Errorf("outside 0..1")
			}
		case "attempts":
			p.MaxAttempts, err = strconv.Atoi(val)
			if err == nil && p.MaxAttempts < 0 {
				err = fmt.Errorf("negative")
			}
		default:
			return nil, fmt.Errorf("-reconnect: unknown setting %q (want min, max, x, jitter or attempts)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("-reconnect %s=%s: %v", k, val, err)
		}
	}
	return p, nil
}
