package authz

import (
	"fmt"
	"strings"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

const spiffeScheme = "spiffe://"

// Mode is how a workload port treats plaintext (PeerAuthentication).
type Mode uint8

// Modes.
const (
	// ModePermissive accepts mutual TLS and plaintext (the default).
	ModePermissive Mode = iota
	// ModeStrict accepts only mutual TLS.
	ModeStrict
	// ModeDisable accepts only plaintext.
	ModeDisable
)

func (m Mode) String() string {
	switch m {
	case ModeStrict:
		return "STRICT"
	case ModeDisable:
		return "DISABLE"
	default:
		return "PERMISSIVE"
	}
}

// Action is what an authorization policy does with the requests it
// matches.
type Action uint8

// Actions.
const (
	ActionAllow Action = iota
	ActionDeny
	ActionAudit
)

func (a Action) String() string {
	switch a {
	case ActionDeny:
		return "DENY"
	case ActionAudit:
		return "AUDIT"
	default:
		return "ALLOW"
	}
}

// Request is what authorization looks at.
type Request struct {
	// Principal is the peer's SPIFFE ID, with or without "spiffe://";
	// ignored without TLS.
	Principal string
	// Namespace is the peer's namespace; empty: read from the SPIFFE ID
	// path (/ns/<namespace>/...). Ignored without TLS.
	Namespace string
	// TLS says the request came over mutual TLS from a meshed peer.
	TLS bool
	// Method is the request method, as sent.
	Method string
	// Path is the normalized path (NormalizePath), the one forwarded; a
	// query after "?" is ignored.
	Path string
	// Port is the workload port the request is for.
	Port uint16
}

// Decision is the outcome of authorization.
type Decision struct {
	// Allowed says whether the request may proceed.
	Allowed bool
	// Policy names the deciding policy ("namespace/name"); empty when no
	// policy decided: allowed because the workload has no ALLOW policy,
	// or denied because it has ALLOW policies and none matched.
	Policy string
	// Action is the deciding policy's action (ActionAllow when none
	// decided).
	Action Action
	// Audit names the AUDIT policies that matched; nil when none.
	Audit []string
}

// Policy is a workload's compiled inbound policy. It is immutable and
// safe for concurrent use.
type Policy struct {
	mode  Mode
	ports map[uint16]Mode
	deny  []named
	allow []named
	audit []named
}

type named struct {
	name string
	rule Rule
}

// Compile turns the proto's InboundPolicy into a Policy. A nil policy
// allows everything, permissively.
func Compile(p *destinationv1.InboundPolicy) (*Policy, error) {
	out := &Policy{}
	var err error
	if out.mode, err = mode(p.GetMtlsMode(), ModePermissive); err != nil {
		return nil, err
	}
	for port, m := range p.GetPortMtls() {
		if port == 0 || port > 65535 {
			return nil, fmt.Errorf("%w: mTLS mode for port %d", ErrInvalidPolicy, port)
		}
		pm, err := mode(m, out.mode)
		if err != nil {
			return nil, err
		}
		if out.ports == nil {
			out.ports = make(map[uint16]Mode)
		}
		out.ports[uint16(port)] = pm
	}
	for _, ap := range p.GetAuthorization() {
		n := named{name: ap.GetName(), rule: compilePolicy(ap)}
		switch ap.GetAction() {
		case destinationv1.AuthzAction_AUTHZ_ACTION_UNSPECIFIED, destinationv1.AuthzAction_AUTHZ_ACTION_ALLOW:
			out.allow = append(out.allow, n)
		case destinationv1.AuthzAction_AUTHZ_ACTION_DENY:
			out.deny = append(out.deny, n)
		case destinationv1.AuthzAction_AUTHZ_ACTION_AUDIT:
			out.audit = append(out.audit, n)
		default:
			return nil, fmt.Errorf("%w: policy %q: unsupported action %v", ErrInvalidPolicy, ap.GetName(), ap.GetAction())
		}
	}
	return out, nil
}

func mode(m destinationv1.MTLSMode, unset Mode) (Mode, error) {
	switch m {
	case destinationv1.MTLSMode_MTLS_MODE_UNSPECIFIED:
		return unset, nil
	case destinationv1.MTLSMode_MTLS_MODE_PERMISSIVE:
		return ModePermissive, nil
	case destinationv1.MTLSMode_MTLS_MODE_STRICT:
		return ModeStrict, nil
	case destinationv1.MTLSMode_MTLS_MODE_DISABLE:
		return ModeDisable, nil
	}
	return 0, fmt.Errorf("%w: unknown mTLS mode %v", ErrInvalidPolicy, m)
}

// compilePolicy: a policy matches when match_all is set or any rule
// matches; a rule when one of its sources (or none given) and one of its
// operations (or none given) match.
func compilePolicy(ap *destinationv1.AuthorizationPolicy) Rule {
	if ap.GetMatchAll() {
		return Always
	}
	rules := make([]Rule, 0, len(ap.GetRules()))
	for _, r := range ap.GetRules() {
		var from, to []Rule
		for _, s := range r.GetFrom() {
			from = append(from, compileSource(s))
		}
		for _, o := range r.GetTo() {
			to = append(to, compileOperation(o))
		}
		rule := Always
		switch {
		case len(from) > 0 && len(to) > 0:
			rule = All(AnyOf(from...), AnyOf(to...))
		case len(from) > 0:
			rule = AnyOf(from...)
		case len(to) > 0:
			rule = AnyOf(to...)
		}
		rules = append(rules, rule)
	}
	return AnyOf(rules...)
}

func compileSource(s *destinationv1.AuthzRule_Source) Rule {
	var all []Rule
	if v := s.GetPrincipals(); len(v) > 0 {
		all = append(all, Principals(v...))
	}
	if v := s.GetNotPrincipals(); len(v) > 0 {
		all = append(all, Not(Principals(v...)))
	}
	if v := s.GetNamespaces(); len(v) > 0 {
		all = append(all, Namespaces(v...))
	}
	if v := s.GetNotNamespaces(); len(v) > 0 {
		all = append(all, Not(Namespaces(v...)))
	}
	return All(all...)
}

func compileOperation(o *destinationv1.AuthzRule_Operation) Rule {
	var all []Rule
	if v := o.GetMethods(); len(v) > 0 {
		all = append(all, Methods(v...))
	}
	if v := o.GetNotMethods(); len(v) > 0 {
		all = append(all, Not(Methods(v...)))
	}
	if v := o.GetPaths(); len(v) > 0 {
		all = append(all, Paths(v...))
	}
	if v := o.GetNotPaths(); len(v) > 0 {
		all = append(all, Not(Paths(v...)))
	}
	if v := o.GetPorts(); len(v) > 0 {
		all = append(all, Ports(v...))
	}
	if v := o.GetNotPorts(); len(v) > 0 {
		all = append(all, Not(Ports(v...)))
	}
	return All(all...)
}

// MTLSFor returns the mTLS mode of a workload port: its own, else the
// workload's, else permissive.
func (p *Policy) MTLSFor(port uint16) Mode {
	if p == nil {
		return ModePermissive
	}
	if m, ok := p.ports[port]; ok {
		return m
	}
	return p.mode
}

// Authorize decides whether req may proceed, as Istio does: a matching
// DENY policy denies; otherwise, if the workload has ALLOW policies, a
// matching one allows and none matching denies; with no ALLOW policy the
// request is allowed. AUDIT policies only mark the request. It allocates
// only to list matching AUDIT policies.
func (p *Policy) Authorize(req Request) Decision {
	if p == nil {
		return Decision{Allowed: true}
	}
	req = peer(req)
	d := p.decide(req)
	for _, a := range p.audit {
		if a.rule(req) {
			d.Audit = append(d.Audit, a.name)
		}
	}
	return d
}

func (p *Policy) decide(req Request) Decision {
	for _, n := range p.deny {
		if n.rule(req) {
			return Decision{Allowed: false, Policy: n.name, Action: ActionDeny}
		}
	}
	if len(p.allow) == 0 {
		return Decision{Allowed: true}
	}
	for _, n := range p.allow {
		if n.rule(req) {
			return Decision{Allowed: true, Policy: n.name, Action: ActionAllow}
		}
	}
	return Decision{Allowed: false, Action: ActionAllow}
}

// peer puts the peer identity in the form rules expect: no principal or
// namespace without TLS, the principal without its scheme, the namespace
// read from it when not given.
func peer(r Request) Request {
	if !r.TLS {
		r.Principal, r.Namespace = "", ""
		return r
	}
	r.Principal = strings.TrimPrefix(r.Principal, spiffeScheme)
	if r.Namespace == "" {
		r.Namespace = namespaceOf(r.Principal)
	}
	return r
}

// namespaceOf reads the namespace of "trust-domain/ns/<ns>/sa/<sa>".
func namespaceOf(id string) string {
	_, path, ok := strings.Cut(id, "/")
	if !ok {
		return ""
	}
	rest, ok := strings.CutPrefix(path, "ns/")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, "/")
	return ns
}

// Authorizes reports whether the policy has any authorization rule (ALLOW,
// DENY or AUDIT) to evaluate; without one every request is allowed and
// paths need not be normalized.
func (p *Policy) Authorizes() bool {
	return p != nil && len(p.deny)+len(p.allow)+len(p.audit) > 0
}
