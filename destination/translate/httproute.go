package translate

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Gateway API limits (its CRD's).
const (
	maxRules       = 16
	maxMatches     = 64
	maxAllMatches  = 128
	maxBackendRefs = 16
	maxRouteWeight = 1000000
	// DefaultRouteRetries is the attempts of a retry without attempts
	// (implementation-specific in Gateway API; Istio's default).
	DefaultRouteRetries = 2
)

// compiledRoute is a checked HTTPRoute.
type compiledRoute struct {
	parents []routeParent
	entries []*routeEntry
	refs    []backendRef
}

// routeParent is a Service the route is attached to.
type routeParent struct {
	service string
	port    uint32
	field   string
}

// routeEntry is one match of one rule: Gateway API orders matches, not
// rules, so each becomes a route of its own (a PathPrefix match becomes
// two: the path itself, and the path followed by /).
type routeEntry struct {
	route       *destinationv1.HTTPRoute
	rank        matchRank
	rule, match int
}

func (r *HTTPRoute) compile(o Options) Problems {
	c := &checker{}
	r.c = nil
	s := r.Spec
	if s == nil {
		c.bad("spec", "required")
		return c.probs
	}
	out := &compiledRoute{}
	if len(s.Hostnames) > 0 {
		c.warn("spec.hostnames", "ignored: routes attached to a Service apply to all its traffic (GAMMA); match the Host header instead")
	}
	if s.UseDefaultGateways != "" {
		c.unsupported("spec.useDefaultGateways", "meshlite attaches routes to Services, not Gateways")
	}
	if len(s.ParentRefs) == 0 {
		c.warn("spec.parentRefs", "the route is attached to no Service: it has no effect")
	}
	for i, p := range s.ParentRefs {
		if rp, ok := c.parentRef(index("spec.parentRefs", i), r.Namespace, p); ok {
			out.parents = append(out.parents, rp)
		}
	}
	rules := s.Rules
	if len(rules) == 0 {
		rules = []gatewayv1.HTTPRouteRule{{}} // the CRD's default: one rule matching every path
	}
	if len(rules) > maxRules {
		c.bad("spec.rules", "%d rules, at most %d", len(rules), maxRules)
	}
	matches := 0
	for i := range rules {
		rule := &rules[i]
		f := index("spec.rules", i)
		name := strconv.Itoa(i)
		if rule.Name != nil {
			name = string(*rule.Name)
		}
		matches += len(rule.Matches)
		out.entries = append(out.entries, c.routeRule(f, routeName(&r.Source, name), r.Namespace, i, rule, &out.refs)...)
	}
	if matches > maxAllMatches {
		c.bad("spec.rules", "%d matches in all, at most %d", matches, maxAllMatches)
	}
	if !c.failed() {
		r.c = out
	}
	return c.probs
}

func (c *checker) parentRef(f, ns string, p gatewayv1.ParentReference) (routeParent, bool) {
	group, kind := "gateway.networking.k8s.io", "Gateway" // the CRD's defaults
	if p.Group != nil {
		group = string(*p.Group)
	}
	if p.Kind != nil {
		kind = string(*p.Kind)
	}
	if (group != "" && group != "core") || kind != "Service" {
		c.unsupported(f, fmt.Sprintf("parent %s %q (group %q): meshlite attaches routes to Services (group \"\", kind Service), as GAMMA does; it has no Gateways", kind, p.Name, group))
		return routeParent{}, false
	}
	if p.Namespace != nil && string(*p.Namespace) != ns {
		c.unsupported(field(f, "namespace"), fmt.Sprintf("%q: consumer routes (a parent in another namespace) are not supported; put the HTTPRoute in the Service's namespace", *p.Namespace))
		return routeParent{}, false
	}
	if p.SectionName != nil {
		c.unsupported(field(f, "sectionName"), "name the Service port with port")
	}
	if !dnsLabelRE.MatchString(string(p.Name)) {
		c.bad(field(f, "name"), "%q is not a Service name", p.Name)
		return routeParent{}, false
	}
	rp := routeParent{service: string(p.Name) + "." + ns, field: f}
	if p.Port != nil {
		c.checkPort(field(f, "port"), uint32(*p.Port))
		rp.port = uint32(*p.Port)
	}
	return rp, true
}

// routeRule translates one rule into its entries.
func (c *checker) routeRule(f, name, ns string, ri int, rule *gatewayv1.HTTPRouteRule, refs *[]backendRef) []*routeEntry {
	if rule.SessionPersistence != nil {
		c.unsupported(field(f, "sessionPersistence"), "")
	}
	base := &destinationv1.HTTPRoute{Name: name}
	rewrite := c.routeFilters(field(f, "filters"), rule.Filters, base)
	c.backendRefs(field(f, "backendRefs"), ns, rule.BackendRefs, base, refs)
	if t := rule.Timeouts; t != nil {
		tf := field(f, "timeouts")
		req := c.gepDuration(field(tf, "request"), t.Request)
		back := c.gepDuration(field(tf, "backendRequest"), t.BackendRequest)
		if req > 0 {
			base.Timeout = durationpb.New(req)
		}
		if back > 0 {
			if req > 0 && back > req {
				c.bad(field(tf, "backendRequest"), "%v is longer than the request timeout %v", back, req)
			}
			base.Retry = &destinationv1.Retry{PerTryTimeout: durationpb.New(back)}
		}
	}
	if r := rule.Retry; r != nil {
		c.routeRetry(field(f, "retry"), r, base)
	}
	ms := rule.Matches
	if len(ms) == 0 {
		ms = []gatewayv1.HTTPRouteMatch{{}} // the CRD's default: PathPrefix /
	}
	if rewrite != nil && rewrite.path != nil && rewrite.path.Type == gatewayv1.PrefixMatchHTTPPathModifier &&
		(len(ms) != 1 || (ms[0].Path != nil && ms[0].Path.Type != nil && *ms[0].Path.Type != gatewayv1.PathMatchPathPrefix)) {
		c.bad(field(f, "filters"), "a URLRewrite with ReplacePrefixMatch needs exactly one PathPrefix match")
		rewrite = nil
	}
	if len(ms) > maxMatches {
		c.bad(field(f, "matches"), "%d matches, at most %d", len(ms), maxMatches)
	}
	var out []*routeEntry
	for mi := range ms {
		variants, rank := c.routeMatch(index(field(f, "matches"), mi), &ms[mi])
		for _, v := range variants {
			rt := cloneRoute(base)
			rt.Matches = []*destinationv1.HTTPMatch{v.match}
			if rewrite != nil {
				rt.Rewrite = c.applyRewrite(field(f, "filters"), rewrite, v)
			}
			out = append(out, &routeEntry{route: rt, rank: rank, rule: ri, match: mi})
		}
	}
	return out
}

// routeRetry translates a retry: attempts (default 2) on the listed
// status codes (default: Istio's retryOn default).
func (c *checker) routeRetry(f string, r *gatewayv1.HTTPRouteRetry, rt *destinationv1.HTTPRoute) {
	if r.Backoff != nil {
		c.unsupported(field(f, "backoff"), "")
	}
	if rt.Retry == nil {
		rt.Retry = &destinationv1.Retry{}
	}
	rt.Retry.Attempts = DefaultRouteRetries
	if r.Attempts != nil {
		if *r.Attempts < 1 {
			c.bad(field(f, "attempts"), "%d is below 1", *r.Attempts)
		}
		rt.Retry.Attempts = uint32(max(*r.Attempts, 0))
	}
	for i, code := range r.Codes {
		if code < 400 || code > 599 {
			c.bad(index(field(f, "codes"), i), "%d is not in 400-599", code)
		}
		rt.Retry.RetryOn = append(rt.Retry.RetryOn, strconv.Itoa(int(code)))
	}
	if len(r.Codes) == 0 {
		rt.Retry.RetryOn = append(rt.Retry.RetryOn, DefaultRetryOn...)
	}
}

func (c *checker) backendRefs(f, ns string, refs []gatewayv1.HTTPBackendRef, rt *destinationv1.HTTPRoute, out *[]backendRef) {
	if len(refs) > maxBackendRefs {
		c.bad(f, "%d backendRefs, at most %d", len(refs), maxBackendRefs)
	}
	var total int64
	for i, b := range refs {
		bf := index(f, i)
		if len(b.Filters) > 0 {
			c.unsupported(field(bf, "filters"), "filters per backend; set them on the rule")
		}
		w := int32(1)
		if b.Weight != nil {
			w = *b.Weight
			if w < 0 || w > maxRouteWeight {
				c.bad(field(bf, "weight"), "%d is not in 0-%d", w, maxRouteWeight)
				continue
			}
		}
		total += int64(w)
		group, kind := "", "Service"
		if b.Group != nil {
			group = string(*b.Group)
		}
		if b.Kind != nil {
			kind = string(*b.Kind)
		}
		if (group != "" && group != "core") || kind != "Service" {
			c.unsupported(bf, fmt.Sprintf("backend %s %q (group %q): only Services are", kind, b.Name, group))
			continue
		}
		if b.Namespace != nil && string(*b.Namespace) != ns {
			c.unsupported(field(bf, "namespace"), fmt.Sprintf("%q: a backend in another namespace needs a ReferenceGrant, which meshlite does not read", *b.Namespace))
			continue
		}
		if !dnsLabelRE.MatchString(string(b.Name)) {
			c.bad(field(bf, "name"), "%q is not a Service name", b.Name)
			continue
		}
		if b.Port == nil {
			c.bad(field(bf, "port"), "required for a Service backend")
			continue
		}
		c.checkPort(field(bf, "port"), uint32(*b.Port))
		svc := string(b.Name) + "." + ns
		rt.Backends = append(rt.Backends, &destinationv1.Backend{Service: svc, Port: uint32(*b.Port), Weight: uint32(w)})
		*out = append(*out, backendRef{service: svc, field: bf})
	}
	if len(refs) == 0 || total == 0 {
		// Gateway API: a rule whose backends are all invalid, or weigh
		// 0, answers 500.
		rt.Backends = nil
		rt.Fault = &destinationv1.Fault{Abort: &destinationv1.Fault_Abort{HttpStatus: 500, Percentage: 100}}
		if len(refs) > 0 {
			c.warn(f, "every backend weighs 0: requests get 500")
		}
	}
}

// gepDurationRE is GEP-2257's duration syntax.
var gepDurationRE = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// gepDuration parses a Gateway API duration; 0 for none.
func (c *checker) gepDuration(f string, d *gatewayv1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	s := string(*d)
	if !gepDurationRE.MatchString(s) {
		c.bad(f, "%q is not a Gateway API duration such as 10s, 500ms or 1h30m (GEP-2257)", s)
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		c.bad(f, "%q: %v", s, err)
		return 0
	}
	return v
}
