package forward

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/http2"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/relay"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// ErrorHeader names the header on responses that the proxy generated
// itself, carrying the reason.
const ErrorHeader = "Meshlite-Proxy-Error"

// Upstream connects to endpoints.
type Upstream interface {
	// Prepare returns the client that carries r to ep; it may adjust r's
	// headers for the hop.
	Prepare(r *http.Request, ep resolve.Endpoint) (http.RoundTripper, error)
	// Dial opens a byte stream to ep (for CONNECT tunnels).
	Dial(ctx context.Context, ep resolve.Endpoint, proto mtls.Proto) (net.Conn, error)
}

// Forwarder is an http.Handler that forwards each request to the endpoint
// its Resolver picks for the connection's original destination.
type Forwarder struct {
	// Resolver picks the endpoint.
	Resolver resolve.Resolver
	// Upstream connects to it.
	Upstream Upstream
	Log      zerolog.Logger
}

var _ http.Handler = (*Forwarder)(nil)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ServeHTTP forwards r and streams the response to w.
func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	info := conninfo.From(ctx)
	if info == nil {
		f.fail(w, r, http.StatusInternalServerError, "no connection info")
		return
	}
	ep, err := f.Resolver.Resolve(ctx, info.OrigDst)
	if err != nil {
		f.fail(w, r, http.StatusServiceUnavailable, "resolve: "+err.Error())
		return
	}
	if hop := conninfo.HopFrom(ctx); hop != nil {
		hop.Endpoint, hop.TLS, hop.ServerID = ep.Addr, ep.Meshed(), ep.Identity
	}
	// The balancer learns how the request went once it has ended; a
	// panic (a reset) ends it too.
	var outcome resolve.Outcome
	defer func() { ep.Finish(outcome) }()
	if r.Method == http.MethodConnect && r.ProtoMajor == 1 {
		f.tunnel(w, r, ep)
		return
	}
	out, upgrade := outgoing(ctx, r, ep.Addr)
	rt, err := f.Upstream.Prepare(out, ep)
	if err != nil {
		f.fail(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	start := time.Now()
	resp, err := rt.RoundTrip(out)
	outcome.Latency = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return // the client went away; nobody to answer
		}
		outcome.Err = err
		if se := (http2.StreamError{}); errors.As(err, &se) && se.Code != http2.ErrCodeRefusedStream {
			// The endpoint reset the stream, maybe after acting on it:
			// reset the client's too rather than answer with a status
			// (gRPC UNAVAILABLE) that clients take as safe to retry.
			f.Log.Debug().Err(err).Msg("upstream reset the stream; resetting the client's")
			panic(http.ErrAbortHandler)
		}
		status, reason := classifyErr(err)
		f.fail(w, r, status, reason)
		return
	}
	outcome.Failure = resp.StatusCode >= 500
	if resp.StatusCode == http.StatusSwitchingProtocols {
		f.switchProtocols(w, resp, upgrade)
		return
	}
	defer resp.Body.Close()
	f.copyResponse(w, resp)
}

// outgoing turns the server-side request into the client-side one, in
// place: the proxy owns r and nothing else reads it afterwards.
func outgoing(ctx context.Context, r *http.Request, addr netip.AddrPort) (*http.Request, string) {
	out := r.WithContext(ctx)
	upgrade := upgradeType(r.Header)
	removeHopHeaders(out.Header)
	if upgrade != "" && r.ProtoMajor == 1 {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", upgrade)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // the transports add none then
	}
	u := *r.URL
	u.Scheme = "http"
	u.Host = addr.String()
	out.URL = &u
	out.RequestURI = ""
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return out, upgrade
}

// copyResponse writes resp's head, body and trailers to w.
func (f *Forwarder) copyResponse(w http.ResponseWriter, resp *http.Response) {
	h := w.Header()
	removeHopHeaders(resp.Header)
	for k, vv := range resp.Header {
		h[k] = vv
	}
	var announced []string
	if len(resp.Trailer) > 0 {
		announced = make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			announced = append(announced, k)
		}
		h["Trailer"] = []string{strings.Join(announced, ", ")}
	}
	w.WriteHeader(resp.StatusCode)

	rc := http.NewResponseController(w)
	streaming := resp.ContentLength < 0
	if streaming {
		// The body may be long in coming (server-sent events, long polls,
		// gRPC streams that send their headers first): pass the head on
		// now, as the endpoint did.
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return // the client is gone; closing resp.Body cancels upstream
		}
	}
	bp := bufPool.Get().(*[]byte)
	err := copyBody(w, rc, resp.Body, *bp, streaming)
	bufPool.Put(bp)
	if err != nil {
		var werr writeError
		if errors.As(err, &werr) {
			return // the client is gone; closing resp.Body cancels upstream
		}
		f.Log.Debug().Err(err).Msg("upstream body ended abnormally; resetting client stream")
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		if slices.Contains(announced, k) {
			h[k] = vv
		} else {
			h[http.TrailerPrefix+k] = vv
		}
	}
}

