package loadtest

import (
	"fmt"
	"sort"
	"sync"

	"github.com/wsfleet/wsfleet/engine"
)

// GoStep is a step written in Go, for what a flow file cannot express. A flow file names a
// registered one (`- go: name` with optional `with:` arguments); a Go program may set Func
// directly. The function runs on the connection's event loop or a timer goroutine, with the
// session locked: it must not block (Session.Send never does).
type GoStep struct {
	Name string
	Args map[string]string
	Func func(s *Session) error
}

// GoMatcher tests a message for an expect, a rule or a Match set in Go. data is borrowed
// and valid only during the call.
type GoMatcher func(s *Session, typ engine.MessageType, data []byte) bool

// StepFactory builds a registered step from a flow file's `with:` arguments; it is called
// once per run at compile time, so bad arguments fail before any dial.
type StepFactory func(args map[string]string) (func(s *Session) error, error)

var registry struct {
	sync.RWMutex
	steps    map[string]StepFactory
	matchers map[string]GoMatcher
}

// RegisterStep makes a Go step available to flow files as `- go: name`. Registering a name
// twice panics (two packages claiming one name is a programming error).
func RegisterStep(name string, f StepFactory) {
	registry.Lock()
	defer registry.Unlock()
	if registry.steps == nil {
		registry.steps = map[string]StepFactory{}
	}
	if _, dup := registry.steps[name]; dup {
		panic(fmt.Sprintf("loadtest: step %q registered twice", name))
	}
	registry.steps[name] = f
}

// RegisterMatcher makes a Go matcher available to flow files as `match: {go: name}`.
func RegisterMatcher(name string, m GoMatcher) {
	registry.Lock()
	defer registry.Unlock()
	if registry.matchers == nil {
		registry.matchers = map[string]GoMatcher{}
	}
	if _, dup := registry.matchers[name]; dup {
		panic(fmt.Sprintf("loadtest: matcher %q registered twice", name))
	}
	registry.matchers[name] = m
}

func lookupStep(name string) (StepFactory, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.steps[name]
	return f, ok
}

func lookupMatcher(name string) (GoMatcher, bool) {
	registry.RLock()
	defer registry.RUnlock()
	m, ok := registry.matchers[name]
	return m, ok
}

func registeredMatchers() []string {
	registry.RLock()
	defer registry.RUnlock()
	return sortedKeys(registry.matchers)
}

func registeredSteps() []string {
	registry.RLock()
	defer registry.RUnlock()
	return sortedKeys(registry.steps)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}
