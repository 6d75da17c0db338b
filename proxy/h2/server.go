// Package h2 serves HTTP/2 (h2c with prior knowledge) client connections
// with golang.org/x/net/http2 and limits chosen on purpose.
//
// Limits, per connection unless said otherwise:
//   - MaxConcurrentStreams 1000: enough for busy gRPC clients, bounded
//     against stream floods; more open streams are refused with
//     REFUSED_STREAM.
//   - Header list 64 KiB (SETTINGS_MAX_HEADER_LIST_SIZE), like the HTTP/1
//     header limit.
//   - Flow-control windows 1 MiB per stream and 4 MiB per connection, so a
//     single stream can stream at full speed on a LAN.
//   - Idle timeout 1 h: a connection with no open stream for that long is
//     closed with GOAWAY.
//   - Write stall 60 s: a client that reads nothing while a response waits
//     to be written for that long is disconnected.
//
// Shutdown sends GOAWAY on every connection so clients stop opening new
// streams while the ones in flight finish.
package h2

//lint:file-ignore SA1019 meshlite speaks HTTP/2 through golang.org/x/net/http2 on purpose (README, docs/proxy.md).

import (
	"context"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"
)

// Limits of the HTTP/2 server; see the package documentation.
type Limits struct {
	MaxConcurrentStreams uint32        // default 1000
	MaxHeaderListBytes   int           // default 64 KiB
	StreamWindow         int32         // default 1 MiB
	ConnWindow           int32         // default 4 MiB
	IdleTimeout          time.Duration // default 1 h
	WriteStallTimeout    time.Duration // default 60 s
}

func (l Limits) withDefaults() Limits {
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = 1000
	}
	if l.MaxHeaderListBytes == 0 {
		l.MaxHeaderListBytes = 64 << 10
	}
	if l.StreamWindow == 0 {
		l.StreamWindow = 1 << 20
	}
	if l.ConnWindow == 0 {
		l.ConnWindow = 4 << 20
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = time.Hour
	}
	if l.WriteStallTimeout == 0 {
		l.WriteStallTimeout = 60 * time.Second
	}
	return l
}

// Server serves HTTP/2 connections with one handler.
type Server struct {
	h2      *http2.Server
	base    *http.Server // carries limits and the graceful-shutdown hook
	handler http.Handler
}

// NewServer returns a server for handler. What x/net/http2 has to say
// (mostly clients breaking the protocol) goes to lg at debug level, handler
// panics at error level.
func NewServer(handler http.Handler, l Limits, lg zerolog.Logger) *Server {
	l = l.withDefaults()
	s := &Server{
		h2: &http2.Server{
			MaxConcurrentStreams:         l.MaxConcurrentStreams,
			MaxUploadBufferPerStream:     l.StreamWindow,
			MaxUploadBufferPerConnection: l.ConnWindow,
			IdleTimeout:                  l.IdleTimeout,
			WriteByteTimeout:             l.WriteStallTimeout,
		},
		base: &http.Server{
			MaxHeaderBytes: l.MaxHeaderListBytes,
			Handler:        handler,
			ErrorLog:       log.New(logWriter{lg}, "", 0),
		},
		handler: handler,
	}
	if err := http2.ConfigureServer(s.base, s.h2); err != nil {
		// ConfigureServer only fails on TLS cipher settings, which are
		// not used for h2c.
		panic("h2: configure: " + err.Error())
	}
	return s
}

// ServeConn serves c, which has already been detected as HTTP/2 (its
// preface is still to be read from it), until it closes. Requests' contexts
// derive from ctx.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	s.h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, BaseConfig: s.base, Handler: s.handler})
}

// logWriter turns x/net/http2's log lines into zerolog events, instead of
// the standard logger's unstructured stderr.
type logWriter struct{ log zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "panic") {
		w.log.Error().Str("component", "http2").Msg(msg)
	} else {
		w.log.Debug().Str("component", "http2").Msg(msg)
	}
	return len(p), nil
}

// Shutdown sends GOAWAY on every connection being served and returns at
// once; connections close when their streams are done.
func (s *Server) Shutdown() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()             // nothing to wait for: base serves no listener of its own
	s.base.Shutdown(ctx) //nolint:errcheck // only reports ctx's cancellation
}
