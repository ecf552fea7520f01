// Command deflateserver is a WebSocket echo server with permessage-deflate, one goroutine per
// connection, for the engine's compression memory test: it runs in its own process so that
// the client's heap is measured alone, and each process may hold 20,000 open files here.
//
// It accepts any permessage-deflate offer as it stands: it answers server_no_context_takeover,
// client_no_context_takeover and server_max_window_bits when they are offered, and
// client_max_window_bits when offered with a value. Every message it echoes is compressed.
// It prints "LISTENING ws://ADDR" and exits when its standard input closes.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/wsfleet/wsfleet/codec"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING ws://%s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go serve(c)
	}
}

type params struct {
	on                 bool
	serverNoCtx        bool
	clientNoCtx        bool
	serverBits         int
	clientBits         int
	answer             []string
	serverBitsAnswered bool
}

// negotiate reads the first permessage-deflate element of the offer.
func negotiate(offer string) params {
	p := params{serverBits: 15, clientBits: 15}
	for _, elem := range strings.Split(offer, ",") {
		parts := strings.Split(elem, ";")
		if strings.TrimSpace(parts[0]) != codec.DeflateExtension {
			continue
		}
		p.on = true
		p.answer = []string{codec.DeflateExtension}
		for _, prm := range parts[1:] {
			name, val, hasVal := strings.Cut(strings.TrimSpace(prm), "=")
			name = strings.TrimSpace(name)
			bits, _ := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
			switch name {
			case "server_no_context_takeover":
				p.serverNoCtx = true
				p.answer = append(p.answer, name)
			case "client_no_context_takeover":
				p.clientNoCtx = true
				p.answer = append(p.answer, name)
			case "server_max_window_bits":
				p.serverBits = bits
				p.answer = append(p.answer, name+"="+strconv.Itoa(bits))
			case "client_max_window_bits":
				if hasVal {
					p.clientBits = bits
					p.answer = append(p.answer, name+"="+strconv.Itoa(bits))
				}
			}
		}
		break
	}
	return p
}

func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p := negotiate(req.Header.Get("Sec-WebSocket-Extensions"))
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n"
	if p.on {
		resp += "Sec-WebSocket-Extensions: " + strings.Join(p.answer, "; ") + "\r\n"
	}
	if _, err := io.WriteString(c, resp+"\r\n"); err != nil {
		return
	}
	var d codec.Deflater
	var f codec.Inflater
	if p.on {
		if err := d.Init(1, p.serverBits, p.serverNoCtx); err != nil {
			return
		}
		f.Init(p.clientBits, p.clientNoCtx)
	}
	var msg []byte
	var op byte
	compressed := false
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		fin, rsv1, opcode := hdr[0]&0x80 != 0, hdr[0]&0x40 != 0, hdr[0]&0x0F
		n := uint64(hdr[1] & 0x7F)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(br, b[:]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return
		}
		var key [4]byte
		if hdr[1]&0x80 != 0 {
			if _, err := io.ReadFull(br, key[:]); err != nil {
				return
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= key[i&3]
		}
		switch opcode {
		case 0x8:
			writeFrame(c, 0x88, payload)
			return
		case 0x9:
			writeFrame(c, 0x8A, payload)
			continue
		case 0xA:
			continue
		case 0x1, 0x2:
			op, compressed, msg = opcode, rsv1, payload
		case 0x0:
			msg = append(msg, payload...)
		}
		if !fin {
			continue
		}
		if compressed {
			out, err := f.Inflate(nil, msg, 64<<20, nil)
			if err != nil {
				writeFrame(c, 0x88, []byte{0x03, 0xEF}) // 1007
				return
			}
			msg = out
		}
		if p.on {
			writeFrame(c, 0x80|0x40|op, d.Deflate(nil, msg, nil))
		} else {
			writeFrame(c, 0x80|op, msg)
		}
		msg = nil
	}
}

func writeFrame(c net.Conn, b0 byte, payload []byte) {
	h := codec.Header{Fin: b0&0x80 != 0, Rsv: b0 & 0x70, Opcode: codec.Opcode(b0 & 0x0F), Length: int64(len(payload))}
	out := codec.AppendHeader(make([]byte, 0, codec.MaxHeaderSize+len(payload)), h)
	c.Write(append(out, payload...))
}
