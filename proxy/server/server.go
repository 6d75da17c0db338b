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

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/detect"
	"github.com/meshlite/meshlite/proxy/endpoints"
	"github.com/meshlite/meshlite/proxy/forward"
	"github.com/meshlite/meshlite/proxy/h2"
	"github.com/meshlite/meshlite/proxy/http1"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/observe"
	"github.com/meshlite/meshlite/proxy/origdst"
	"github.com/meshlite/meshlite/proxy/pool"
	"github.com/meshlite/meshlite/proxy/relay"
	"github.com/meshlite/meshlite/proxy/resolve"
	"github.com/meshlite/meshlite/proxy/route"
	"github.com/meshlite/meshlite/proxy/tap"
	"github.com/meshlite/meshlite/proxy/trace"
	"github.com/meshlite/meshlite/proxy/upstream"
)

// OrigDstFunc finds the address a redirected connection was meant for.
type OrigDstFunc func(*net.TCPConn) (netip.AddrPort, error)

// Config is what a Server needs; zero values take the documented defaults.
type Config struct {
	Direction conninfo.Direction
	// Resolver picks endpoints of destinations Targets does not know (all
	// of them when Targets is nil). Required.
	Resolver resolve.Resolver
	// Targets knows services' routes, balancers and pools (outbound, with
	// the destination service); optional.
	Targets forward.Targets
	// Upstream connects to endpoints. Required.
	Upstream *upstream.Clients
	// Identity is the proxy's SVID and trust bundle; nil when the proxy has
	// no identity (it then neither terminates nor originates mutual TLS).
	Identity Identity
	// OrigDst reads the original destination; default origdst.Lookup.
	OrigDst OrigDstFunc
	// OpaquePorts skip protocol detection and are relayed as TCP.
	OpaquePorts map[uint16]bool
	// SelfPorts are the proxy's own listener ports: a connection whose
	// original destination is one of them on a loopback address is a loop.
	SelfPorts map[uint16]bool
	Detect    detect.Config
	// Memo remembers server-speaks-first destinations; default 4096 for 10 min.
	Memo  *detect.Memo
	HTTP1 http1.Limits
	// HTTP1IdleTimeout closes an idle HTTP/1 keep-alive connection; default
	// 60 s.
	HTTP1IdleTimeout time.Duration
	H2               h2.Limits
	Metrics          *metrics.Proxy
	Log              zerolog.Logger
	// AccessLog receives one line per request and per TCP connection; nil
	// turns access logs off.
	AccessLog *zerolog.Logger
	// Tap receives request and connection events while someone watches.
	Tap *tap.Hub
	// Trace makes a span per request; nil only propagates trace context.
	Trace *trace.Tracer
	// Inbound is the workload's inbound policy (peer authentication and
	// authorization), inbound only; nil allows everything.
	Inbound *InboundPolicy
}

// Identity is the proxy's own identity as the data path needs it.
type Identity interface {
	mtls.Source
	// ID is the proxy's SPIFFE ID.
	ID() spiffeid.ID
}

// Server serves one listener.
type Server struct {
	cfg   Config
	self  spiffeid.ID
	http1 *http1.Server
	h2    *h2.Server

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	lns     []net.Listener
	closing bool
	wg      sync.WaitGroup
}

// New builds a server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Resolver == nil || cfg.Upstream == nil {
		return nil, errors.New("server: no resolver or upstream")
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
	s := &Server{cfg: cfg, conns: make(map[net.Conn]struct{})}
	if cfg.Identity != nil {
		s.self = cfg.Identity.ID()
	}
	var handler http.Handler = &forward.Forwarder{Resolver: cfg.Resolver, Targets: cfg.Targets, Upstream: cfg.Upstream, Log: cfg.Log,
		OnOverflow: func(limit string) { cfg.Metrics.Overflow(string(cfg.Direction), limit) }}
	if cfg.Direction == conninfo.Inbound {
		handler = s.authorizeHTTP(clientIDHeader(handler))
	}
	handler = observe.Middleware(observe.Config{Metrics: cfg.Metrics, AccessLog: cfg.AccessLog, Tap: cfg.Tap})(handler)
	handler = cfg.Trace.Middleware(cfg.Direction)(handler) // before observe, which logs the span's IDs
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
	s.cfg.Upstream.CloseIdleConnections()
	return err
}

