package translate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// compiledPA is a checked PeerAuthentication.
type compiledPA struct {
	// selector is nil for a mesh- or namespace-wide policy.
	selector map[string]string
	// mode is UNSPECIFIED when the policy inherits.
	mode  destinationv1.MTLSMode
	ports map[uint32]destinationv1.MTLSMode
}

// compiledAP is a checked AuthorizationPolicy.
type compiledAP struct {
	selector map[string]string
	policy   *destinationv1.AuthorizationPolicy
}

var mtlsModes = map[securityv1beta1.PeerAuthentication_MutualTLS_Mode]destinationv1.MTLSMode{
	securityv1beta1.PeerAuthentication_MutualTLS_UNSET:      destinationv1.MTLSMode_MTLS_MODE_UNSPECIFIED,
	securityv1beta1.PeerAuthentication_MutualTLS_DISABLE:    destinationv1.MTLSMode_MTLS_MODE_DISABLE,
	securityv1beta1.PeerAuthentication_MutualTLS_PERMISSIVE: destinationv1.MTLSMode_MTLS_MODE_PERMISSIVE,
	securityv1beta1.PeerAuthentication_MutualTLS_STRICT:     destinationv1.MTLSMode_MTLS_MODE_STRICT,
}

// selector checks a workload selector; an empty one is none.
func (c *checker) selector(f string, s *typev1beta1.WorkloadSelector) map[string]string {
	if s == nil {
		return nil
	}
	if len(s.MatchLabels) == 0 {
		c.warn(f, "a selector without labels selects every workload of the namespace")
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		if strings.Contains(k, "*") || strings.Contains(s.MatchLabels[k], "*") {
			c.bad(key(field(f, "matchLabels"), k), "wildcards are not supported in selectors")
		}
	}
	c.checkLabels(field(f, "matchLabels"), s.MatchLabels)
	return s.MatchLabels
}

func (pa *PeerAuthentication) compile(o Options) Problems {
	c := &checker{}
	pa.c = nil
	s := pa.Spec
	if s == nil {
		c.bad("spec", "required")
		return c.probs
	}
	out := &compiledPA{selector: c.selector("spec.selector", s.Selector)}
	if out.selector != nil && pa.Namespace == o.RootNamespace {
		c.warn("spec.selector", "a policy with a selector in the root namespace %s applies to that namespace's workloads only, not to the mesh", o.RootNamespace)
	}
	if s.Mtls != nil {
		out.mode = mtlsModes[s.Mtls.Mode]
	}
	if len(s.PortLevelMtls) > 0 && out.selector == nil {
		c.bad("spec.portLevelMtls", "requires a selector: mesh- and namespace-wide policies cannot set ports")
	}
	for _, p := range slices.Sorted(maps.Keys(s.PortLevelMtls)) {
		pf := key("spec.portLevelMtls", strconv.Itoa(int(p)))
		c.checkPort(pf, p)
		m := s.PortLevelMtls[p]
		if m == nil || m.Mode == securityv1beta1.PeerAuthentication_MutualTLS_UNSET {
			continue // inherits
		}
		if out.ports == nil {
			out.ports = map[uint32]destinationv1.MTLSMode{}
		}
		out.ports[p] = mtlsModes[m.Mode]
	}
	if !c.failed() {
		pa.c = out
	}
	return c.probs
}

var authzActions = map[securityv1beta1.AuthorizationPolicy_Action]destinationv1.AuthzAction{
	securityv1beta1.AuthorizationPolicy_ALLOW: destinationv1.AuthzAction_AUTHZ_ACTION_ALLOW,
	securityv1beta1.AuthorizationPolicy_DENY:  destinationv1.AuthzAction_AUTHZ_ACTION_DENY,
	securityv1beta1.AuthorizationPolicy_AUDIT: destinationv1.AuthzAction_AUTHZ_ACTION_AUDIT,
}

func (ap *AuthorizationPolicy) compile(o Options) Problems {
	c := &checker{}
	ap.c = nil
	s := ap.Spec
	if s == nil {
		c.bad("spec", "required")
		return c.probs
	}
	out := &compiledAP{selector: c.selector("spec.selector", s.Selector)}
	if s.TargetRef != nil || len(s.TargetRefs) > 0 {
		c.unsupported("spec.targetRefs", "policies attach to workloads through selector")
	}
	if s.GetProvider() != nil {
		c.unsupported("spec.provider", "external authorization (CUSTOM)")
	}
	action, ok := authzActions[s.Action]
	if !ok {
		c.unsupported("spec.action", fmt.Sprintf("%v: meshlite has ALLOW, DENY and AUDIT", s.Action))
	}
	pol := &destinationv1.AuthorizationPolicy{Name: ap.Namespace + "/" + ap.Name, Action: action}
	if s.Action == securityv1beta1.AuthorizationPolicy_DENY && len(s.Rules) == 0 {
		c.bad("spec.rules", "a DENY policy without rules never matches; add an empty rule {} to deny every request")
	}
	for i, r := range s.Rules {
		rf := index("spec.rules", i)
		if r == nil {
			c.bad(rf, "must not be null")
			continue
		}
		if len(r.When) > 0 {
			c.unsupported(field(rf, "when"), "conditions")
		}
		if len(r.From) == 0 && len(r.To) == 0 && len(r.When) == 0 {
			pol.MatchAll = true
		}
		rule := &destinationv1.AuthzRule{}
		for j, from := range r.From {
			if src := c.authzSource(index(field(rf, "from"), j), from); src != nil {
				rule.From = append(rule.From, src)
			}
		}
		for j, to := range r.To {
			if op := c.authzOperation(index(field(rf, "to"), j), to); op != nil {
				rule.To = append(rule.To, op)
			}
		}
		pol.Rules = append(pol.Rules, rule)
	}
	out.policy = pol
	if !c.failed() {
		ap.c = out
	}
	return c.probs
}

