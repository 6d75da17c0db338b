package forward

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/meshlite/meshlite/proxy/endpoints"
	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/pool"
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

// Targets are the services known to the destination service, with their
// routes, balancers and pools.
type Targets interface {
	// Target returns dst's service, or nil when it has none (dst is then
	// forwarded to as it is).
	Target(ctx context.Context, dst netip.AddrPort) (*endpoints.Target, error)
	// Named returns a service by name ("name.namespace") on a port.
	Named(ctx context.Context, service string, port uint16) (*endpoints.Target, error)
}

// Forwarder is an http.Handler that forwards each request to an endpoint
// of the connection's original destination: through the service's routes
// when Targets knows it, else to what Resolver picks.
type Forwarder struct {
	// Resolver picks the endpoint when there is no Target.
	Resolver resolve.Resolver
	// Targets, when set, knows services' routes (outbound).
	Targets Targets
	// Upstream connects to endpoints.
	Upstream Upstream
	Log      zerolog.Logger
	// OnOverflow, when set, counts a request refused because a
	// connection-pool limit (named) was reached.
	OnOverflow func(limit string)
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
	var tgt *endpoints.Target
	if f.Targets != nil {
		var err error
		if tgt, err = f.Targets.Target(ctx, info.OrigDst); err != nil {
			f.fail(w, r, http.StatusServiceUnavailable, "discovery: "+err.Error())
			return
		}
	}
	p := f.plan(r, info, tgt)
	if p.abort(w, r, f) {
		return
	}
	if r.Method == http.MethodConnect && r.ProtoMajor == 1 {
		ep, release, err := p.pick(ctx, nil)
		if err != nil {
			f.failErr(w, r, err)
			return
		}
		defer release()
		var outcome resolve.Outcome
		defer func() { ep.Finish(outcome) }()
		f.tunnel(w, r, ep)
		return
	}
	f.exchange(w, r, p)
}

// exchange sends r, retrying as the plan allows, and streams the response.
func (f *Forwarder) exchange(w http.ResponseWriter, r *http.Request, p *plan) {
	ctx, cancel := p.deadline(r.Context())
	defer cancel()
	body := p.body(r)
	defer body.Close()
	hop := conninfo.HopFrom(ctx)
	var tried []netip.AddrPort
	for attempt := 0; ; attempt++ {
		ep, release, err := p.pick(ctx, tried)
		if err != nil {
			f.failErr(w, r, err)
			return
		}
		if hop != nil {
			hop.Endpoint, hop.TLS, hop.ServerID, hop.Retries = ep.Addr, ep.Meshed(), ep.Identity, attempt
		}
		out, upgrade := outgoing(ctx, r, ep.Addr)
		out.Body = body.attempt(out.Body)
		resp, outcome, err := f.roundTrip(ctx, p, out, ep)
		if p.again(attempt, r, resp, err, body) {
			tried = append(tried, ep.Addr)
			if resp != nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // the connection may be reused
				resp.Body.Close()
			}
			ep.Finish(outcome)
			release()
			if !sleep(ctx, p.backoff(attempt)) {
				f.fail(w, r, http.StatusGatewayTimeout, "timed out between retries")
				return
			}
			continue
		}
		f.respond(w, r, p, resp, err, upgrade, ctx)
		ep.Finish(outcome)
		release()
		return
	}
}

// roundTrip sends one attempt. The plan's per-try timeout bounds the wait
// for the response headers; once they are in, the attempt is committed
// and the body streams under the request's own deadline.
func (f *Forwarder) roundTrip(ctx context.Context, p *plan, out *http.Request, ep resolve.Endpoint) (*http.Response, resolve.Outcome, error) {
	rt, err := f.Upstream.Prepare(out, ep)
	if err != nil {
		return nil, resolve.Outcome{Err: err}, err
	}
	var timer *time.Timer
	var cancel context.CancelFunc = func() {}
	if d := p.perTry(); d > 0 {
		var actx context.Context
		actx, cancel = context.WithCancel(ctx)
		out = out.WithContext(actx)
		timer = time.AfterFunc(d, cancel)
	}
	start := time.Now()
	resp, err := rt.RoundTrip(out)
	outcome := resolve.Outcome{Latency: time.Since(start), Err: err}
	if timer != nil && !timer.Stop() && err != nil {
		err = fmt.Errorf("%w after %v", errPerTryTimeout, p.perTry())
		outcome.Err = err
	}
	if err != nil {
		cancel()
		return nil, outcome, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	outcome.Status, outcome.Failure = resp.StatusCode, resp.StatusCode >= 500
	return resp, outcome, nil
}

// errPerTryTimeout marks an attempt whose headers did not come in time.
var errPerTryTimeout = errors.New("per-try timeout")

// cancelOnClose releases an attempt's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Write passes writes through for upgraded connections.
func (c *cancelOnClose) Write(p []byte) (int, error) {
	if w, ok := c.ReadCloser.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errors.New("forward: body is not writable")
}

// respond answers the client with resp, or with the error.
func (f *Forwarder) respond(w http.ResponseWriter, r *http.Request, p *plan, resp *http.Response, err error, upgrade string, ctx context.Context) {
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away; nobody to answer
		}
		if ctx.Err() != nil {
			f.fail(w, r, http.StatusGatewayTimeout, "route timeout")
			return
		}
		if se := (http2.StreamError{}); errors.As(err, &se) && se.Code != http2.ErrCodeRefusedStream {
			// The endpoint reset the stream, maybe after acting on it:
			// reset the client's too rather than answer with a status
			// (gRPC UNAVAILABLE) that clients take as safe to retry.
			f.Log.Debug().Err(err).Msg("upstream reset the stream; resetting the client's")
			panic(http.ErrAbortHandler)
		}
		f.failErr(w, r, err)
		return
	}
	p.applyResponse(resp.Header)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		f.switchProtocols(w, resp, upgrade)
		return
	}
	defer resp.Body.Close()
	f.copyResponse(w, resp)
}

// failErr answers a request that could not be forwarded because of err.
func (f *Forwarder) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var ov *pool.OverflowError
	switch {
	case errors.As(err, &ov):
		if f.OnOverflow != nil {
			f.OnOverflow(ov.Limit)
		}
		w.Header().Set(OverflowHeader, ov.Limit)
		f.fail(w, r, http.StatusServiceUnavailable, "connection pool overflow: "+ov.Limit)
	case errors.Is(err, endpoints.ErrNoEndpoints), errors.Is(err, mtls.ErrNoIdentity):
		f.fail(w, r, http.StatusServiceUnavailable, err.Error())
	default:
		status, reason := classifyErr(err)
		f.fail(w, r, status, reason)
	}
}

// OverflowHeader names the connection-pool limit that made the proxy
// refuse a request with 503.
const OverflowHeader = "Meshlite-Overflow"

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
