package translate

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Istio's outlier detection defaults, sent explicitly so the proxy needs
// no defaults of its own.
const (
	DefaultConsecutive5xxErrors = 5
	DefaultOutlierInterval      = 10 * time.Second
	DefaultBaseEjectionTime     = 30 * time.Second
	DefaultMaxEjectionPercent   = 10
)

// compiledDR is a checked DestinationRule.
type compiledDR struct {
	host, hostField string
	// subsets are the subsets' names, and the field they are at.
	subsets map[string]string
	// policy holds the balancer, subsets, outlier detection, connection
	// pool and port policies (no routes).
	policy *destinationv1.Policy
}

// balancers maps Istio's simple load balancers; LEAST_CONN is
// LEAST_REQUEST's deprecated alias, as in Istio.
var balancers = map[networkingv1alpha3.LoadBalancerSettings_SimpleLB]destinationv1.Balancer{
	networkingv1alpha3.LoadBalancerSettings_UNSPECIFIED: destinationv1.Balancer_BALANCER_UNSPECIFIED,
	//lint:ignore SA1019 deprecated by Istio, still accepted as LEAST_REQUEST's alias
	networkingv1alpha3.LoadBalancerSettings_LEAST_CONN:    destinationv1.Balancer_BALANCER_LEAST_REQUEST,
	networkingv1alpha3.LoadBalancerSettings_LEAST_REQUEST: destinationv1.Balancer_BALANCER_LEAST_REQUEST,
	networkingv1alpha3.LoadBalancerSettings_ROUND_ROBIN:   destinationv1.Balancer_BALANCER_ROUND_ROBIN,
	networkingv1alpha3.LoadBalancerSettings_RANDOM:        destinationv1.Balancer_BALANCER_RANDOM,
	networkingv1alpha3.LoadBalancerSettings_PASSTHROUGH:   destinationv1.Balancer_BALANCER_PASSTHROUGH,
}

func (dr *DestinationRule) compile(o Options) Problems {
	c := &checker{}
	dr.c = nil
	s := dr.Spec
	if s == nil {
		c.bad("spec", "required")
		return c.probs
	}
	out := &compiledDR{hostField: "spec.host", subsets: map[string]string{}, policy: &destinationv1.Policy{}}
	if k, err := o.resolveHost(s.Host, dr.Namespace); err != nil {
		c.bad("spec.host", "%v", err)
	} else {
		out.host = k
	}
	c.checkExportTo("spec.exportTo", s.ExportTo)
	if s.WorkloadSelector != nil {
		c.unsupported("spec.workloadSelector", "a DestinationRule applies to every client of its host")
	}
	if tp := s.TrafficPolicy; tp != nil {
		t := c.trafficPolicy("spec.trafficPolicy", tp, true)
		out.policy.Balancer, out.policy.OutlierDetection, out.policy.ConnectionPool = t.balancer, t.outlier, t.pool
		out.policy.PortPolicies = t.ports
	}
	for i, ss := range s.Subsets {
		f := index("spec.subsets", i)
		if ss == nil {
			c.bad(f, "must not be null")
			continue
		}
		if ss.Name == "" {
			c.bad(field(f, "name"), "required")
		} else {
			c.checkSubsetName(field(f, "name"), ss.Name)
		}
		if at, dup := out.subsets[ss.Name]; dup {
			c.bad(field(f, "name"), "subset %q is also defined at %s", ss.Name, at)
		}
		out.subsets[ss.Name] = f
		c.checkLabels(field(f, "labels"), ss.Labels)
		sub := &destinationv1.Subset{Name: ss.Name, Labels: ss.Labels}
		if ss.TrafficPolicy != nil {
			t := c.trafficPolicy(field(f, "trafficPolicy"), ss.TrafficPolicy, false)
			sub.Balancer, sub.OutlierDetection, sub.ConnectionPool = t.balancer, t.outlier, t.pool
		}
		out.policy.Subsets = append(out.policy.Subsets, sub)
	}
	if !c.failed() {
		dr.c = out
	}
	return c.probs
}

// trafficSettings is a translated TrafficPolicy.
type trafficSettings struct {
	balancer destinationv1.Balancer
	outlier  *destinationv1.OutlierDetection
	pool     *destinationv1.ConnectionPool
	ports    []*destinationv1.PortPolicy
}

