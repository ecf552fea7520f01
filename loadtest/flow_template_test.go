package loadtest

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func testSession(p *Program, id int) *Session {
	s := &Session{p: p, id: id, vars: make([][]byte, len(p.vars))}
	return s
}

// The doc's MQTT PUBLISH: remaining length as a varint, the topic with its 2-byte length,
// the packet id from {{seq}}.
func TestBinaryTemplateMQTT(t *testing.T) {
	sc := &scope{params: map[string]string{"qos": "1"}, vars: map[string]int{}}
	tm, err := compileHex(`32 {{varlen}} {{len16}}"sensors/"{{id}}{{end}} {{u16 seq}} "t=" {{u8 qos}} {{end}}`, sc)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{id: 7}
	got := tm.render(nil, s, 258)
	want, _ := hex.DecodeString("32" + "10" + "0009" + hex.EncodeToString([]byte("sensors/7")) + "0102" + hex.EncodeToString([]byte("t=")) + "01")
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	// a body of 200 bytes needs a 2-byte varint (0xc8 0x01)
	long, err := compileHex(`30 {{varlen}} {{len16}}"`+string(bytes.Repeat([]byte("a"), 198))+`"{{end}} {{end}}`, sc)
	if err != nil {
		t.Fatal(err)
	}
	b := long.render(nil, s, 0)
	if b[1] != 0xc8 || b[2] != 0x01 || len(b) != 3+200 || b[3] != 0 || b[4] != 198 {
		t.Fatalf("%x…", b[:6])
	}
}

func TestTextTemplateFields(t *testing.T) {
	sc := &scope{params: map[string]string{"room": "lobby"}, dataAs: "user", cols: map[string]int{"name": 0}, vars: map[string]int{"sid": 0}}
	tm, err := compileText(`{"id":{{id}},"seq":{{seq}},"room":"{{room}}","u":"{{user.name}}","sid":"{{sid}}","r":{{rand 5 5}},"uuid":"{{uuid}}"}`, sc)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{id: 3, row: [][]byte{[]byte("ann")}, vars: [][]byte{[]byte("abc")}}
	got := string(tm.render(nil, s, 9))
	prefix := `{"id":3,"seq":9,"room":"lobby","u":"ann","sid":"abc","r":5,"uuid":"`
	if len(got) != len(prefix)+36+2 || got[:len(prefix)] != prefix || got[len(prefix)+14] != '4' {
		t.Fatalf("%s", got)
	}
	st, err := compileText("plain {{room}}", sc)
	if err != nil || string(st.static) != "plain lobby" {
		t.Fatalf("static %q %v", st.static, err)
	}
}
