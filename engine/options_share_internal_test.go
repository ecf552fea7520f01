package engine

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

// Every DialOptions field but the per-connection ones must make sameOptions see a change.
func TestSameOptionsSeesEveryField(t *testing.T) {
	base := DialOptions{}
	rt := reflect.TypeOf(base)
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if perConnField[f.Name] {
			continue
		}
		changed := base
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int64, reflect.Uint8:
			if v.CanInt() {
				v.SetInt(1)
			} else {
				v.SetUint(1)
			}
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func:
			v.Set(reflect.New(v.Type()).Elem())
			switch v.Kind() {
			case reflect.Pointer:
				v.Set(reflect.New(v.Type().Elem()))
			case reflect.Map:
				v.Set(reflect.MakeMap(v.Type()))
			case reflect.Slice:
				v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			case reflect.Chan:
				v.Set(reflect.MakeChan(v.Type(), 0))
			case reflect.Func:
				v.Set(reflect.MakeFunc(v.Type(), func([]reflect.Value) []reflect.Value { return nil }))
			}
		case reflect.Interface:
			v.Set(reflect.ValueOf(discard{}))
		default:
			t.Fatalf("field %s of kind %v: teach this test and sameValue about it", f.Name, v.Kind())
		}
		if sameOptions(&base, &changed) {
			t.Errorf("changing DialOptions.%s went unnoticed", f.Name)
		}
	}
}

type discard struct{}

func (discard) OnOpen(*Conn)                         {}
func (discard) OnMessage(*Conn, MessageType, []byte) {}
func (discard) OnClose(*Conn, error)                 {}

func TestShareOptions(t *testing.T) {
	e := &Engine{}
	o := &DialOptions{Header: http.Header{"X": {"1"}}, ConnectTimeout: time.Second}
	r1 := o.withDefaults()
	got1 := e.shareOptions(o, &r1)
	r2 := o.withDefaults()
	if got2 := e.shareOptions(o, &r2); got2 != got1 {
		t.Fatal("unchanged options not shared")
	}
	o.Value = 7 // per connection: still shared
	r3 := o.withDefaults()
	if e.shareOptions(o, &r3) != got1 {
		t.Fatal("a per-connection field broke sharing")
	}
	o.ConnectTimeout = 2 * time.Second
	r4 := o.withDefaults()
	got4 := e.shareOptions(o, &r4)
	if got4 == got1 {
		t.Fatal("a changed field was shared")
	}
	if got4 == &r4 || got4.ConnectTimeout != r4.ConnectTimeout || got4.MaxMessageSize != DefaultMaxMessageSize {
		t.Fatal("the shared copy is not a copy of the resolved options")
	}
	same := *o // another struct with the same contents and a per-connection Handler: shared
	same.Handler = discard{}
	r6 := same.withDefaults()
	if e.shareOptions(&same, &r6) != got4 {
		t.Fatal("equal options in another struct not shared")
	}
	o.Header = http.Header{"X": {"1"}} // equal contents, another map: not shared (identity)
	r5 := o.withDefaults()
	if got5 := e.shareOptions(o, &r5); got5 == got4 {
		t.Fatal("a replaced map was shared")
	}
	var zero DialOptions
	rn := zero.withDefaults()
	if gotN := e.shareOptions(nil, &rn); gotN == &rn || e.shareOptions(nil, &rn) != gotN {
		t.Fatal("the options of Dial(nil) are not resolved once per engine")
	}
}
