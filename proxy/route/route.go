package route

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/fault"
	"github.com/meshlite/meshlite/proxy/retry"
)

// Route is a compiled HTTP route. It is immutable and safe for concurrent
// use. A route with several matches is compiled into one Route per match
// (same Name), each knowing the path prefix its match rewrites.
type Route struct {
	name string
	backendSet
	timeout time.Duration
	retry   *retry.Policy
	fault   *fault.Fault
	reqOps  headerOps
	respOps headerOps

	rewriteURI       string
	rewriteAuthority string
	matchedPrefix    string // the prefix the match's path condition asks
	prefixRewrite    bool   // the match's path condition is a prefix
}

// Backend is where a route sends requests.
type Backend struct {
	// Service is "name.namespace" of another service; "" for this one.
	Service string
	// Port of that service; 0 for the port the request was for.
	Port uint16
	// Subset of the service's endpoints; "" for all.
	Subset string
	// Weight relative to the route's other backends.
	Weight uint32
}

// Name identifies the route in metrics and logs.
func (r *Route) Name() string { return r.name }

// Timeout bounds the whole request, retries included; 0 means none.
func (r *Route) Timeout() time.Duration { return r.timeout }

// Retry is the route's retry policy (retry.Default when it has none).
func (r *Route) Retry() *retry.Policy { return r.retry }

// Fault is the route's fault injection; nil (which injects nothing) when
// it has none.
func (r *Route) Fault() *fault.Fault { return r.fault }

func (t *Table) compileRoute(hr *destinationv1.HTTPRoute) (*Route, error) {
	rt := &Route{name: hr.GetName(), timeout: hr.GetTimeout().AsDuration()}
	if rt.timeout < 0 {
		return nil, fmt.Errorf("negative timeout %v", rt.timeout)
	}
	var err error
	if rt.backendSet, err = t.compileBackends(hr.GetBackends()); err != nil {
		return nil, err
	}
	if rt.retry, err = retry.Compile(hr.GetRetry()); err != nil {
		return nil, err
	}
	for _, tok := range rt.retry.Unsupported() {
		t.warn("route %q: retry condition %q is not supported; ignored", hr.GetName(), tok)
	}
	if rt.fault, err = fault.Compile(hr.GetFault()); err != nil {
		return nil, err
	}
	if u := hr.GetRewrite().GetUri(); u != "" {
		if !strings.HasPrefix(u, "/") {
			return nil, fmt.Errorf("rewrite uri %q does not start with /", u)
		}
		if _, err := url.PathUnescape(u); err != nil {
			return nil, fmt.Errorf("rewrite uri %q: %w", u, err)
		}
		rt.rewriteURI = u
	}
	rt.rewriteAuthority = hr.GetRewrite().GetAuthority()
	rt.reqOps = t.compileOps(hr.GetName(), hr.GetRequestHeaders())
	rt.respOps = t.compileOps(hr.GetName(), hr.GetResponseHeaders())
	return rt, nil
}

// ApplyRequest changes r as the route says, before it is forwarded:
// header removals, sets and adds, then the authority and path rewrites.
func (r *Route) ApplyRequest(req *http.Request) {
	r.reqOps.apply(req.Header)
	if r.rewriteAuthority != "" {
		req.Host = r.rewriteAuthority
	}
	if r.rewriteURI == "" {
		return
	}
	p := r.rewriteURI
	if r.prefixRewrite {
		old := req.URL.EscapedPath()
		if !strings.HasPrefix(old, r.matchedPrefix) {
			return // changed since Match: nothing to replace
		}
		p += old[len(r.matchedPrefix):]
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return // the rewrite is valid; the rest of the path came escaped correctly
	}
	req.URL.Path, req.URL.RawPath = dec, ""
	if req.URL.EscapedPath() != p {
		req.URL.RawPath = p
	}
	req.RequestURI = ""
}

// ApplyResponse changes the response headers as the route says: removals,
// sets, then adds.
func (r *Route) ApplyResponse(h http.Header) { r.respOps.apply(h) }

// headerOps are a route's header changes, with canonical names.
type headerOps struct {
	remove []string
	set    []kv
	add    []kv
}

type kv struct{ k, v string }

func (o headerOps) apply(h http.Header) {
	if h == nil {
		return
	}
	for _, k := range o.remove {
		delete(h, k)
	}
	for _, p := range o.set {
		h[p.k] = []string{p.v}
	}
	for _, p := range o.add {
		h[p.k] = append(h[p.k], p.v)
	}
}

// compileOps canonicalizes and sorts header operations; operations on
// Host and pseudo-headers are ignored with a warning.
func (t *Table) compileOps(route string, ops *destinationv1.HeaderOps) headerOps {
	var o headerOps
	ok := func(name string) (string, bool) {
		if name == "" || strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
			t.warn("route %q: header operation on %q ignored (use the authority rewrite)", route, name)
			return "", false
		}
		return textproto.CanonicalMIMEHeaderKey(name), true
	}
	for _, name := range ops.GetRemove() {
		if k, good := ok(name); good {
			o.remove = append(o.remove, k)
		}
	}
	pairs := func(m map[string]string) []kv {
		var out []kv
		for name, v := range m {
			if k, good := ok(name); good {
				out = append(out, kv{k, v})
			}
		}
		slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		return out
	}
	o.set, o.add = pairs(ops.GetSet()), pairs(ops.GetAdd())
	return o
}

// backendSet is a weighted choice of backends.
type backendSet struct {
	backends []Backend
	cum      []uint64 // cumulative weights
}

func (s *backendSet) weigh() {
	if len(s.backends) < 2 {
		return
	}
	var total uint64
	for _, b := range s.backends {
		total += uint64(b.Weight)
	}
	s.cum = make([]uint64, len(s.backends))
	var c uint64
	for i, b := range s.backends {
		if total == 0 {
			c++ // all unweighted: equal shares
		} else {
			c += uint64(b.Weight)
		}
		s.cum[i] = c
	}
}

// Backends lists the route's backends. Do not modify.
func (s *backendSet) Backends() []Backend { return s.backends }

// PickBackend chooses a backend by weight; the zero Backend (the service
// itself) when there is none. src is the randomness (nil: the runtime's
// generator; an injected one is used without a lock).
func (s *backendSet) PickBackend(src rand.Source) Backend {
	switch len(s.backends) {
	case 0:
		return Backend{}
	case 1:
		return s.backends[0]
	}
	var x uint64
	if src == nil {
		x = rand.Uint64()
	} else {
		x = src.Uint64()
	}
	v, _ := bits.Mul64(x, s.cum[len(s.cum)-1]) // uniform in [0, total)
	for i, c := range s.cum {
		if v < c {
			return s.backends[i]
		}
	}
	return s.backends[len(s.backends)-1]
}
