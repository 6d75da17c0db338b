package detect

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// Protocol is what a connection was detected to carry.
type Protocol uint8

// The protocols Detect tells apart.
const (
	Opaque Protocol = iota
	HTTP1
	HTTP2
	TLS
)

func (p Protocol) String() string {
	switch p {
	case HTTP1:
		return "http1"
	case HTTP2:
		return "h2"
	case TLS:
		return "tls"
	default:
		return "opaque"
	}
}

// Outcome is how detection ended; it is the "result" label of the detection
// metric.
type Outcome string

// Detection outcomes. OutcomeTimeout means the client sent a prefix that was
// still undecided when it paused for a window (or at the overall deadline);
// OutcomeServerFirst means it sent nothing within the first-byte window.
// Both are relayed as opaque TCP.
const (
	OutcomeHTTP1       Outcome = "http1"
	OutcomeHTTP2       Outcome = "h2"
	OutcomeTLS         Outcome = "tls"
	OutcomeOpaque      Outcome = "opaque"
	OutcomeTimeout     Outcome = "timeout"
	OutcomeServerFirst Outcome = "server_first"
)

// Defaults for Config.
const (
	DefaultMaxBytes        = 1024
	DefaultFirstByteWindow = 100 * time.Millisecond
	DefaultTimeout         = time.Second
)

// Config bounds one detection.
type Config struct {
	// MaxBytes is the most that is read before deciding. Default 1024.
	MaxBytes int
	// FirstByteWindow is how long the client may stay silent before it is
	// taken for a server-speaks-first protocol, and how long it may pause
	// in the middle of a still-undecided prefix before that is taken for
	// opaque TCP. Default 100 ms.
	FirstByteWindow time.Duration
	// Timeout bounds the whole detection once the client has started
	// sending (a client that keeps trickling bytes). Default 1 s.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.FirstByteWindow <= 0 {
		c.FirstByteWindow = DefaultFirstByteWindow
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Result is what Detect saw.
type Result struct {
	Protocol Protocol
	Outcome  Outcome
	// Prefix holds the bytes read from the client; they must be replayed to
	// whoever handles the connection next.
	Prefix []byte
}

// ErrClosed is returned when the client closed the connection before
// sending anything.
var ErrClosed = errors.New("detect: client closed before sending")

// Detect reads the start of c and classifies it. The read deadline of c is
// cleared before it returns. A client that half-closes after a partial
// prefix gets Opaque with what it sent.
func Detect(c net.Conn, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	buf := make([]byte, cfg.MaxBytes)
	defer c.SetReadDeadline(time.Time{}) //nolint:errcheck // best effort on a live conn

	start := time.Now()
	if err := c.SetReadDeadline(start.Add(cfg.FirstByteWindow)); err != nil {
		return Result{}, err
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if n > 0 {
			if p, ok := Classify(buf[:n], n == len(buf)); ok {
				return Result{Protocol: p, Outcome: outcome(p), Prefix: buf[:n]}, nil
			}
		}
		if err != nil {
			switch {
			case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
				return Result{Protocol: Opaque, Outcome: OutcomeServerFirst}, nil
			case n == 0 && errors.Is(err, io.EOF):
				return Result{}, ErrClosed
			case n == 0:
				return Result{}, err
			case errors.Is(err, os.ErrDeadlineExceeded):
				return Result{Protocol: Opaque, Outcome: OutcomeTimeout, Prefix: buf[:n]}, nil
			default:
				// The client sent something and then closed or failed:
				// relay what there is and let the relay see the end.
				return Result{Protocol: Opaque, Outcome: OutcomeOpaque, Prefix: buf[:n]}, nil
			}
		}
		if n > 0 && m > 0 {
			// Real HTTP clients write the request line at once: a pause
			// inside an undecided prefix (a one-byte ping, a short binary
			// greeting) means opaque TCP, decided within one window.
			deadline := time.Now().Add(cfg.FirstByteWindow)
			if end := start.Add(cfg.Timeout); end.Before(deadline) {
				deadline = end
			}
			if err := c.SetReadDeadline(deadline); err != nil {
				return Result{}, err
			}
		}
	}
}

func outcome(p Protocol) Outcome {
	switch p {
	case HTTP1:
		return OutcomeHTTP1
	case HTTP2:
		return OutcomeHTTP2
	case TLS:
		return OutcomeTLS
	default:
		return OutcomeOpaque
	}
}

// h2Preface is the HTTP/2 client connection preface (RFC 9113 §3.4).
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// Classify decides which protocol b starts. It reports ok=false while b is a
// proper prefix of something recognisable and more bytes could decide;
// full says no more bytes will come within the size bound. A decision is
// stable: once Classify(b) decides p, every extension of b decides p too.
func Classify(b []byte, full bool) (p Protocol, ok bool) {
	if len(b) == 0 {
		return Opaque, full
	}
	if bytes.HasPrefix(b, h2Preface) {
		return HTTP2, true
	}
	if len(b) < len(h2Preface) && bytes.HasPrefix(h2Preface, b) && !full {
		return Opaque, false
	}
	if b[0] == 0x16 {
		return classifyTLS(b, full)
	}
	return classifyHTTP1(b, full)
}

// classifyTLS recognises a TLS record header carrying a handshake whose
// first message is a ClientHello: 0x16, version 0x03 0x0X, length, 0x01.
func classifyTLS(b []byte, full bool) (Protocol, bool) {
	want := []byte{0x16, 0x03}
	for i := 1; i < len(want) && i < len(b); i++ {
		if b[i] != want[i] {
			return Opaque, true
		}
	}
	if len(b) > 2 && b[2] > 0x04 {
		return Opaque, true
	}
	if len(b) < 6 {
		return Opaque, full
	}
	if b[5] != 0x01 {
		return Opaque, true
	}
	return TLS, true
}
