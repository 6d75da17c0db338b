package translate

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Table is translated configuration: the traffic policy of each service
// configured, and the security policies that select workloads. It is
// immutable and safe for concurrent use.
type Table struct {
	opts     Options
	policies map[string]*destinationv1.Policy
	peerAuth []*PeerAuthentication // oldest first
	authz    []*AuthorizationPolicy
}

// Build makes the table of a set of compiled resources. Of resources that
// conflict the oldest wins (then the first by namespace and name) and the
// others are problems; references are checked with known (see
// Set.References). Problems are reported, never fatal: a route to an
// undefined subset stays, and fails at request time as in Istio.
func Build(set *Set, o Options, known Known) (*Table, Problems) {
	o = o.withDefaults()
	s, probs := set.resolve()
	probs = append(probs, s.References(known, o)...)
	t := &Table{opts: o, policies: map[string]*destinationv1.Policy{}}
	policy := func(k string) *destinationv1.Policy {
		p := t.policies[k]
		if p == nil {
			p = &destinationv1.Policy{}
			t.policies[k] = p
		}
		return p
	}
	rs := s.sorted()
	for _, r := range rs {
		switch r := r.(type) {
		case *DestinationRule:
			p := policy(r.c.host)
			d := r.c.policy
			p.Balancer, p.OutlierDetection, p.ConnectionPool = d.Balancer, d.OutlierDetection, d.ConnectionPool
			p.Subsets, p.PortPolicies = d.Subsets, d.PortPolicies
			p.Sources = append(p.Sources, r.Src().Key())
		case *VirtualService:
			for _, h := range r.c.hosts {
				p := policy(h)
				p.HttpRoutes = append(p.HttpRoutes, forHost(r.c.http, h)...)
				if r.c.fallback {
					p.HttpRoutes = append(p.HttpRoutes, fallbackRoute(routeName(r.Src(), "no-match"), 0))
				}
				for _, tr := range r.c.tcp {
					tr = proto.Clone(tr).(*destinationv1.TCPRoute)
					selfBackends(tr.Backends, h)
					p.TcpRoutes = append(p.TcpRoutes, tr)
				}
				p.Sources = append(p.Sources, r.Src().Key())
			}
		case *PeerAuthentication:
			t.peerAuth = append(t.peerAuth, r)
		case *AuthorizationPolicy:
			t.authz = append(t.authz, r)
		}
	}
	t.addHTTPRoutes(s.HTTPRoutes, policy)
	slices.SortStableFunc(probs, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Source.File, b.Source.File), cmp.Compare(a.Source.LineOf(a.Field), b.Source.LineOf(b.Field)),
			strings.Compare(a.Source.Key(), b.Source.Key()), strings.Compare(a.Field, b.Field))
	})
	return t, probs
}

// forHost copies routes for the policy of service h: backends to h
// itself name no service.
func forHost(routes []*destinationv1.HTTPRoute, h string) []*destinationv1.HTTPRoute {
	out := make([]*destinationv1.HTTPRoute, len(routes))
	for i, r := range routes {
		out[i] = cloneRoute(r)
		selfBackends(out[i].Backends, h)
	}
	return out
}

func selfBackends(bs []*destinationv1.Backend, h string) {
	for _, b := range bs {
		if b.Service == h {
			b.Service = ""
		}
	}
}

// attached is an HTTPRoute's entries for one service port.
type attached struct {
	route *HTTPRoute
	port  uint32
	e     *routeEntry
}

// addHTTPRoutes merges the HTTPRoutes attached to each service in
// Gateway API's order: by match precedence, then the oldest route, then
// rule and match order.
func (t *Table) addHTTPRoutes(routes []*HTTPRoute, policy func(string) *destinationv1.Policy) {
	byService := map[string][]attached{}
	ports := map[string]map[uint32]*HTTPRoute{}
	for _, r := range routes { // oldest first
		for _, p := range r.c.parents {
			for _, e := range r.c.entries {
				byService[p.service] = append(byService[p.service], attached{r, p.port, e})
			}
			if ports[p.service] == nil {
				ports[p.service] = map[uint32]*HTTPRoute{}
			}
			if _, ok := ports[p.service][p.port]; !ok {
				ports[p.service][p.port] = r
			}
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(byService)) {
		as := byService[svc]
		slices.SortStableFunc(as, func(a, b attached) int {
			return a.e.rank.compare(b.e.rank) // stable: route age, rule and match order stay
		})
		p := policy(svc)
		covered := map[uint32]bool{}
		for _, a := range as {
			rt := cloneRoute(a.e.route)
			selfBackends(rt.Backends, svc)
			for _, m := range rt.Matches {
				if isEmptyMatch(m) { // before the port is set
					covered[a.port] = true
				}
				m.Port = a.port
			}
			p.HttpRoutes = append(p.HttpRoutes, rt)
		}
		for _, port := range slices.Sorted(maps.Keys(ports[svc])) {
			if !covered[port] && !covered[0] {
				p.HttpRoutes = append(p.HttpRoutes, fallbackRoute(routeName(ports[svc][port].Src(), "no-match"), port))
			}
		}
		seen := map[string]bool{}
		for _, a := range as {
			if k := a.route.Src().Key(); !seen[k] {
				seen[k] = true
				p.Sources = append(p.Sources, k)
			}
		}
	}
}

// Services returns the keys of the services the table has a policy for,
// sorted.
func (t *Table) Services() []string { return slices.Sorted(maps.Keys(t.policies)) }

// Policy returns the policy of service key ("name.namespace"): the
// table's, with base's balancer (a Service annotation) when the table
// sets none; base itself when the table has nothing for the service.
func (t *Table) Policy(key string, base *destinationv1.Policy) *destinationv1.Policy {
	var p *destinationv1.Policy
	if t != nil {
		p = t.policies[key]
	}
	switch {
	case p == nil:
		return base
	case p.Balancer != destinationv1.Balancer_BALANCER_UNSPECIFIED || base.GetBalancer() == destinationv1.Balancer_BALANCER_UNSPECIFIED:
		return p
	}
	out := proto.Clone(p).(*destinationv1.Policy)
	out.Balancer = base.GetBalancer()
	return out
}
