package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/detect"
	"github.com/meshlite/meshlite/proxy/forward"
	"github.com/meshlite/meshlite/proxy/h2"
	"github.com/meshlite/meshlite/proxy/http1"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/observe"
	"github.com/meshlite/meshlite/proxy/origdst"
	"github.com/meshlite/meshlite/proxy/relay"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// OrigDstFunc finds the address a redirected connection was meant for.
type OrigDstFunc func(*net.TCPConn) (netip.AddrPort, error)

// Config is what a Server needs; zero values take the documented defaults.
type Config struct {
	Direction conninfo.Direction
	// Resolver picks endpoints. Required.
	Resolver resolve.Resolver
	// OrigDst reads the original destination; default origdst.Lookup.
	OrigDst OrigDstFunc
	// OpaquePorts skip protocol detection and are relayed as TCP.
	OpaquePorts map[uint16]bool
	// SelfPorts are the proxy's own listener ports: a connection whose
	// original destination is one of them on a loopback address is a loop.
	SelfPorts map[uint16]bool
	Detect    detect.Config
	// Memo remembers server-speaks-first destinations; default 4096 for 10 min.
	Memo *detect.Memo
	// ConnectTimeout bounds connecting to an endpoint; default 1 s.
	ConnectTimeout time.Duration
	HTTP1          http1.Limits
	// HTTP1IdleTimeout closes an idle HTTP/1 keep-alive connection; default
	// 60 s.
	HTTP1IdleTimeout time.Duration
	H2               h2.Limits
	Metrics          *metrics.Proxy
	Log              zerolog.Logger
	// AccessLog receives one line per request and per TCP connection; nil
	// turns access logs off.
	AccessLog *zerolog.Logger
}

// Server serves one listener.
type Server struct {
	cfg   Config
	dial  forward.DialFunc
	http1 *http1.Server
	h2    *h2.Server
	// Transports are owned by the server so Shutdown can close their
	// idle upstream connections.
	h1t *http.Transport
	h2t interface{ CloseIdleConnections() }

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	lns     []net.Listener
	closing bool
	wg      sync.WaitGroup
}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("server: no resolver")
	}
	if cfg.Metrics == nil {
		return nil, errors.New("server: no metrics")
	}
	if cfg.OrigDst == nil {
		cfg.OrigDst = origdst.Lookup
	}
	if cfg.Memo == nil {
		cfg.Memo = detect.NewMemo(4096, 10*time.Minute, nil)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = time.Second
	}
	s := &Server{cfg: cfg, dial: forward.Dialer(cfg.ConnectTimeout), conns: make(map[net.Conn]struct{})}
	s.h1t = forward.NewHTTP1Transport(s.dial)
	h2t := forward.NewH2CTransport(s.dial)
	s.h2t = h2t
	var handler http.Handler = &forward.Forwarder{Resolver: cfg.Resolver, HTTP1: s.h1t, HTTP2: h2t, Log: cfg.Log}
	handler = observe.Middleware(observe.Config{Metrics: cfg.Metrics, AccessLog: cfg.AccessLog})(handler)
	dir := string(cfg.Direction)
	s.http1 = &http1.Server{
		Handler:     handler,
		Limits:      cfg.HTTP1,
		IdleTimeout: cfg.HTTP1IdleTimeout,
		Log:         cfg.Log,
		OnReject:    func(status int, _ string) { cfg.Metrics.Rejected(dir, status) },
	}
	s.h2 = h2.NewServer(handler, cfg.H2, cfg.Log)
	return s, nil
}

// Serve accepts connections on ln until it is closed or Shutdown is
// called. It returns nil after Shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.Log.Warn().Err(err).Dur("retry_in", backoff).Msg("accept failed")
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 0
		tc, ok := c.(*net.TCPConn)
		if !ok || !s.track(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.untrack(c)
			s.serveConn(ctx, tc)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting, asks HTTP clients to go away (Connection:
// close, GOAWAY), waits for connections to finish until ctx ends, then
// closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	s.http1.Shutdown()
	s.h2.Shutdown()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	// A connection still in protocol detection when the drain began starts
	// its HTTP/2 server after the GOAWAY above went out: repeat it while
	// waiting (x/net sends it once per connection).
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var err error
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			s.h2.Shutdown()
		case <-ctx.Done():
			s.mu.Lock()
			n := len(s.conns)
			for c := range s.conns {
				c.Close()
			}
			s.mu.Unlock()
			err = fmt.Errorf("server: %d connections still open after the grace period were closed", n)
			<-done
			waiting = false
		}
	}
	s.h1t.CloseIdleConnections()
	s.h2t.CloseIdleConnections()
	return err
}

