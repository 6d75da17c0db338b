package http1

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for the zero values of Limits and Server fields.
const (
	DefaultMaxRequestLineBytes = 8 << 10
	DefaultMaxHeaderBytes      = 64 << 10
	DefaultMaxHeaderCount      = 100
	DefaultIdleTimeout         = 60 * time.Second
	DefaultHeaderTimeout       = 10 * time.Second
)

// Limits bound what the server reads before it calls the handler. Each is
// counted on the raw bytes as they arrive, so the server never buffers more
// than a limit plus one read buffer (4 KiB) to enforce it.
type Limits struct {
	// MaxRequestLineBytes bounds the request line, without its line
	// terminator. Past it the server answers 414 URI Too Long.
	// Default 8 KiB.
	MaxRequestLineBytes int
	// MaxHeaderBytes bounds the header section after the request line,
	// line terminators and the final empty line included; trailer sections
	// of chunked bodies get the same bound. Past it: 431. Default 64 KiB.
	MaxHeaderBytes int
	// MaxHeaderCount bounds the number of header field lines (and trailer
	// field lines). Past it: 431. Default 100.
	MaxHeaderCount int
}

func (l Limits) withDefaults() Limits {
	if l.MaxRequestLineBytes <= 0 {
		l.MaxRequestLineBytes = DefaultMaxRequestLineBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderCount <= 0 {
		l.MaxHeaderCount = DefaultMaxHeaderCount
	}
	return l
}

// Server serves HTTP/1.x requests on connections handed to ServeConn. Set
// its fields before the first ServeConn and do not change them afterwards.
// The zero value is not usable: Handler is required.
type Server struct {
	// Handler answers every request the server accepts. Required.
	Handler http.Handler
	// Limits bounds the request head; zero fields take the defaults.
	Limits Limits
	// IdleTimeout is how long a keep-alive connection may wait for the
	// first byte of its next request. Default 60s.
	IdleTimeout time.Duration
	// HeaderTimeout is how long the rest of a request head may take once
	// its first byte arrived. Past it the server answers 408 and closes.
	// It also bounds writing a refusal. Default 10s. (Draining an unread
	// body after the handler is bounded by 1 s.)
	HeaderTimeout time.Duration
	// Log receives debug lines for refused requests and error lines for
	// handler panics. Default: the zero zerolog.Logger, which drops all.
	Log zerolog.Logger
	// OnReject, if set, is called for every request the server refuses
	// itself, with the status it answered and a one-line reason (metrics).
	OnReject func(status int, reason string)

	draining atomic.Bool
	mu       sync.Mutex
	conns    map[*conn]struct{}
}

// ServeConn serves requests on nc until the client closes it, an error, or
// Shutdown, then closes nc and returns. The context of every request derives
// from ctx. A refused request ends the connection with a *RejectError; a
// clean end (client close, idle timeout, shutdown, hijack) returns nil.
// After a handler hijacked nc, ServeConn returns without closing it.
//
// Cancelling ctx cancels the requests' contexts but does not close nc; use
// Shutdown to stop serving. nc may be any net.Conn, such as one that first
// replays the bytes protocol detection already read; it must support read
// deadlines, which the server uses for its timeouts and to stop its
// background read.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) error {
	if s.Handler == nil {
		_ = nc.Close()
		return ErrNoHandler
	}
	c := connPool.Get().(*conn)
	c.init(s, nc)
	if !s.track(c) {
		_ = nc.Close()
		c.release()
		return nil
	}
	var cancel context.CancelFunc
	c.ctx, cancel = context.WithCancel(ctx)
	err := c.serve()
	cancel()
	if c.hijacked {
		return nil
	}
	s.untrack(c)
	c.close()
	c.release()
	return err
}

// Shutdown starts draining: idle keep-alive connections are closed at once;
// requests in flight finish, their responses carry "Connection: close", and
// their connections close after them. A connection handed to ServeConn
// after Shutdown (accepted before, still in detection) gets its first request
// answered with "Connection: close". Shutdown does not wait.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining.Store(true)
	for c := range s.conns {
		c.wakeIfIdle()
	}
}

// track registers c for Shutdown. A connection that arrives while the server
// drains is still tracked: it gets one request answered (see awaitRequest).
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// reject records and logs a request the server refuses itself.
func (s *Server) reject(c *conn, e *RejectError) {
	s.Log.Debug().Int("status", e.Status).Str("reason", e.Reason).Str("remote", c.remote).Msg("http1: refused request")
	if s.OnReject != nil {
		s.OnReject(e.Status, e.Reason)
	}
}

// connPool recycles connection state: the read and write buffers, the
// parser's scratch space and the background reader.
var connPool = sync.Pool{New: func() any {
	c := new(conn)
	c.br = bufio.NewReaderSize(&c.cr, 4096)
	c.bw = bufio.NewWriterSize(nil, 4096)
	c.parser.br = c.br
	c.scratch = make([]byte, 0, 24)
	return c
}}