type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

// copyBody copies src to w, flushing after every chunk when streaming so
// gRPC messages and server-sent events are not held back.
func copyBody(w io.Writer, rc *http.ResponseController, src io.Reader, buf []byte, streaming bool) error {
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return writeError{err}
			}
			if streaming {
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return writeError{err}
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// switchProtocols completes an HTTP/1.1 upgrade: it hands the client the
// 101 and then relays bytes both ways until either side closes.
func (f *Forwarder) switchProtocols(w http.ResponseWriter, resp *http.Response, upgrade string) {
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || upgrade == "" || !strings.EqualFold(upgradeType(resp.Header), upgrade) {
		resp.Body.Close()
		f.fail(w, nil, http.StatusBadGateway, "upstream switched protocols unexpectedly")
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		backend.Close()
		f.fail(w, nil, http.StatusInternalServerError, "upgrade: "+err.Error())
		return
	}
	removeHopHeaders(resp.Header)
	resp.Header.Set("Connection", "Upgrade")
	resp.Header.Set("Upgrade", upgrade)
	resp.Body = nil
	if err := resp.Write(brw); err != nil {
		conn.Close()
		backend.Close()
		return
	}
	if err := brw.Flush(); err != nil {
		conn.Close()
		backend.Close()
		return
	}
	// Bytes the client sent after its upgrade request may already have been
	// read by the server (into brw.Reader, or held by its background read
	// of the connection): read the client through brw.Reader, which hands
	// them over first.
	if _, err := relay.Relay(&hijackedConn{Conn: conn, r: brw.Reader}, backend); err != nil {
		f.Log.Debug().Err(err).Msg("upgraded connection ended with an error")
	}
}

// hijackedConn is a hijacked client connection read through the server's
// buffered reader.
type hijackedConn struct {
	net.Conn
	r io.Reader
}

func (c *hijackedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection where it can, so a half-close
// travels through the relay.
func (c *hijackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// fail answers a request the proxy could not forward.
func (f *Forwarder) fail(w http.ResponseWriter, r *http.Request, status int, reason string) {
	f.Log.Debug().Int("status", status).Str("reason", reason).Msg("proxy error")
	h := w.Header()
	reason = sanitize(reason)
	if r != nil && isGRPC(r) {
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", grpcStatusFor(status))
		h.Set("Grpc-Message", reason)
		h.Set(ErrorHeader, reason)
		w.WriteHeader(http.StatusOK)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set(ErrorHeader, reason)
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n") //nolint:errcheck // best effort
}

// grpcStatusFor maps the proxy's own failure to a gRPC status code.
func grpcStatusFor(status int) string {
	switch status {
	case http.StatusGatewayTimeout:
		return "4" // DEADLINE_EXCEEDED
	case http.StatusInternalServerError:
		return "13" // INTERNAL
	default:
		return "14" // UNAVAILABLE
	}
}

func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// classifyErr maps a RoundTrip error to the status the client gets.
func classifyErr(err error) (int, string) {
	var opErr *net.OpError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "upstream timed out: " + err.Error()
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return http.StatusBadGateway, "connect failed: " + opErr.Err.Error()
	default:
		return http.StatusBadGateway, "upstream failed: " + err.Error()
	}
}

// sanitize keeps a reason fit for a header value.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// hopHeaders are removed in both directions (RFC 9110 §7.6.1), plus the
// non-standard ones still seen in the wild.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Trailer",
}

// removeHopHeaders deletes hop-by-hop headers, the ones named in
// Connection, and TE unless it is exactly "trailers" (which gRPC needs).
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	if te, ok := h["Te"]; ok {
		if len(te) == 1 && strings.EqualFold(textproto.TrimString(te[0]), "trailers") {
			h["Te"] = []string{"trailers"}
		} else {
			delete(h, "Te")
		}
	}
}

// upgradeType returns the protocol an HTTP/1.1 message asks to switch to,
// or "".
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(textproto.TrimString(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}
