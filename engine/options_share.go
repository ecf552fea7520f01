package engine

import (
	"reflect"
	"unsafe"
)

// A fleet dials thousands of connections with the same options. Each connection needs the
// options with defaults applied, and a copy per connection costs about 200 bytes, a quarter
// of an idle connection's budget. So the engine keeps the last resolved copy and hands it to
// the next Dial whose options have the same contents (compared field by field, references by
// identity: a caller that changes a field, or passes another map or slice, gets a fresh copy),
// whether it passes the same *DialOptions or a new one. Fields that differ per connection
// (Mode, Owner, LocalAddr, Value, Handler) live in Conn itself and are not compared.

type sharedOptions struct {
	snap     DialOptions // the caller's options when resolved was made
	resolved *DialOptions
}

// shareOptions returns the resolved options for o: the shared copy when o is unchanged since
// it was made, otherwise a heap copy of resolved (which becomes the shared copy). resolved
// itself stays the caller's (on its stack), so a Dial whose options are unchanged allocates
// nothing for them.
func (e *Engine) shareOptions(o *DialOptions, resolved *DialOptions) *DialOptions {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o == nil {
		if e.nilOpts == nil {
			e.nilOpts = new(DialOptions)
			*e.nilOpts = *resolved
		}
		return e.nilOpts
	}
	if sh := &e.optsCache; sh.resolved != nil && sameOptions(&sh.snap, o) {
		return sh.resolved
	}
	r := new(DialOptions)
	*r = *resolved
	e.optsCache = sharedOptions{snap: *o, resolved: r}
	return r
}

// sameOptions compares two DialOptions for sharing: values by value, references by identity.
// The per-connection fields are skipped. TestSameOptionsSeesEveryField guards that a field
// added to DialOptions is compared.
func sameOptions(a, b *DialOptions) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		if perConnField[t.Field(i).Name] {
			continue
		}
		if !sameValue(va.Field(i), vb.Field(i)) {
			return false
		}
	}
	return true
}

// perConnField names the DialOptions fields a Conn keeps for itself.
var perConnField = map[string]bool{"Mode": true, "Owner": true, "LocalAddr": true, "Value": true, "Handler": true}

func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Pointer, reflect.Map, reflect.Chan:
		return a.UnsafePointer() == b.UnsafePointer()
	case reflect.Slice:
		return a.Len() == b.Len() && a.UnsafePointer() == b.UnsafePointer()
	case reflect.Func:
		// reflect gives a func's code pointer only; two closures of one function share it.
		// The func value itself points to its closure: compare that.
		return funcIdentity(a) == funcIdentity(b)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		ea, eb := a.Elem(), b.Elem()
		if ea.Type() != eb.Type() {
			return false
		}
		if ea.Type().Comparable() {
			return ea.Interface() == eb.Interface()
		}
		return sameValue(ea, eb)
	}
	return false // an unknown kind is never shared
}

func funcIdentity(v reflect.Value) unsafe.Pointer {
	if v.IsNil() {
		return nil
	}
	f := v.Interface()
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&f))[1]
}
