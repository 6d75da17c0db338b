package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// HTTP1Config configures an HTTP/1.1 GET target.
type HTTP1Config struct {
	// URL is the http:// URL to GET. Required.
	URL string
	// Header holds extra request headers. A "Host" entry replaces the Host
	// header, which defaults to the URL's host. Default: none.
	Header http.Header
	// Conns is the number of keep-alive connections, each carrying one request
	// at a time. Default 1.
	Conns int
	// Churn opens a new connection for every request and asks the server to
	// close it ("Connection: close"), so the TCP handshake is inside each
	// latency. Nothing is dialed up front; Conns bounds the concurrency.
	// Default false: keep-alive connections opened by NewHTTP1.
	Churn bool
	// DialTimeout bounds each dial. Default 5s.
	DialTimeout time.Duration
}

// HTTP1 is a minimal HTTP/1.1 client target: it writes a precomputed GET and
// parses just the status line, framing headers and body (Content-Length,
// chunked, or until close), so the generator stays cheap. A non-2xx status is
// a *StatusError; the connection stays in use. Any other error closes the
// connection, and the next request on it redials.
type HTTP1 struct {
	cfg   HTTP1Config
	req   []byte
	d     *dialer
	conns []*persistentConn
}

var _ Target = (*HTTP1)(nil)

// NewHTTP1 opens cfg.Conns keep-alive connections to cfg.URL (none if
// cfg.Churn) and returns the target. Close it when done.
func NewHTTP1(ctx context.Context, cfg HTTP1Config) (*HTTP1, error) {
	cfg.Conns = max(cfg.Conns, 1)
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: http1: url: %w", ErrConfig, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: http1: url %q: want http://host[:port]/path", ErrConfig, cfg.URL)
	}
	t := &HTTP1{cfg: cfg, req: buildRequest(u, cfg.Header, cfg.Churn), d: newDialer(hostPort(u), cfg.DialTimeout)}
	if cfg.Churn {
		return t, nil
	}
	t.conns = make([]*persistentConn, cfg.Conns)
	for i := range t.conns {
		t.conns[i] = &persistentConn{d: t.d}
	}
	if err := openAll(ctx, t.conns); err != nil {
		return nil, fmt.Errorf("loadgen: http1: %w", err)
	}
	return t, nil
}

// hostPort returns u's host with the default port 80 added if missing.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// buildRequest renders the GET request once, headers in sorted order.
func buildRequest(u *url.URL, h http.Header, closeConn bool) []byte {
	var b bytes.Buffer
	host := u.Host
	if v := h.Get("Host"); v != "" {
		host = v
	}
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), host)
	names := make([]string, 0, len(h))
	for name := range h {
		if !strings.EqualFold(name, "Host") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	hasUA := false
	for _, name := range names {
		hasUA = hasUA || strings.EqualFold(name, "User-Agent")
		for _, v := range h[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	if !hasUA {
		b.WriteString("User-Agent: meshlite-loadgen\r\n")
	}
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// String describes the target.
func (t *HTTP1) String() string {
	if t.cfg.Churn {
		return "http1-churn " + t.cfg.URL
	}
	return "http1 " + t.cfg.URL
}

// Capacity returns (Conns, 1).
func (t *HTTP1) Capacity() (conns, streams int) { return t.cfg.Conns, 1 }

// Do sends one GET on connection conn and reads the whole response.
func (t *HTTP1) Do(ctx context.Context, conn int) error {
	if t.cfg.Churn {
		return t.doChurn(ctx)
	}
	p := t.conns[conn]
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.open(ctx); err != nil {
		return fmt.Errorf("loadgen: http1: %w", err)
	}
	code, closeConn, err := roundTrip(p.nc, p.br, t.req)
	if err != nil || closeConn {
		p.drop()
	}
	if err != nil {
		return fmt.Errorf("loadgen: http1: %w", err)
	}
	return checkStatus(code)
}

// doChurn runs one request on a connection of its own.
func (t *HTTP1) doChurn(ctx context.Context) error {
	nc, err := t.d.dial(ctx)
	if err != nil {
		return fmt.Errorf("loadgen: http1: %w", err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(pastDeadline) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	code, _, err := roundTrip(nc, bufio.NewReaderSize(nc, 4<<10), t.req)
	if err != nil {
		return fmt.Errorf("loadgen: http1: %w", err)
	}
	return checkStatus(code)
}

// Close closes every connection.
func (t *HTTP1) Close() error { return closeAll(t.conns) }

// roundTrip writes req and reads one response from br.
func roundTrip(nc net.Conn, br *bufio.Reader, req []byte) (code int, closeConn bool, err error) {
	if _, err := nc.Write(req); err != nil {
		return 0, true, fmt.Errorf("write: %w", err)
	}
	return readResponse(br)
}

// checkStatus maps a non-2xx code to a *StatusError.
func checkStatus(code int) error {
	if code < 200 || code > 299 {
		return &StatusError{Code: code}
	}
	return nil
}
