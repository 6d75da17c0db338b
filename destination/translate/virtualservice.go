package translate

import (
	"fmt"
	"strconv"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// MeshGateway is the only gateway a VirtualService may name: the
// sidecars of the mesh.
const MeshGateway = "mesh"

// compiledVS is a checked VirtualService.
type compiledVS struct {
	// hosts are the service keys of spec.hosts, with their fields.
	hosts, hostFields []string
	// http and tcp are the routes; every Backend.Service is a full key
	// (Build empties it for the host the policy is for).
	http []*destinationv1.HTTPRoute
	tcp  []*destinationv1.TCPRoute
	// fallback is set when a request can match no HTTP route: Istio
	// answers it 404, so a last route does.
	fallback bool
	refs     []backendRef
}

// backendRef is a destination named by a route, for reference checks.
type backendRef struct {
	service, subset string
	// field is the destination's path; its host and subset are below.
	field string
}

// routeName names a route in metrics: <kind>/<namespace>/<name>/<rule>.
func routeName(s *Source, rule string) string {
	return s.Kind + "/" + s.Namespace + "/" + s.Name + "/" + rule
}

func (vs *VirtualService) compile(o Options) Problems {
	c := &checker{}
	vs.c = nil
	s := vs.Spec
	if s == nil {
		c.bad("spec", "required")
		return c.probs
	}
	out := &compiledVS{}
	if len(s.Hosts) == 0 {
		c.bad("spec.hosts", "at least one host is required (delegate VirtualServices are not supported)")
	}
	seen := map[string]int{}
	for i, h := range s.Hosts {
		f := index("spec.hosts", i)
		k, err := o.resolveHost(h, vs.Namespace)
		if err != nil {
			c.bad(f, "%v", err)
			continue
		}
		if j, dup := seen[k]; dup {
			c.bad(f, "%q is service %s, as spec.hosts[%d] is", h, k, j)
			continue
		}
		seen[k] = i
		out.hosts, out.hostFields = append(out.hosts, k), append(out.hostFields, f)
	}
	for i, g := range s.Gateways {
		if g != MeshGateway {
			c.unsupported(index("spec.gateways", i), fmt.Sprintf("gateway %q: meshlite routes traffic inside the mesh only (write gateways: [mesh], or leave gateways out)", g))
		}
	}
	c.checkExportTo("spec.exportTo", s.ExportTo)
	if len(s.Tls) > 0 {
		c.unsupported("spec.tls", "TLS (SNI) routes; route opaque TLS connections with tcp")
	}
	if len(s.Http)+len(s.Tcp)+len(s.Tls) == 0 {
		c.bad("spec", "http or tcp routes are required")
	}
	for i, r := range s.Http {
		name := strconv.Itoa(i)
		if r != nil && r.Name != "" {
			name = r.Name
		}
		rt := c.vsHTTPRoute(o, vs.Namespace, index("spec.http", i), r, &out.refs)
		if rt != nil {
			rt.Name = routeName(&vs.Source, name)
			out.http = append(out.http, rt)
		}
	}
	for i, r := range s.Tcp {
		out.tcp = append(out.tcp, c.vsTCPRoute(o, vs.Namespace, index("spec.tcp", i), r, &out.refs)...)
	}
	out.fallback = len(out.http) > 0 && !coversAll(out.http)
	if !c.failed() {
		vs.c = out
	}
	return c.probs
}

// coversAll reports whether some route matches every request: it has no
// match, or a match without any condition.
func coversAll(routes []*destinationv1.HTTPRoute) bool {
	for _, r := range routes {
		if len(r.GetMatches()) == 0 {
			return true
		}
		for _, m := range r.GetMatches() {
			if isEmptyMatch(m) {
				return true
			}
		}
	}
	return false
}

func isEmptyMatch(m *destinationv1.HTTPMatch) bool {
	p := m.GetPath()
	return (p == nil || p.GetPrefix() == "/") && m.GetMethod() == nil && m.GetAuthority() == nil &&
		len(m.GetHeaders())+len(m.GetQueryParams())+len(m.GetWithoutHeaders()) == 0 && m.GetPort() == 0
}

// fallbackRoute answers 404 to requests no route matched, as Istio and
// Gateway API implementations do once routes are configured.
func fallbackRoute(name string, port uint32) *destinationv1.HTTPRoute {
	r := &destinationv1.HTTPRoute{
		Name:  name,
		Fault: &destinationv1.Fault{Abort: &destinationv1.Fault_Abort{HttpStatus: 404, Percentage: 100}},
	}
	if port != 0 {
		r.Matches = []*destinationv1.HTTPMatch{{Port: port}}
	}
	return r
}

func (c *checker) vsHTTPRoute(o Options, ns, f string, r *networkingv1alpha3.HTTPRoute, refs *[]backendRef) *destinationv1.HTTPRoute {
	if r == nil {
		c.bad(f, "must not be null")
		return nil
	}
	for _, u := range []struct {
		set        bool
		name, what string
	}{
		{r.Redirect != nil, "redirect", "redirects"},
		{r.DirectResponse != nil, "directResponse", "direct responses"},
		{r.Delegate != nil, "delegate", "delegation to other VirtualServices"},
		{r.Mirror != nil, "mirror", "traffic mirroring"},
		{len(r.Mirrors) > 0, "mirrors", "traffic mirroring"},
		//lint:ignore SA1019 deprecated, refused by name
		{r.MirrorPercent != nil, "mirrorPercent", "traffic mirroring"},
		{r.MirrorPercentage != nil, "mirrorPercentage", "traffic mirroring"},
		{r.CorsPolicy != nil, "corsPolicy", "CORS policies"},
	} {
		if u.set {
			c.unsupported(field(f, u.name), u.what)
		}
	}
	rt := &destinationv1.HTTPRoute{}
	for j, m := range r.Match {
		if hm := c.vsMatch(index(field(f, "match"), j), m); hm != nil {
			rt.Matches = append(rt.Matches, hm)
		}
	}
	if len(r.Route) == 0 {
		c.bad(field(f, "route"), "required: at least one destination (meshlite has no redirects or direct responses)")
	}
	weights := make([]int32, len(r.Route))
	for j, d := range r.Route {
		df := index(field(f, "route"), j)
		if d == nil {
			c.bad(df, "must not be null")
			continue
		}
		if d.Headers != nil {
			c.unsupported(field(df, "headers"), "header operations per destination; set them on the route (headers)")
		}
		weights[j] = d.Weight
		if b := c.destination(o, ns, field(df, "destination"), d.Destination, refs); b != nil {
			rt.Backends = append(rt.Backends, b)
		}
	}
	c.weights(field(f, "route"), weights, rt.Backends)
	rt.Timeout = c.duration(field(f, "timeout"), r.Timeout)
	rt.Retry = c.vsRetry(field(f, "retries"), r.Retries)
	rt.Fault = c.vsFault(field(f, "fault"), r.Fault)
	rt.Rewrite = c.vsRewrite(field(f, "rewrite"), r.Rewrite)
	rt.RequestHeaders, rt.ResponseHeaders = c.vsHeaders(field(f, "headers"), r.Headers)
	return rt
}

func (c *checker) vsTCPRoute(o Options, ns, f string, r *networkingv1alpha3.TCPRoute, refs *[]backendRef) []*destinationv1.TCPRoute {
	if r == nil {
		c.bad(f, "must not be null")
		return nil
	}
	var ports []uint32
	for j, m := range r.Match {
		mf := index(field(f, "match"), j)
		if m == nil {
			c.bad(mf, "must not be null")
			continue
		}
		for _, u := range []struct {
			set  bool
			name string
		}{
			{len(m.DestinationSubnets) > 0, "destinationSubnets"}, {m.SourceSubnet != "", "sourceSubnet"},
			{len(m.SourceLabels) > 0, "sourceLabels"}, {len(m.Gateways) > 0, "gateways"}, {m.SourceNamespace != "", "sourceNamespace"},
		} {
			if u.set {
				c.unsupported(field(mf, u.name), "TCP routes match on the port only")
			}
		}
		if m.Port != 0 {
			c.checkPort(field(mf, "port"), m.Port)
		}
		ports = append(ports, m.Port)
	}
	if len(r.Route) == 0 {
		c.bad(field(f, "route"), "required: at least one destination")
	}
	var backends []*destinationv1.Backend
	weights := make([]int32, len(r.Route))
	for j, d := range r.Route {
		df := index(field(f, "route"), j)
		if d == nil {
			c.bad(df, "must not be null")
			continue
		}
		weights[j] = d.Weight
		if b := c.destination(o, ns, field(df, "destination"), d.Destination, refs); b != nil {
			backends = append(backends, b)
		}
	}
	c.weights(field(f, "route"), weights, backends)
	if len(ports) == 0 {
		ports = []uint32{0}
	}
	out := make([]*destinationv1.TCPRoute, len(ports))
	for i, p := range ports {
		out[i] = &destinationv1.TCPRoute{Port: p, Backends: backends}
	}
	return out
}

// destination checks an Istio Destination and makes its Backend.
func (c *checker) destination(o Options, ns, f string, d *networkingv1alpha3.Destination, refs *[]backendRef) *destinationv1.Backend {
	if d == nil {
		c.bad(f, "required")
		return nil
	}
	k, err := o.resolveHost(d.Host, ns)
	if err != nil {
		c.bad(field(f, "host"), "%v", err)
		return nil
	}
	b := &destinationv1.Backend{Service: k, Subset: d.Subset}
	if d.Subset != "" {
		c.checkSubsetName(field(f, "subset"), d.Subset)
	}
	if d.Port != nil {
		c.checkPort(field(f, "port.number"), d.Port.Number)
		b.Port = d.Port.Number
	}
	*refs = append(*refs, backendRef{service: k, subset: d.Subset, field: f})
	return b
}

// maxIstioWeight bounds an Istio weight: meshlite reads weights as
// percentages (Istio itself treats them as relative).
const maxIstioWeight = 100

// weights checks Istio's destination weights and sets them on the
// backends: a weight below 0 or above 100 is refused, several
// destinations must not all weigh 0 (Istio), and a single destination
// takes all traffic (weight 100 when left out).
func (c *checker) weights(f string, weights []int32, backends []*destinationv1.Backend) {
	var total int64
	ok := true
	for j, w := range weights {
		wf := field(index(f, j), "weight")
		switch {
		case w < 0:
			c.bad(wf, "%d is negative: weights are 0-%d", w, maxIstioWeight)
			ok = false
		case w > maxIstioWeight:
			c.bad(wf, "%d is above %d: weights are percentages of the route's traffic", w, maxIstioWeight)
			ok = false
		}
		total += int64(w)
	}
	if !ok || len(backends) != len(weights) {
		return
	}
	if len(weights) == 1 {
		backends[0].Weight = 100
		if weights[0] != 0 {
			backends[0].Weight = uint32(weights[0])
		}
		return
	}
	if total == 0 {
		c.bad(f, "the destinations' weights add up to 0: no destination would get traffic")
		return
	}
	for j, b := range backends {
		b.Weight = uint32(weights[j])
	}
}

// checkSubsetName checks a subset's name: a DNS label, as in Istio.
func (c *checker) checkSubsetName(f, name string) {
	if !dnsLabelRE.MatchString(name) || len(name) > 63 {
		c.bad(f, "subset name %q is not a DNS label (lower case letters, digits and -)", name)
	}
}