func (c *checker) trafficPolicy(f string, tp *networkingv1alpha3.TrafficPolicy, portsOK bool) trafficSettings {
	var t trafficSettings
	if tp.LoadBalancer == nil && tp.ConnectionPool == nil && tp.OutlierDetection == nil && tp.Tls == nil &&
		len(tp.PortLevelSettings) == 0 && tp.Tunnel == nil && tp.ProxyProtocol == nil && tp.RetryBudget == nil {
		c.bad(f, "a traffic policy needs at least one field")
	}
	for _, u := range []struct {
		set  bool
		name string
	}{{tp.Tunnel != nil, "tunnel"}, {tp.ProxyProtocol != nil, "proxyProtocol"}, {tp.RetryBudget != nil, "retryBudget"}} {
		if u.set {
			c.unsupported(field(f, u.name), "")
		}
	}
	t.balancer = c.loadBalancer(field(f, "loadBalancer"), tp.LoadBalancer)
	t.pool = c.connectionPool(field(f, "connectionPool"), tp.ConnectionPool)
	t.outlier = c.outlierDetection(field(f, "outlierDetection"), tp.OutlierDetection)
	c.clientTLS(field(f, "tls"), tp.Tls)
	if len(tp.PortLevelSettings) > 0 && !portsOK {
		c.unsupported(field(f, "portLevelSettings"), "port-level settings inside a subset; set them on the DestinationRule's trafficPolicy")
		return t
	}
	seen := map[uint32]int{}
	for i, p := range tp.PortLevelSettings {
		pf := index(field(f, "portLevelSettings"), i)
		if p == nil {
			c.bad(pf, "must not be null")
			continue
		}
		if p.Port == nil {
			c.bad(field(pf, "port"), "required")
			continue
		}
		c.checkPort(field(pf, "port.number"), p.Port.Number)
		if j, dup := seen[p.Port.Number]; dup {
			c.bad(field(pf, "port.number"), "port %d is also set at %s", p.Port.Number, index(field(f, "portLevelSettings"), j))
		}
		seen[p.Port.Number] = i
		if p.LoadBalancer == nil && p.ConnectionPool == nil && p.OutlierDetection == nil && p.Tls == nil {
			c.bad(pf, "a port traffic policy needs at least one field besides the port")
		}
		c.clientTLS(field(pf, "tls"), p.Tls)
		t.ports = append(t.ports, &destinationv1.PortPolicy{
			Port:             p.Port.Number,
			Balancer:         c.loadBalancer(field(pf, "loadBalancer"), p.LoadBalancer),
			OutlierDetection: c.outlierDetection(field(pf, "outlierDetection"), p.OutlierDetection),
			ConnectionPool:   c.connectionPool(field(pf, "connectionPool"), p.ConnectionPool),
		})
	}
	return t
}

func (c *checker) loadBalancer(f string, lb *networkingv1alpha3.LoadBalancerSettings) destinationv1.Balancer {
	if lb == nil {
		return destinationv1.Balancer_BALANCER_UNSPECIFIED
	}
	for _, u := range []struct {
		set        bool
		name, what string
	}{
		{lb.GetConsistentHash() != nil, "consistentHash", "consistent hashing (sticky sessions)"},
		{lb.GetBackendUtilization() != nil, "backendUtilization", ""},
		{lb.LocalityLbSetting != nil, "localityLbSetting", "locality-aware balancing"},
		{lb.ZoneAwareLbSetting != nil, "zoneAwareLbSetting", "zone-aware balancing"},
		//lint:ignore SA1019 deprecated, still refused by name
		{lb.WarmupDurationSecs != nil, "warmupDurationSecs", "slow start"},
		{lb.Warmup != nil, "warmup", "slow start"},
	} {
		if u.set {
			c.unsupported(field(f, u.name), u.what)
		}
	}
	b, ok := balancers[lb.GetSimple()]
	if !ok {
		c.bad(field(f, "simple"), "%v is not a load balancer meshlite knows", lb.GetSimple())
	}
	return b
}