// serveConn is the per-connection diagram: original destination, loop
// check, detection, then the protocol's handler.
func (s *Server) serveConn(ctx context.Context, c *net.TCPConn) {
	start := time.Now()
	client := addrPort(c.RemoteAddr())
	dst, err := s.cfg.OrigDst(c)
	if err == nil && s.isLoop(c, dst) {
		err = fmt.Errorf("original destination %s is the proxy itself", dst)
	}
	if err != nil {
		s.cfg.Log.Warn().Err(err).Str("client", client.String()).Msg("refusing connection")
		c.SetLinger(0) //nolint:errcheck // best effort: reset, not FIN
		c.Close()
		return
	}
	info := &conninfo.Info{Direction: s.cfg.Direction, Client: client, OrigDst: dst}
	ctx = conninfo.With(ctx, info)
	dir := string(s.cfg.Direction)
	closed := s.cfg.Metrics.TCPOpen(dir, false)

	res := detect.Result{Protocol: detect.Opaque}
	if !s.cfg.OpaquePorts[dst.Port()] && !s.cfg.Memo.ServerFirst(dst) {
		res, err = detect.Detect(c, s.cfg.Detect)
		if err != nil {
			closed(0, 0, "")
			c.Close()
			return
		}
		s.cfg.Metrics.Detected(dir, string(res.Outcome))
		if res.Outcome == detect.OutcomeServerFirst {
			s.cfg.Memo.Remember(dst)
		}
	}

	switch res.Protocol {
	case detect.HTTP1, detect.HTTP2:
		cc := &countedConn{Conn: c, prefix: res.Prefix}
		if res.Protocol == detect.HTTP1 {
			s.http1.ServeConn(ctx, cc) //nolint:errcheck // logged by the server
		} else {
			s.h2.ServeConn(ctx, cc)
		}
		c.Close()
		closed(cc.read.Load(), cc.written.Load(), "")
	default:
		read, written, errLabel := s.forwardTCP(ctx, c, res.Prefix, info, start, res.Protocol)
		closed(read, written, errLabel)
	}
}

// isLoop reports whether dst is the proxy's own listener: the connection
// was not redirected (its original destination is where it landed), or it
// targets one of the proxy's ports on loopback.
func (s *Server) isLoop(c *net.TCPConn, dst netip.AddrPort) bool {
	if dst == addrPort(c.LocalAddr()) {
		return true
	}
	return s.cfg.SelfPorts[dst.Port()] && dst.Addr().IsLoopback()
}

// forwardTCP relays an opaque connection to its endpoint.
func (s *Server) forwardTCP(ctx context.Context, c *net.TCPConn, prefix []byte, info *conninfo.Info, start time.Time, proto detect.Protocol) (read, written int64, errLabel string) {
	logDone := func(ep netip.AddrPort, st relay.Stats, err error) {
		if s.cfg.AccessLog == nil {
			return
		}
		ev := s.cfg.AccessLog.Info().Str("kind", "tcp").
			Str("direction", string(s.cfg.Direction)).
			Str("client", info.Client.String()).
			Str("dst", info.OrigDst.String()).
			Str("protocol", proto.String()).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Int64("bytes_in", st.AToB).
			Int64("bytes_out", st.BToA)
		if ep.IsValid() {
			ev = ev.Str("endpoint", ep.String())
		}
		if err != nil {
			ev = ev.Str("error", err.Error())
		}
		ev.Send()
	}
	ep, err := s.cfg.Resolver.Resolve(ctx, info.OrigDst)
	if err != nil {
		c.SetLinger(0) //nolint:errcheck // best effort
		c.Close()
		logDone(netip.AddrPort{}, relay.Stats{}, err)
		return int64(len(prefix)), 0, "resolve"
	}
	up, err := s.dial(ctx, "tcp", ep.Addr.String())
	if err != nil {
		c.SetLinger(0) //nolint:errcheck // best effort: the client sees a reset, as if the endpoint refused
		c.Close()
		logDone(ep.Addr, relay.Stats{}, err)
		return int64(len(prefix)), 0, errnoLabel(err)
	}
	if len(prefix) > 0 {
		if _, err := up.Write(prefix); err != nil {
			up.Close()
			c.Close()
			logDone(ep.Addr, relay.Stats{}, err)
			return int64(len(prefix)), 0, errnoLabel(err)
		}
	}
	st, err := relay.Relay(c, up)
	st.AToB += int64(len(prefix))
	logDone(ep.Addr, st, err)
	if err != nil {
		errLabel = errnoLabel(err)
	}
	return st.AToB, st.BToA, errLabel
}

// errnoLabel names an error by its errno for the tcp_close_total "error"
// label, keeping the label's values few.
func errnoLabel(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		switch errno {
		case syscall.ECONNREFUSED:
			return "ECONNREFUSED"
		case syscall.ECONNRESET:
			return "ECONNRESET"
		case syscall.ETIMEDOUT:
			return "ETIMEDOUT"
		case syscall.EPIPE:
			return "EPIPE"
		case syscall.EHOSTUNREACH, syscall.ENETUNREACH:
			return "EHOSTUNREACH"
		}
		return "other"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "ETIMEDOUT"
	default:
		return "other"
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
