package gopeer

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"time"
)

// ReverseProxy is an httputil.ReverseProxy that accepts HTTP/1.1 and h2c
// and forwards each request to its connection's Dest. Upstream it speaks
// h2c when H2CUpstream is set (between the pair), else h2c for gRPC and
// HTTP/1.1 with keep-alive for everything else (to the application).
type ReverseProxy struct {
	// Dest picks the upstream of each connection. Required.
	Dest Dest
	// H2CUpstream sends every request upstream over h2c (prior
	// knowledge). Default false.
	H2CUpstream bool
	// ErrorLog receives proxy errors. Default: discarded.
	ErrorLog *log.Logger
}

type destKey struct{}

// Serve serves ln until ctx ends, then closes the server and returns nil.
func (p *ReverseProxy) Serve(ctx context.Context, ln net.Listener) error {
	errLog := p.ErrorLog
	if errLog == nil {
		errLog = log.New(discard{}, "", 0)
	}
	h1 := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
	}
	var h2cOnly http.Protocols
	h2cOnly.SetUnencryptedHTTP2(true)
	h2c := &http.Transport{
		Protocols:          &h2cOnly,
		DisableCompression: true,
		IdleConnTimeout:    90 * time.Second,
		DialContext:        (&net.Dialer{Timeout: time.Second}).DialContext,
	}
	defer h1.CloseIdleConnections()
	defer h2c.CloseIdleConnections()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			dst, _ := r.In.Context().Value(destKey{}).(netip.AddrPort)
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = dst.String()
		},
		Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if p.H2CUpstream || strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				return h2c.RoundTrip(r)
			}
			return h1.RoundTrip(r)
		}),
		ErrorLog: errLog,
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           rp,
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			tc, ok := c.(*net.TCPConn)
			if !ok {
				return ctx
			}
			dst, err := p.Dest(tc)
			if err != nil {
				return ctx // the request then fails with 502
			}
			return context.WithValue(ctx, destKey{}, dst)
		},
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
