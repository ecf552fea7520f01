package engine

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/wsfleet/wsfleet/codec"
)

var (
	// ErrTimeout is returned when a connect, receive, close or ping deadline passes.
	// errors.Is(err, os.ErrDeadlineExceeded) holds for it too.
	ErrTimeout error = timeoutError{}
	// ErrClosed is returned by operations on a connection that has closed (or an engine that has).
	ErrClosed = errors.New("websocket: connection closed")
	// ErrEngineClosed is returned by Dial on a closed engine.
	ErrEngineClosed = errors.New("websocket: engine closed")
	// ErrBackedUp is returned by a send that may not wait when the message would not fit
	// under its bound of bytes waiting to be written: MaxPendingBytes for TrySend, twice
	// that for Send inside a callback (see Conn.Send). The peer or the network is not
	// keeping up. A message is always accepted when nothing is pending.
	ErrBackedUp = errors.New("websocket: connection backed up: too many bytes waiting to be written (DialOptions.MaxPendingBytes)")
	// ErrSlowConsumer ends a connection whose inbox filled up under the CloseSlowConsumer policy.
	ErrSlowConsumer = errors.New("websocket: slow consumer: inbox full, connection closed (close 1008); drain Recv/owner faster or use DropOldest")
	// ErrMessageType is returned by Send, SendContext, TrySend and SendUncompressed for a type
	// other than Text and Binary: pings and pongs go with Conn.Ping and Conn.Pong.
	ErrMessageType = errors.New("websocket: Send takes Text or Binary")
	// ErrWrongMode is returned by Recv when the connection is not in passive delivery.
	ErrWrongMode = errors.New("websocket: Recv needs passive mode (the connection is active or has a Handler)")
	// ErrTLS marks errors of the TLS layer: handshake failures (unknown authority, wrong host
	// name, expired certificate, a server that does not speak TLS) and bad records or alerts.
	ErrTLS = errors.New("websocket: TLS")
	// ErrAbnormalClose reports a connection that ended without a close frame (code 1006).
	ErrAbnormalClose = errors.New("websocket: connection closed without a close frame (1006)")
	// ErrNoLocalPort marks a dial that found no free local port towards its destination
	// (EADDRNOTAVAIL: about 28,000 connections per source address and destination). Its
	// message is the advice, for programs that report it: errors.Is(err, ErrNoLocalPort) and
	// errors.Is(err, syscall.EADDRNOTAVAIL) both hold for such a dial's error.
	ErrNoLocalPort = errors.New("no free local port for this destination (EADDRNOTAVAIL, about 28k connections per source address and destination): spread connections over source addresses (DialOptions.LocalAddr) or more server ports, or shard over machines")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "websocket: timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded
}

// timeoutf makes a timeout error that says which deadline passed; errors.Is(err, ErrTimeout) holds.
func timeoutf(format string, args ...any) error {
	return &wrapped{msg: "websocket: " + fmt.Sprintf(format, args...), err: ErrTimeout}
}

// wrapped is an error with its own message around a sentinel, so the message can name the
// cause while errors.Is still finds the sentinel.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// CloseError reports the close frame that ended a connection: the server's (Remote) or ours.
type CloseError struct {
	Code   CloseCode
	Reason string
	// Remote is true when the server sent the close first.
	Remote bool
}

func (e *CloseError) Error() string {
	who := "server"
	if !e.Remote {
		who = "client"
	}
	if e.Reason == "" {
		return fmt.Sprintf("websocket: closed by %s with %d", who, e.Code)
	}
	return fmt.Sprintf("websocket: closed by %s with %d %q", who, e.Code, e.Reason)
}

// HandshakeError reports an upgrade the server refused or answered wrongly.
type HandshakeError struct {
	StatusCode int
	Status     string
	Header     http.Header
	// Body holds at most the first 4 KiB of the response body.
	Body []byte
	// Reason says what was wrong with a 101 response (empty for a refusal by status).
	Reason string
	err    error
}

func (e *HandshakeError) Error() string {
	if e.Reason != "" {
		return "websocket: upgrade failed: " + e.Reason
	}
	return "websocket: upgrade rejected: " + e.Status
}

func (e *HandshakeError) Unwrap() error { return e.err }

// ProtocolError reports a violation of RFC 6455 (or RFC 7692) by the server: the engine
// sent Code in its close frame and dropped the connection.
type ProtocolError struct {
	Code CloseCode
	// Reason names the violation in a few words, e.g. "server sent a masked frame".
	Reason string
	// Err is the cause as the frame parser reported it: one of codec's sentinel errors,
	// possibly wrapped with the numbers involved.
	Err error
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("websocket: %s (close %d)", e.Reason, e.Code)
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// protocolError gives a violation found by codec its engine face and the close code it calls
// for (1002 unless the cause says otherwise).
func protocolError(err error) *ProtocolError {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe
	}
	p := &ProtocolError{Code: CloseProtocolError, Reason: err.Error(), Err: err}
	var cpe *codec.ProtocolError
	if errors.As(err, &cpe) {
		p.Code, p.Reason = CloseCode(cpe.Code), cpe.Reason
	}
	return p
}

func isTimeout(err error) bool { return err != nil && errors.Is(err, ErrTimeout) }
