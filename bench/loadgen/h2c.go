//lint:file-ignore SA1019 meshlite speaks HTTP/2 through golang.org/x/net/http2 on purpose (README, docs/proxy.md).

package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http2"
)

// HTTP2Config configures an h2c (HTTP/2 over cleartext, prior knowledge) GET
// target.
type HTTP2Config struct {
	// URL is the http:// URL to GET. Required.
	URL string
	// Header holds extra request headers. Default: none.
	Header http.Header
	// Conns is the number of HTTP/2 connections. Default 1.
	Conns int
	// Streams is how many requests one connection carries at once. Default 1.
	Streams int
	// DialTimeout bounds each dial. Default 5s.
	DialTimeout time.Duration
}

// HTTP2 is an h2c target built on golang.org/x/net/http2: one Transport per
// connection, each pinned to a single connection (StrictMaxConcurrentStreams)
// that it redials if the server closes it. A non-2xx status is a
// *StatusError.
type HTTP2 struct {
	cfg HTTP2Config
	req *http.Request
	trs []*http2.Transport
}

var _ Target = (*HTTP2)(nil)

// NewHTTP2 opens cfg.Conns h2c connections to cfg.URL, each with one GET so
// that the connection and its SETTINGS exchange are done before measuring.
func NewHTTP2(ctx context.Context, cfg HTTP2Config) (*HTTP2, error) {
	cfg.Conns, cfg.Streams = max(cfg.Conns, 1), max(cfg.Streams, 1)
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: h2c: url: %w", ErrConfig, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: h2c: url %q: want http://host[:port]/path", ErrConfig, cfg.URL)
	}
	req, err := http.NewRequest(http.MethodGet, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: h2c: %w", ErrConfig, err)
	}
	for k, vs := range cfg.Header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if h := cfg.Header.Get("Host"); h != "" {
		req.Host = h
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "meshlite-loadgen")
	}
	d := newDialer(hostPort(u), cfg.DialTimeout)
	t := &HTTP2{cfg: cfg, req: req, trs: make([]*http2.Transport, cfg.Conns)}
	for i := range t.trs {
		t.trs[i] = &http2.Transport{
			AllowHTTP:                  true,
			StrictMaxConcurrentStreams: true,
			DialTLSContext: func(ctx context.Context, _, _ string, _ *tls.Config) (net.Conn, error) {
				return d.dial(ctx)
			},
		}
		// One request opens the connection; its status does not matter here.
		if err := t.get(ctx, i); err != nil && !isStatus(err) {
			_ = t.Close()
			return nil, fmt.Errorf("loadgen: h2c: connect: %w", err)
		}
	}
	return t, nil
}

// String describes the target.
func (t *HTTP2) String() string { return "h2c " + t.cfg.URL }

// Capacity returns (Conns, Streams).
func (t *HTTP2) Capacity() (conns, streams int) { return t.cfg.Conns, t.cfg.Streams }

// Do sends one GET on connection conn and reads the whole body.
func (t *HTTP2) Do(ctx context.Context, conn int) error {
	if err := t.get(ctx, conn); err != nil {
		if isStatus(err) {
			return err
		}
		return fmt.Errorf("loadgen: h2c: %w", err)
	}
	return nil
}

func (t *HTTP2) get(ctx context.Context, conn int) error {
	resp, err := t.trs[conn].RoundTrip(t.req.WithContext(ctx))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	return checkStatus(resp.StatusCode)
}

// Close closes every connection.
func (t *HTTP2) Close() error {
	for _, tr := range t.trs {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
	return nil
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}
