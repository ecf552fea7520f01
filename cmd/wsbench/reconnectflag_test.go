package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseReconnect(t *testing.T) {
	p, err := parseReconnect("on")
	if err != nil || p == nil || p.MinDelay != 0 || p.MaxAttempts != 0 {
		t.Fatalf("on: %+v, %v", p, err)
	}
	p, err = parseReconnect("min=250ms, max=5s,x=1.5,jitter=0.5,attempts=10")
	if err != nil || p.MinDelay != 250*time.Millisecond || p.MaxDelay != 5*time.Second || p.Multiplier != 1.5 || p.Jitter != 0.5 || p.MaxAttempts != 10 {
		t.Fatalf("settings: %+v, %v", p, err)
	}
	for in, want := range map[string]string{
		"fast":         "want on, or",
		"min=soon":     "min=soon",
		"jitter=2":     "outside 0..1",
		"x=0.5":        "below 1",
		"attempts=-1":  "negative",
		"backoff=1s":   `unknown setting "backoff"`,
		"min=1s,max=x": "max=x",
	} {
		if _, err := parseReconnect(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", in, err, want)
		}
	}
}