func (c *checker) connectionPool(f string, p *networkingv1alpha3.ConnectionPoolSettings) *destinationv1.ConnectionPool {
	if p == nil {
		return nil
	}
	if p.Tcp == nil && p.Http == nil {
		c.bad(f, "a connection pool needs tcp or http settings")
		return nil
	}
	out := &destinationv1.ConnectionPool{}
	nonNegative := func(name string, v int32) uint32 {
		if v < 0 {
			c.bad(field(f, name), "%d is negative (0 means unlimited)", v)
			return 0
		}
		return uint32(v)
	}
	if t := p.Tcp; t != nil {
		for _, u := range []struct {
			set  bool
			name string
		}{
			{t.ConnectTimeout != nil, "connectTimeout"}, {t.TcpKeepalive != nil, "tcpKeepalive"},
			{t.MaxConnectionDuration != nil, "maxConnectionDuration"}, {t.IdleTimeout != nil, "idleTimeout"},
		} {
			if u.set {
				c.unsupported(field(f, "tcp."+u.name), "")
			}
		}
		out.MaxConnections = nonNegative("tcp.maxConnections", t.MaxConnections)
	}
	if h := p.Http; h != nil {
		for _, u := range []struct {
			set  bool
			name string
		}{
			{h.MaxRetries != 0, "maxRetries"}, {h.IdleTimeout != nil, "idleTimeout"},
			{h.H2UpgradePolicy != networkingv1alpha3.ConnectionPoolSettings_HTTPSettings_DEFAULT, "h2UpgradePolicy"},
			{h.UseClientProtocol, "useClientProtocol"}, {h.MaxConcurrentStreams != 0, "maxConcurrentStreams"},
			{h.Http2KeepAlive != nil, "http2KeepAlive"},
		} {
			if u.set {
				c.unsupported(field(f, "http."+u.name), "")
			}
		}
		out.Http1MaxPendingRequests = nonNegative("http.http1MaxPendingRequests", h.Http1MaxPendingRequests)
		out.Http2MaxRequests = nonNegative("http.http2MaxRequests", h.Http2MaxRequests)
		out.MaxRequestsPerConnection = nonNegative("http.maxRequestsPerConnection", h.MaxRequestsPerConnection)
	}
	return out
}

func (c *checker) outlierDetection(f string, od *networkingv1alpha3.OutlierDetection) *destinationv1.OutlierDetection {
	if od == nil {
		return nil
	}
	for _, u := range []struct {
		set        bool
		name, what string
	}{
		//lint:ignore SA1019 deprecated, refused by name
		{od.ConsecutiveErrors != 0, "consecutiveErrors", "deprecated by Istio: use consecutive5xxErrors or consecutiveGatewayErrors"},
		{od.SplitExternalLocalOriginErrors, "splitExternalLocalOriginErrors", ""},
		{od.ConsecutiveLocalOriginFailures != nil, "consecutiveLocalOriginFailures", ""},
		{od.MinHealthPercent != 0, "minHealthPercent", ""},
		{len(od.OutlierDetectionHttpErrorCodes) > 0, "outlierDetectionHttpErrorCodes", ""},
		{od.FailurePercentageThreshold != nil, "failurePercentageThreshold", ""},
	} {
		if u.set {
			c.unsupported(field(f, u.name), u.what)
		}
	}
	out := &destinationv1.OutlierDetection{
		Consecutive_5XxErrors:    DefaultConsecutive5xxErrors,
		ConsecutiveGatewayErrors: od.GetConsecutiveGatewayErrors().GetValue(),
		Interval:                 durationpb.New(DefaultOutlierInterval),
		BaseEjectionTime:         durationpb.New(DefaultBaseEjectionTime),
		MaxEjectionPercent:       DefaultMaxEjectionPercent,
	}
	if v := od.Consecutive_5XxErrors; v != nil {
		out.Consecutive_5XxErrors = v.GetValue()
	}
	if d := c.duration(field(f, "interval"), od.Interval); d != nil {
		out.Interval = d
	}
	if d := c.duration(field(f, "baseEjectionTime"), od.BaseEjectionTime); d != nil {
		out.BaseEjectionTime = d
	}
	switch p := od.MaxEjectionPercent; {
	case p < 0 || p > 100:
		c.bad(field(f, "maxEjectionPercent"), "%d is not in 0-100", p)
	case p > 0:
		out.MaxEjectionPercent = uint32(p)
	}
	return out
}

// clientTLS accepts only ISTIO_MUTUAL, which is what meshlite does
// between meshed workloads anyway.
func (c *checker) clientTLS(f string, t *networkingv1alpha3.ClientTLSSettings) {
	if t == nil {
		return
	}
	if t.Mode != networkingv1alpha3.ClientTLSSettings_ISTIO_MUTUAL {
		c.unsupported(field(f, "mode"), fmt.Sprintf("%v: meshlite speaks mutual TLS between meshed workloads by itself (only ISTIO_MUTUAL is accepted)", t.Mode))
	}
	if t.ClientCertificate != "" || t.PrivateKey != "" || t.CaCertificates != "" || t.CredentialName != "" ||
		t.CaCertCredentialName != "" || len(t.SubjectAltNames) > 0 || t.Sni != "" || t.InsecureSkipVerify != nil || t.CaCrl != "" {
		c.unsupported(f, "TLS settings other than mode: ISTIO_MUTUAL")
	}
}
