package loadtest

import (
	"errors"
	"testing"
)

// {{rand A B}} takes parameters as bounds, so a flow can spread connections over -set rooms=N.
func TestRandBoundsFromParams(t *testing.T) {
	sc := &scope{params: map[string]string{"lo": "7", "hi": "7", "word": "x"}}
	tm, err := compileText(`room-{{rand lo hi}}`, sc)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tm.render(nil, &Session{}, 0)); got != "room-7" {
		t.Fatalf("got %q", got)
	}
	for _, bad := range []string{`{{rand 1 word}}`, `{{rand 1 nope}}`, `{{rand hi 1}}`} {
		if _, err := compileText(bad, sc); !errors.Is(err, errTemplate) {
			t.Errorf("%s: %v, want a template error", bad, err)
		}
	}
}
