package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BodySize is the size of every HTTP response body.
const BodySize = 1024

// Config says where the backend listens. An empty address turns that
// server off.
type Config struct {
	// HTTPAddrs each serve HTTP/1.1 and h2c (prior knowledge) on one
	// port, from the same server. Default none.
	HTTPAddrs []string
	// GRPCAddr serves grpc.health.v1.Health (status SERVING). Default "".
	GRPCAddr string
	// EchoAddr echoes every byte back on each TCP connection. Default "".
	EchoAddr string
}

// Server is a listening backend.
type Server struct {
	http *http.Server
	grpc *grpc.Server

	lnHTTP         []net.Listener
	lnGRPC, lnEcho net.Listener
}

// Listen opens the configured listeners.
func Listen(cfg Config) (*Server, error) {
	s := &Server{}
	s.lnHTTP = make([]net.Listener, len(cfg.HTTPAddrs))
	type slot struct {
		addr string
		ln   *net.Listener
	}
	slots := []slot{{cfg.GRPCAddr, &s.lnGRPC}, {cfg.EchoAddr, &s.lnEcho}}
	for i, a := range cfg.HTTPAddrs {
		slots = append(slots, slot{a, &s.lnHTTP[i]})
	}
	for _, l := range slots {
		if l.addr == "" {
			continue
		}
		var err error
		if *l.ln, err = net.Listen("tcp", l.addr); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("backend: listen %s: %w", l.addr, err)
		}
	}
	if len(s.lnHTTP) > 0 {
		var protos http.Protocols
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		s.http = &http.Server{Handler: Handler(), Protocols: &protos, ReadHeaderTimeout: 10 * time.Second}
	}
	if s.lnGRPC != nil {
		s.grpc = grpc.NewServer()
		healthpb.RegisterHealthServer(s.grpc, health.NewServer()) // "" is SERVING
	}
	return s, nil
}

// Addrs returns the bound addresses (nil for a server that is off).
func (s *Server) Addrs() (httpAddrs []net.Addr, grpcAddr, echoAddr net.Addr) {
	addr := func(ln net.Listener) net.Addr {
		if ln == nil {
			return nil
		}
		return ln.Addr()
	}
	for _, ln := range s.lnHTTP {
		httpAddrs = append(httpAddrs, addr(ln))
	}
	return httpAddrs, addr(s.lnGRPC), addr(s.lnEcho)
}

func (s *Server) closeListeners() {
	for _, ln := range append([]net.Listener{s.lnGRPC, s.lnEcho}, s.lnHTTP...) {
		if ln != nil {
			ln.Close()
		}
	}
}

// Serve serves until ctx ends, then closes everything and returns nil, or
// returns the first listener error.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2+len(s.lnHTTP))
	run := func(name string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("backend: %s: %w", name, err)
				cancel()
			}
		})
	}
	for _, ln := range s.lnHTTP {
		run("http", func() error { return s.http.Serve(ln) })
	}
	if s.grpc != nil {
		run("grpc", func() error { return s.grpc.Serve(s.lnGRPC) })
	}
	var conns connSet
	if s.lnEcho != nil {
		run("echo", func() error { return serveEcho(s.lnEcho, &conns) })
	}
	<-ctx.Done()
	s.closeListeners()
	if s.http != nil {
		s.http.Close()
	}
	if s.grpc != nil {
		s.grpc.Stop()
	}
	conns.closeAll()
	wg.Wait()
	close(errc)
	return <-errc // nil when closed and empty
}

// body is the response body: BodySize bytes of printable text.
var body = bytes.Repeat([]byte("meshlite-bench-0123456789abcdef\n"), BodySize/32)

// Handler answers every request with 200 and the 1 KiB body.
func Handler() http.Handler {
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	})
}

// connSet tracks open echo connections so Serve can close them.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
}

func (c *connSet) add(nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.m == nil {
		c.m = map[net.Conn]struct{}{}
	}
	c.m[nc] = struct{}{}
	return true
}

func (c *connSet) remove(nc net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, nc)
}

func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for nc := range c.m {
		nc.Close()
	}
}

// serveEcho accepts until ln is closed and echoes on each connection.
func serveEcho(ln net.Listener, conns *connSet) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if !conns.add(nc) {
			nc.Close()
			return nil
		}
		wg.Go(func() {
			defer conns.remove(nc)
			defer nc.Close()
			echo(nc)
		})
	}
}

// echo writes back what it reads, with a plain read/write loop: cheap and
// predictable for 1-byte ping-pongs, unlike a splice through a pipe.
func echo(nc net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			if _, werr := nc.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := nc.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}
