package translate

import (
	"fmt"
	"strings"
	"time"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The kinds translated.
const (
	KindVirtualService      = "VirtualService"
	KindDestinationRule     = "DestinationRule"
	KindHTTPRoute           = "HTTPRoute"
	KindPeerAuthentication  = "PeerAuthentication"
	KindAuthorizationPolicy = "AuthorizationPolicy"
)

// Defaults of Options.
const (
	DefaultClusterDomain = "cluster.local"
	// DefaultRootNamespace holds mesh-wide PeerAuthentication and
	// AuthorizationPolicy resources, as istio-system does for Istio.
	DefaultRootNamespace = "meshlite"
)

// Options are what translation needs besides the resources.
type Options struct {
	// ClusterDomain suffixes fully qualified service names
	// (name.namespace.svc.<ClusterDomain>).
	ClusterDomain string // cluster.local
	// RootNamespace is the namespace whose security policies apply to the
	// whole mesh.
	RootNamespace string // meshlite
}

func (o Options) withDefaults() Options {
	if o.ClusterDomain == "" {
		o.ClusterDomain = DefaultClusterDomain
	}
	if o.RootNamespace == "" {
		o.RootNamespace = DefaultRootNamespace
	}
	return o
}

// Source identifies a resource and locates its fields for problems.
type Source struct {
	Kind, Namespace, Name string
	// File and Line locate the document in a file; empty and 0 for a
	// resource read from the Kubernetes API.
	File string
	Line int
	// Lines maps field paths ("spec.http[0].timeout") to their lines.
	Lines map[string]int
	// Created is metadata.creationTimestamp: the older of two conflicting
	// resources wins (then the name decides).
	Created time.Time
}

// Src returns s; it makes every resource a Resource.
func (s *Source) Src() *Source { return s }

// Key is "Kind namespace/name".
func (s *Source) Key() string { return s.Kind + " " + s.Namespace + "/" + s.Name }

// String names the resource, with its file and line when it has them.
func (s *Source) String() string {
	if s.File == "" {
		return s.Key()
	}
	return fmt.Sprintf("%s (%s:%d)", s.Key(), s.File, s.Line)
}

// LineOf is the line of field, or of its closest parent that has one; 0
// when nothing is known.
func (s *Source) LineOf(field string) int {
	for f := field; f != ""; {
		if l, ok := s.Lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			break
		}
		f = f[:i]
	}
	return s.Line
}

// before orders resources: the oldest first, then by namespace and name.
func (s *Source) before(o *Source) bool {
	if !s.Created.Equal(o.Created) {
		return s.Created.Before(o.Created)
	}
	if s.Namespace != o.Namespace {
		return s.Namespace < o.Namespace
	}
	return s.Name < o.Name
}

// Resource is one of the kinds translated.
type Resource interface {
	Src() *Source
	compile(o Options) Problems
}

// VirtualService is an Istio VirtualService (networking.istio.io v1,
// v1beta1 or v1alpha3: they share the spec).
type VirtualService struct {
	Source
	Spec *networkingv1alpha3.VirtualService
	c    *compiledVS
}

// DestinationRule is an Istio DestinationRule.
type DestinationRule struct {
	Source
	Spec *networkingv1alpha3.DestinationRule
	c    *compiledDR
}

// HTTPRoute is a Gateway API HTTPRoute (v1 or v1beta1).
type HTTPRoute struct {
	Source
	Spec *gatewayv1.HTTPRouteSpec
	c    *compiledRoute
}

// PeerAuthentication is an Istio PeerAuthentication (security.istio.io
// v1 or v1beta1).
type PeerAuthentication struct {
	Source
	Spec *securityv1beta1.PeerAuthentication
	c    *compiledPA
}

// AuthorizationPolicy is an Istio AuthorizationPolicy.
type AuthorizationPolicy struct {
	Source
	Spec *securityv1beta1.AuthorizationPolicy
	c    *compiledAP
}

var (
	_ Resource = (*VirtualService)(nil)
	_ Resource = (*DestinationRule)(nil)
	_ Resource = (*HTTPRoute)(nil)
	_ Resource = (*PeerAuthentication)(nil)
	_ Resource = (*AuthorizationPolicy)(nil)
)

// Compile checks r on its own and keeps its compiled form for Build. A
// resource with problems that are not warnings must not be added to a
// Set. Compiling again replaces the compiled form.
func Compile(r Resource, o Options) Problems {
	probs := r.compile(o.withDefaults())
	for i := range probs {
		probs[i].Source = r.Src()
	}
	return probs
}

// Set is a collection of compiled resources.
type Set struct {
	VirtualServices       []*VirtualService
	DestinationRules      []*DestinationRule
	HTTPRoutes            []*HTTPRoute
	PeerAuthentications   []*PeerAuthentication
	AuthorizationPolicies []*AuthorizationPolicy
}

// Add adds compiled resources to s; it panics on one Compile has not
// accepted, a programming error.
func (s *Set) Add(rs ...Resource) {
	for _, r := range rs {
		switch r := r.(type) {
		case *VirtualService:
			mustCompiled(r.c != nil, r.Src())
			s.VirtualServices = append(s.VirtualServices, r)
		case *DestinationRule:
			mustCompiled(r.c != nil, r.Src())
			s.DestinationRules = append(s.DestinationRules, r)
		case *HTTPRoute:
			mustCompiled(r.c != nil, r.Src())
			s.HTTPRoutes = append(s.HTTPRoutes, r)
		case *PeerAuthentication:
			mustCompiled(r.c != nil, r.Src())
			s.PeerAuthentications = append(s.PeerAuthentications, r)
		case *AuthorizationPolicy:
			mustCompiled(r.c != nil, r.Src())
			s.AuthorizationPolicies = append(s.AuthorizationPolicies, r)
		}
	}
}

func mustCompiled(ok bool, s *Source) {
	if !ok {
		panic("translate: " + s.Key() + " added to a Set without a successful Compile")
	}
}

// Resources returns every resource of s.
func (s *Set) Resources() []Resource {
	var out []Resource
	for _, r := range s.VirtualServices {
		out = append(out, r)
	}
	for _, r := range s.DestinationRules {
		out = append(out, r)
	}
	for _, r := range s.HTTPRoutes {
		out = append(out, r)
	}
	for _, r := range s.PeerAuthentications {
		out = append(out, r)
	}
	for _, r := range s.AuthorizationPolicies {
		out = append(out, r)
	}
	return out
}

// Len is the number of resources in s.
func (s *Set) Len() int {
	return len(s.VirtualServices) + len(s.DestinationRules) + len(s.HTTPRoutes) +
		len(s.PeerAuthentications) + len(s.AuthorizationPolicies)
}
