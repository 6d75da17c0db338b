//lint:file-ignore SA1019 meshlite speaks HTTP/2 through golang.org/x/net/http2 on purpose (README, docs/proxy.md).

package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// DialFunc opens a connection to an endpoint.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns a DialFunc with the given connect timeout and TCP
// keep-alives.
func Dialer(connectTimeout time.Duration) DialFunc {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return d.DialContext
}

// NewHTTP1Transport returns the client for HTTP/1 endpoints: connections
// pooled per endpoint, no environment proxy, no transparent compression, no
// HTTP/2 upgrade.
func NewHTTP1Transport(dial DialFunc) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		DisableCompression:     true,
		MaxIdleConns:           0,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		WriteBufferSize:        16 << 10,
		ReadBufferSize:         16 << 10,
	}
}

// NewH2CTransport returns the client for HTTP/2 endpoints spoken in clear
// text with prior knowledge, as the application spoke it. Connections are
// pooled per endpoint and checked with PINGs when idle.
func NewH2CTransport(dial DialFunc) *http2.Transport {
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return dial(ctx, network, addr)
		},
		DisableCompression: true,
		ReadIdleTimeout:    30 * time.Second,
		PingTimeout:        15 * time.Second,
		MaxHeaderListSize:  64 << 10,
	}
}
