package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/detect"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/mtls"
)

// ClientIDHeader tells the application, on requests that arrived over
// mutual TLS, the SPIFFE ID of the calling workload. The proxy removes any
// such header a client sent itself.
const ClientIDHeader = "Meshlite-Client-Id"

// helloTimeout bounds reading the rest of a ClientHello.
const helloTimeout = 5 * time.Second

// readHello completes the first TLS record of c, of which prefix has been
// read, so that its ClientHello can be inspected. It returns what it has on
// error.
func readHello(c net.Conn, prefix []byte) ([]byte, error) {
	n, ok := mtls.HelloLen(prefix)
	if !ok || len(prefix) >= n {
		return prefix, nil
	}
	buf := make([]byte, n)
	copy(buf, prefix)
	c.SetReadDeadline(time.Now().Add(helloTimeout)) //nolint:errcheck // best effort
	defer c.SetReadDeadline(time.Time{})            //nolint:errcheck // best effort
	m, err := readFull(c, buf[len(prefix):])
	return buf[:len(prefix)+m], err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// serveMeshed terminates a peer proxy's mutual TLS, then serves the
// protocol its transport header names toward the application port it names.
func (s *Server) serveMeshed(ctx context.Context, c *net.TCPConn, hello []byte, info *conninfo.Info, start time.Time) {
	cc := &countedConn{Conn: c, prefix: hello}
	tc, peer, h, err := mtls.Accept(ctx, cc, s.cfg.Identity)
	if err != nil {
		s.cfg.Log.Warn().Err(err).Str("client", info.Client.String()).Msg("refusing mutual TLS connection")
		s.cfg.Metrics.Detected(string(s.cfg.Direction), "tls_refused")
		c.SetLinger(0) //nolint:errcheck // best effort
		c.Close()
		return
	}
	local := addrPort(c.LocalAddr())
	info.TLS, info.Peer = true, peer
	info.OrigDst = netip.AddrPortFrom(local.Addr(), h.Port)
	proto := detect.Opaque
	if h.Proto != mtls.ProtoOpaque {
		proto = detect.HTTP1 // authorized per request
	}
	if !s.admit(tc, info, proto) {
		return
	}
	closed := s.cfg.Metrics.TCPOpen(metrics.TCPLabels{
		Direction: string(s.cfg.Direction), TLS: true, ClientID: peer.String(), ServerID: s.self.String(),
	})
	switch h.Proto {
	case mtls.ProtoHTTP1, mtls.ProtoHTTP2:
		s.serveHTTP(ctx, tc, h.Proto == mtls.ProtoHTTP2)
		tc.Close()
		closed(cc.read.Load(), cc.written.Load(), "")
	default:
		_, _, errLabel := s.forwardTCP(ctx, tc, nil, info, start, "opaque")
		closed(cc.read.Load(), cc.written.Load(), errLabel)
	}
}

// clientIDHeader gives the application the caller's identity on mutual TLS
// requests, and strips the header from everything else.
func clientIDHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(ClientIDHeader)
		if info := conninfo.From(r.Context()); info != nil && info.TLS {
			r.Header.Set(ClientIDHeader, info.Peer.String())
		}
		next.ServeHTTP(w, r)
	})
}
