package forward

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/endpoints"
	"github.com/meshlite/meshlite/proxy/pool"
	"github.com/meshlite/meshlite/proxy/resolve"
	"github.com/meshlite/meshlite/proxy/retry"
	"github.com/meshlite/meshlite/proxy/route"
)

// plan is how one request is to be forwarded: to which service and route,
// with which fault, timeout and retries.
type plan struct {
	f      *Forwarder
	info   *conninfo.Info
	tgt    *endpoints.Target // nil: no service known, to what Resolver picks
	route  *route.Route      // nil: the service itself
	policy *retry.Policy
	budget *retry.Budget // nil: no retries
	proto  pool.Proto
	// delay and abort come from the route's fault injection.
	delay     time.Duration
	abortHTTP int
	abortGRPC int
}

// plan matches r against the service's routes and decides its fault.
func (f *Forwarder) plan(r *http.Request, info *conninfo.Info, tgt *endpoints.Target) *plan {
	p := &plan{f: f, info: info, tgt: tgt, policy: retry.None, proto: pool.HTTP1}
	if r.ProtoMajor == 2 {
		p.proto = pool.HTTP2
	}
	if tgt == nil {
		return p
	}
	p.budget = tgt.Budget()
	p.budget.Deposit()
	p.policy = retry.Default
	if p.route = tgt.Routes().Match(r, info.OrigDst.Port()); p.route != nil {
		p.policy = p.route.Retry()
		p.delay, p.abortHTTP, p.abortGRPC = p.route.Fault().Decide(nil)
		p.route.ApplyRequest(r)
		if hop := conninfo.HopFrom(r.Context()); hop != nil {
			hop.Route = p.route.Name()
		}
	}
	if r.Method == http.MethodConnect || upgradeType(r.Header) != "" {
		p.budget = nil // a tunnel cannot be replayed
	}
	return p
}

// abort applies the fault's delay and abort; it reports whether the
// request was answered.
func (p *plan) abort(w http.ResponseWriter, r *http.Request, f *Forwarder) bool {
	if p.delay > 0 && !sleep(r.Context(), p.delay) {
		return true // the client went away while delayed
	}
	if p.abortHTTP == 0 && p.abortGRPC == 0 {
		return false
	}
	w.Header().Set(ErrorHeader, "fault injected")
	if p.abortGRPC != 0 && isGRPC(r) {
		h := w.Header()
		h.Set("Content-Type", "application/grpc")
		h.Set("Grpc-Status", itoa(p.abortGRPC))
		h.Set("Grpc-Message", "fault injected")
		w.WriteHeader(http.StatusOK)
		return true
	}
	status := p.abortHTTP
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, "fault injected\n") //nolint:errcheck // best effort
	return true
}

// deadline applies the route's timeout over all attempts.
func (p *plan) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.route != nil && p.route.Timeout() > 0 {
		return context.WithTimeout(ctx, p.route.Timeout())
	}
	return ctx, func() {}
}

// perTry bounds one attempt's wait for response headers; 0 for none.
func (p *plan) perTry() time.Duration {
	if p.budget == nil {
		return 0
	}
	return p.policy.PerTryTimeout()
}

// pick chooses the backend and endpoint for an attempt and takes a slot of
// its connection pool; release must be called when the attempt is over.
// tried are the endpoints of the earlier attempts, avoided when the
// backend has others.
func (p *plan) pick(ctx context.Context, tried []netip.AddrPort) (resolve.Endpoint, func(), error) {
	noop := func() {}
	if p.tgt == nil {
		ep, err := p.f.Resolver.Resolve(ctx, p.info.OrigDst)
		return ep, noop, err
	}
	var b route.Backend
	if p.route != nil {
		b = p.route.PickBackend(nil)
	}
	tgt := p.tgt
	if b.Service != "" {
		port := b.Port
		if port == 0 {
			port = p.info.OrigDst.Port()
		}
		named, err := p.f.Targets.Named(ctx, b.Service, port)
		if err != nil {
			return resolve.Endpoint{}, noop, err
		}
		if named == nil {
			return resolve.Endpoint{}, noop, &noServiceError{service: b.Service}
		}
		tgt = named
	}
	ep, err := tgt.Pick(ctx, b.Subset, tried...)
	if err != nil {
		return ep, noop, err
	}
	proto := p.proto
	if ep.Meshed() && proto == pool.HTTP1 {
		proto = pool.HTTP2 // HTTP/1 rides multiplexed HTTP/2 between proxies
	}
	release, err := tgt.Acquire(ctx, b.Subset, proto)
	if err != nil {
		ep.Finish(resolve.Outcome{})
		return resolve.Endpoint{}, noop, err
	}
	return ep, release, nil
}

// again reports whether the attempt (0 for the first) should be tried
// again, drawing on the retry budget.
func (p *plan) again(attempt int, r *http.Request, resp *http.Response, err error, body *replayBody) bool {
	if p.budget == nil || !body.replayable() {
		return false
	}
	return p.policy.ShouldRetry(attempt+1, r, resp, err) && p.budget.Withdraw()
}

// backoff is the jittered wait before retrying after attempt.
func (p *plan) backoff(attempt int) time.Duration { return retry.Backoff(attempt+1, nil) }

// applyResponse edits the response headers as the route says.
func (p *plan) applyResponse(h http.Header) {
	if p.route != nil {
		p.route.ApplyResponse(h)
	}
}

// body wraps r's body so it can be sent again on a retry.
func (p *plan) body(r *http.Request) *replayBody {
	if p.budget == nil || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return &replayBody{}
	}
	return &replayBody{rb: retry.NewReplayableBody(r.Body, retry.DefaultMaxBody)}
}

// replayBody hands each attempt the request body from the start, while it
// fits the replay buffer.
type replayBody struct {
	rb *retry.ReplayableBody // nil: the body passes through unchanged
}

func (b *replayBody) attempt(orig io.ReadCloser) io.ReadCloser {
	if b.rb == nil || orig == nil {
		return orig
	}
	rc, ok := b.rb.Attempt()
	if !ok {
		return orig
	}
	return rc
}

func (b *replayBody) replayable() bool { return b.rb == nil || b.rb.Replayable() }

// Close closes the original body.
func (b *replayBody) Close() error {
	if b.rb == nil {
		return nil
	}
	return b.rb.Close()
}

// noServiceError says a route's backend service is unknown.
type noServiceError struct{ service string }

func (e *noServiceError) Error() string { return "route backend service " + e.service + " is unknown" }
func (e *noServiceError) Unwrap() error { return endpoints.ErrNoEndpoints }

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func itoa(n int) string {
	if n < 0 || n > 999 {
		return "2"
	}
	b := []byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	return string(b)
}
