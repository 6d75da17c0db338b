// Package upstream connects the proxy to endpoints: pooled HTTP/1 and h2c
// clients and plain TCP for endpoints that are not meshed, and mutual TLS
// for those that are.
//
// Between two proxies every HTTP request rides one multiplexed HTTP/2
// connection per endpoint, whatever protocol the application spoke: an
// HTTP/1 request is sent as an HTTP/2 stream marked with the
// Meshlite-Orig-Proto header, and the peer proxy restores it to HTTP/1 for
// its application. HTTP/1 upgrades (WebSocket) and CONNECT tunnels, which
// HTTP/2 cannot carry as they are, get a mutual TLS connection of their own.
// A meshed endpoint is never reached in plaintext: without an identity the
// proxy fails closed.
package upstream

//lint:file-ignore SA1019 meshlite speaks HTTP/2 through golang.org/x/net/http2 on purpose (README, docs/proxy.md).

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/resolve"
	"github.com/meshlite/meshlite/proxy/retry"
)

// OrigProtoHeader marks an HTTP/1 request carried over HTTP/2 between
// proxies. It is honoured only on mutual TLS connections and removed before
// the request reaches an application.
const OrigProtoHeader = "Meshlite-Orig-Proto"

// Clients holds the proxy's connection pools.
type Clients struct {
	dial DialFunc
	src  mtls.Source // nil when the proxy has no identity
	h1   *http.Transport
	h2c  *http2.Transport

	mu     sync.Mutex
	meshH2 map[meshKey]*http2.Transport
	meshH1 map[meshKey]*http.Transport
}

// meshKey names a pool of mutual TLS connections: one peer identity on one
// mesh port.
type meshKey struct {
	id   string
	port uint16
}

// New returns the pools. src is the proxy's identity; nil means meshed
// endpoints are refused.
func New(connectTimeout time.Duration, src mtls.Source) *Clients {
	dial := Dialer(connectTimeout)
	return &Clients{
		dial:   dial,
		src:    src,
		h1:     NewHTTP1Transport(dial),
		h2c:    NewH2CTransport(dial),
		meshH2: map[meshKey]*http2.Transport{},
		meshH1: map[meshKey]*http.Transport{},
	}
}

// Prepare returns the client that carries r to ep, and adjusts r's headers
// for the hop: it marks HTTP/1 requests that ride HTTP/2 to a peer proxy,
// and on the receiving side turns such requests back into HTTP/1.
func (c *Clients) Prepare(r *http.Request, ep resolve.Endpoint) (http.RoundTripper, error) {
	origProto := r.Header.Get(OrigProtoHeader)
	r.Header.Del(OrigProtoHeader)
	if ep.Meshed() {
		if c.src == nil {
			return nil, mtls.ErrNoIdentity
		}
		key := meshKey{id: ep.Identity.String(), port: ep.MeshAddr().Port()}
		if r.ProtoMajor == 1 {
			if r.Method == http.MethodConnect || hasUpgrade(r.Header) {
				return c.meshHTTP1(key, ep), nil
			}
			r.Header.Set(OrigProtoHeader, "HTTP/1.1")
		}
		return c.meshHTTP2(key, ep), nil
	}
	if r.ProtoMajor == 2 {
		info := conninfo.From(r.Context())
		if origProto == "HTTP/1.1" && info != nil && info.TLS {
			return c.h1, nil
		}
		return c.h2c, nil
	}
	return c.h1, nil
}

// Dial opens a byte stream to ep: plain TCP, or for a meshed endpoint
// mutual TLS whose transport header announces proto.
//
// Failures to connect (TCP or the TLS handshake) wrap retry.ErrConnect:
// the request never reached the endpoint, so retrying it is safe.
func (c *Clients) Dial(ctx context.Context, ep resolve.Endpoint, proto mtls.Proto) (net.Conn, error) {
	var (
		conn net.Conn
		err  error
	)
	switch {
	case !ep.Meshed():
		conn, err = c.dial(ctx, "tcp", ep.Addr.String())
	case c.src == nil:
		return nil, mtls.ErrNoIdentity
	default:
		conn, err = mtls.Dial(ctx, c.dial, ep.MeshAddr().String(), c.src, ep.Identity, mtls.Header{Proto: proto, Port: ep.Addr.Port()})
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", retry.ErrConnect, err)
	}
	return conn, nil
}

// meshHTTP2 returns the multiplexed pool for a peer identity.
func (c *Clients) meshHTTP2(key meshKey, ep resolve.Endpoint) *http2.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.meshH2[key]; ok {
		return t
	}
	t := NewH2CTransport(c.meshDialer(ep, mtls.ProtoHTTP2))
	c.meshH2[key] = t
	return t
}

// meshHTTP1 returns the HTTP/1 pool for upgrades and tunnels to a peer.
func (c *Clients) meshHTTP1(key meshKey, ep resolve.Endpoint) *http.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.meshH1[key]; ok {
		return t
	}
	t := NewHTTP1Transport(c.meshDialer(ep, mtls.ProtoHTTP1))
	c.meshH1[key] = t
	return t
}

// meshDialer dials the endpoint named by the transport's address with the
// pool's identity and mesh port.
func (c *Clients) meshDialer(tmpl resolve.Endpoint, proto mtls.Proto) DialFunc {
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		ap, err := parseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		ep := tmpl
		ep.Addr = ap
		return c.Dial(ctx, ep, proto)
	}
}

// CloseIdleConnections closes every pool's idle connections.
func (c *Clients) CloseIdleConnections() {
	c.h1.CloseIdleConnections()
	c.h2c.CloseIdleConnections()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.meshH2 {
		t.CloseIdleConnections()
	}
	for _, t := range c.meshH1 {
		t.CloseIdleConnections()
	}
}

// hasUpgrade reports whether h asks for an HTTP/1.1 protocol switch.
func hasUpgrade(h http.Header) bool {
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(textproto.TrimString(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func parseAddrPort(addr string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return ap, fmt.Errorf("upstream: endpoint address %q: %w", addr, err)
	}
	return ap, nil
}