// serveConn is the per-connection diagram: original destination, loop
// check, detection, mutual TLS termination (inbound), then the protocol's
// handler.
func (s *Server) serveConn(ctx context.Context, c *net.TCPConn) {
	start := time.Now()
	client := addrPort(c.RemoteAddr())
	dst, err := s.cfg.OrigDst(c)
	// A connection straight to the inbound listener is how peer proxies
	// send mutual TLS; anything else there, and any loop, is refused.
	direct := err == nil && dst == addrPort(c.LocalAddr())
	if err == nil && s.isLoop(dst, direct) {
		err = fmt.Errorf("original destination %s is the proxy itself", dst)
	}
	if err != nil {
		s.refuse(c, client, err)
		return
	}
	info := &conninfo.Info{Direction: s.cfg.Direction, Client: client, OrigDst: dst, Self: s.self}
	ctx = conninfo.With(ctx, info)
	dir := string(s.cfg.Direction)

	res := detect.Result{Protocol: detect.Opaque}
	if !direct && (s.cfg.OpaquePorts[dst.Port()] || s.cfg.Memo.ServerFirst(dst)) {
		// Declared or known opaque: no detection.
	} else {
		res, err = detect.Detect(c, s.cfg.Detect)
		if err != nil {
			c.Close()
			return
		}
		s.cfg.Metrics.Detected(dir, string(res.Outcome))
		if (res.Outcome == detect.OutcomeServerFirst || res.Outcome == detect.OutcomeTimeout) && !direct {
			s.cfg.Memo.Remember(dst)
		}
	}
	if res.Protocol == detect.TLS && s.cfg.Direction == conninfo.Inbound && s.cfg.Identity != nil {
		hello, err := readHello(c, res.Prefix)
		if err == nil && mtls.OffersMeshlite(hello) {
			s.serveMeshed(ctx, c, hello, info, start)
			return
		}
		res.Prefix = hello // the application's own TLS: relayed untouched
	}
	if direct {
		s.refuse(c, client, fmt.Errorf("plain %s connection to the inbound port itself", res.Protocol))
		return
	}

	if s.cfg.Direction == conninfo.Inbound && !s.admit(c, info, res.Protocol) {
		return
	}
	closed := s.cfg.Metrics.TCPOpen(metrics.TCPLabels{Direction: dir})
	switch res.Protocol {
	case detect.HTTP1, detect.HTTP2:
		cc := &countedConn{Conn: c, prefix: res.Prefix}
		s.serveHTTP(ctx, cc, res.Protocol == detect.HTTP2)
		c.Close()
		closed(cc.read.Load(), cc.written.Load(), "")
	default:
		read, written, errLabel := s.forwardTCP(ctx, c, res.Prefix, info, start, res.Protocol.String())
		closed(read, written, errLabel)
	}
}

// admit applies the inbound policy to a connection before it is served:
// peer authentication for every connection, authorization for opaque TCP
// (HTTP is authorized per request). A refused connection is closed.
func (s *Server) admit(c net.Conn, info *conninfo.Info, proto detect.Protocol) bool {
	if ok, why := s.admitConn(info); !ok {
		s.cfg.Metrics.AuthzDenied("tcp", "peer-authentication")
		s.cfg.Log.Info().Str("client", info.Client.String()).Str("client_id", info.Peer.String()).Msg(why)
		c.Close()
		return false
	}
	if proto == detect.HTTP1 || proto == detect.HTTP2 {
		return true
	}
	if d, ok := s.authorizeTCP(info); !ok {
		s.cfg.Metrics.AuthzDenied("tcp", policyLabel(d))
		s.cfg.Log.Info().Str("client", info.Client.String()).Str("client_id", info.Peer.String()).
			Str("policy", policyLabel(d)).Msg("connection denied by authorization policy")
		c.Close()
		return false
	}
	return true
}

// serveHTTP hands an HTTP connection to the server of its protocol.
func (s *Server) serveHTTP(ctx context.Context, c net.Conn, h2 bool) {
	if h2 {
		s.h2.ServeConn(ctx, c)
		return
	}
	s.http1.ServeConn(ctx, c) //nolint:errcheck // logged by the server
}

// refuse resets a connection the proxy will not serve.
func (s *Server) refuse(c *net.TCPConn, client netip.AddrPort, why error) {
	s.cfg.Log.Warn().Err(why).Str("client", client.String()).Msg("refusing connection")
	c.SetLinger(0) //nolint:errcheck // best effort: reset, not FIN
	c.Close()
}

// isLoop reports whether dst is the proxy's own listener: an outbound
// connection that was not redirected, or one to the proxy's ports on
// loopback. (Inbound, a direct connection may be a peer's mutual TLS.)
func (s *Server) isLoop(dst netip.AddrPort, direct bool) bool {
	if direct && s.cfg.Direction == conninfo.Outbound {
		return true
	}
	return s.cfg.SelfPorts[dst.Port()] && dst.Addr().IsLoopback()
}