func (c *checker) authzSource(f string, from *securityv1beta1.Rule_From) *destinationv1.AuthzRule_Source {
	if from == nil || from.Source == nil {
		c.bad(field(f, "source"), "required")
		return nil
	}
	s := from.Source
	f = field(f, "source")
	before := len(c.probs)
	for _, u := range []struct {
		set  bool
		name string
	}{
		{len(s.RequestPrincipals) > 0, "requestPrincipals"}, {len(s.NotRequestPrincipals) > 0, "notRequestPrincipals"},
		{len(s.IpBlocks) > 0, "ipBlocks"}, {len(s.NotIpBlocks) > 0, "notIpBlocks"},
		{len(s.RemoteIpBlocks) > 0, "remoteIpBlocks"}, {len(s.NotRemoteIpBlocks) > 0, "notRemoteIpBlocks"},
		{len(s.ServiceAccounts) > 0, "serviceAccounts"}, {len(s.NotServiceAccounts) > 0, "notServiceAccounts"},
		{len(s.TrustDomains) > 0, "trustDomains"}, {len(s.NotTrustDomains) > 0, "notTrustDomains"},
	} {
		if u.set {
			c.unsupported(field(f, u.name), "sources are matched on principals and namespaces (the peer's SPIFFE ID)")
		}
	}
	out := &destinationv1.AuthzRule_Source{
		Principals:    c.principals(field(f, "principals"), s.Principals),
		NotPrincipals: c.principals(field(f, "notPrincipals"), s.NotPrincipals),
		Namespaces:    c.values(field(f, "namespaces"), s.Namespaces),
		NotNamespaces: c.values(field(f, "notNamespaces"), s.NotNamespaces),
	}
	if len(out.Principals)+len(out.NotPrincipals)+len(out.Namespaces)+len(out.NotNamespaces) == 0 && len(c.probs) == before {
		c.bad(f, "must not be empty: give principals or namespaces")
	}
	return out
}

func (c *checker) authzOperation(f string, to *securityv1beta1.Rule_To) *destinationv1.AuthzRule_Operation {
	if to == nil || to.Operation == nil {
		c.bad(field(f, "operation"), "required")
		return nil
	}
	op := to.Operation
	f = field(f, "operation")
	if len(op.Hosts) > 0 || len(op.NotHosts) > 0 {
		c.unsupported(field(f, "hosts"), "operations are matched on methods, paths and ports")
	}
	out := &destinationv1.AuthzRule_Operation{
		Methods:    c.values(field(f, "methods"), op.Methods),
		NotMethods: c.values(field(f, "notMethods"), op.NotMethods),
		Paths:      c.paths(field(f, "paths"), op.Paths),
		NotPaths:   c.paths(field(f, "notPaths"), op.NotPaths),
		Ports:      c.ports(field(f, "ports"), op.Ports),
		NotPorts:   c.ports(field(f, "notPorts"), op.NotPorts),
	}
	if len(op.Methods)+len(op.NotMethods)+len(op.Paths)+len(op.NotPaths)+len(op.Ports)+len(op.NotPorts)+
		len(op.Hosts)+len(op.NotHosts) == 0 {
		c.bad(f, "must not be empty: give methods, paths or ports")
	}
	return out
}

// values refuses empty strings, as Istio does.
func (c *checker) values(f string, vs []string) []string {
	for i, v := range vs {
		if v == "" {
			c.bad(index(f, i), "must not be empty")
		}
	}
	return vs
}

func (c *checker) principals(f string, ps []string) []string {
	for i, p := range ps {
		if strings.HasPrefix(p, "spiffe://") {
			c.bad(index(f, i), "%q: write principals without spiffe://, as Istio does (cluster.local/ns/<namespace>/sa/<service account>)", p)
		}
	}
	return c.values(f, ps)
}

func (c *checker) paths(f string, ps []string) []string {
	for i, p := range ps {
		if strings.ContainsAny(p, "{}") {
			c.unsupported(index(f, i), fmt.Sprintf("path template %q: use * as a prefix or suffix wildcard", p))
		}
	}
	return c.values(f, ps)
}

func (c *checker) ports(f string, ps []string) []uint32 {
	var out []uint32
	for i, p := range ps {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			c.bad(index(f, i), "%q is not a port (1-65535)", p)
			continue
		}
		out = append(out, uint32(n))
	}
	return out
}