// forwardTCP relays an opaque connection to its endpoint: plain TCP, or
// mutual TLS to a meshed endpoint's proxy.
func (s *Server) forwardTCP(ctx context.Context, c net.Conn, prefix []byte, info *conninfo.Info, start time.Time, proto string) (read, written int64, errLabel string) {
	var ep resolve.Endpoint
	logDone := func(st relay.Stats, err error) {
		s.tapTCP(info, ep, start, err)
		if s.cfg.AccessLog == nil {
			return
		}
		ev := s.cfg.AccessLog.Info().Str("kind", "tcp").
			Str("direction", string(s.cfg.Direction)).
			Str("client", info.Client.String()).
			Str("dst", info.OrigDst.String()).
			Str("protocol", proto).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Int64("bytes_in", st.AToB).
			Int64("bytes_out", st.BToA).
			Bool("tls", info.TLS || ep.Meshed())
		if ep.Addr.IsValid() {
			ev = ev.Str("endpoint", ep.Addr.String())
		}
		if info.TLS {
			ev = ev.Str("client_id", info.Peer.String()).Str("server_id", info.Self.String())
		} else if ep.Meshed() {
			ev = ev.Str("client_id", info.Self.String()).Str("server_id", ep.Identity.String())
		}
		if err != nil {
			ev = ev.Str("error", err.Error())
		}
		ev.Send()
	}
	abort := func(err error, label string) (int64, int64, string) {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) //nolint:errcheck // best effort: the client sees a reset, as if the endpoint refused
		}
		c.Close()
		logDone(relay.Stats{AToB: int64(len(prefix))}, err)
		return int64(len(prefix)), 0, label
	}
	ep, release, err := s.pickTCP(ctx, info.OrigDst)
	if err != nil {
		var ov *pool.OverflowError
		if errors.As(err, &ov) {
			s.cfg.Metrics.Overflow(string(s.cfg.Direction), ov.Limit)
			return abort(err, "overflow")
		}
		return abort(err, "resolve")
	}
	defer release()
	dialStart := time.Now()
	up, err := s.cfg.Upstream.Dial(ctx, ep, mtls.ProtoOpaque)
	outcome := resolve.Outcome{Latency: time.Since(dialStart), Err: err}
	defer func() { ep.Finish(outcome) }() // the connection is "in flight" until it closes
	if err != nil {
		if ep.Meshed() {
			s.cfg.Log.Warn().Err(err).Str("endpoint", ep.Addr.String()).Msg("meshed endpoint unreachable over mutual TLS")
		}
		return abort(err, errnoLabel(err))
	}
	if len(prefix) > 0 {
		if _, err := up.Write(prefix); err != nil {
			up.Close()
			return abort(err, errnoLabel(err))
		}
	}
	st, err := relay.Relay(c, up)
	st.AToB += int64(len(prefix))
	logDone(st, err)
	if err != nil {
		errLabel = errnoLabel(err)
	}
	return st.AToB, st.BToA, errLabel
}

// pickTCP chooses the endpoint for an opaque connection to dst: through the
// service's TCP routes and balancer, holding a slot of its connection pool,
// or from the resolver when no service is known.
func (s *Server) pickTCP(ctx context.Context, dst netip.AddrPort) (resolve.Endpoint, func(), error) {
	noop := func() {}
	if s.cfg.Targets != nil {
		tgt, err := s.cfg.Targets.Target(ctx, dst)
		if err != nil {
			return resolve.Endpoint{}, noop, err
		}
		if tgt != nil {
			var b route.Backend
			if tr := tgt.Routes().MatchTCP(dst.Port()); tr != nil {
				b = tr.PickBackend(nil)
			}
			if b.Service != "" {
				port := b.Port
				if port == 0 {
					port = dst.Port()
				}
				if tgt, err = s.cfg.Targets.Named(ctx, b.Service, port); err != nil || tgt == nil {
					return resolve.Endpoint{}, noop, fmt.Errorf("tcp route backend %s: %w", b.Service, endpoints.ErrNoEndpoints)
				}
			}
			ep, err := tgt.Pick(ctx, b.Subset)
			if err != nil {
				return ep, noop, err
			}
			release, err := tgt.Acquire(ctx, b.Subset, pool.TCP)
			if err != nil {
				ep.Finish(resolve.Outcome{})
				return resolve.Endpoint{}, noop, err
			}
			return ep, release, nil
		}
	}
	ep, err := s.cfg.Resolver.Resolve(ctx, dst)
	return ep, noop, err
}

// tapTCP publishes an ended TCP connection to the tap.
func (s *Server) tapTCP(info *conninfo.Info, ep resolve.Endpoint, start time.Time, err error) {
	if s.cfg.Tap == nil || !s.cfg.Tap.Active() {
		return
	}
	e := tap.Event{Time: time.Now(), Direction: string(s.cfg.Direction), Kind: "tcp", Client: info.Client.String(),
		Dst: info.OrigDst.String(), TLS: info.TLS || ep.Meshed(), Success: err == nil,
		LatencyMs: float64(time.Since(start).Microseconds()) / 1000}
	if ep.Addr.IsValid() {
		e.Endpoint = ep.Addr.String()
	}
	if info.TLS {
		e.ClientID, e.ServerID = info.Peer.String(), info.Self.String()
	} else if ep.Meshed() {
		e.ClientID, e.ServerID = info.Self.String(), ep.Identity.String()
	}
	s.cfg.Tap.Publish(e)
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
