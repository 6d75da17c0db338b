package discovery

import (
	"net/netip"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Protocol is the destination service's hint about what an endpoint's
// port speaks.
type Protocol uint8

// The protocol hints.
const (
	ProtocolUnknown Protocol = iota // detect
	ProtocolHTTP1
	ProtocolHTTP2
	ProtocolOpaque
)

// Endpoint is one address of a service. Treat it as read-only: Labels is
// shared.
type Endpoint struct {
	// Addr is the workload's address and port (the service's
	// targetPort).
	Addr netip.AddrPort
	// Weight is at least 1.
	Weight uint32
	Labels map[string]string
	// Identity is the SPIFFE ID the endpoint's proxy must present; zero
	// when the endpoint is not meshed.
	Identity spiffeid.ID
	// MeshPort is the endpoint proxy's inbound port when meshed.
	MeshPort uint16
	Protocol Protocol
}

// Meshed reports whether the endpoint is reached through its proxy with
// mutual TLS.
func (e Endpoint) Meshed() bool { return !e.Identity.IsZero() }

// MeshAddr is where a meshed endpoint's proxy listens: Addr's IP at
// MeshPort.
func (e Endpoint) MeshAddr() netip.AddrPort { return netip.AddrPortFrom(e.Addr.Addr(), e.MeshPort) }

// Balancer is the load balancer a service's policy asks for.
type Balancer uint8

// The balancers. BalancerDefault leaves the choice to the proxy (peak
// EWMA).
const (
	BalancerDefault Balancer = iota
	BalancerPeakEWMA
	BalancerLeastRequest
	BalancerRoundRobin
	BalancerWeightedRoundRobin
	BalancerRandom
	BalancerPassthrough
)

func (b Balancer) String() string {
	switch b {
	case BalancerPeakEWMA:
		return "peak-ewma"
	case BalancerLeastRequest:
		return "least-request"
	case BalancerRoundRobin:
		return "round-robin"
	case BalancerWeightedRoundRobin:
		return "weighted-round-robin"
	case BalancerRandom:
		return "random"
	case BalancerPassthrough:
		return "passthrough"
	}
	return "default"
}

// Policy is a service's traffic policy.
type Policy struct {
	Balancer Balancer
	// Proto is the whole policy as the destination service sent it (routes,
	// subsets, retries, …), for the proxy's route table; nil when none.
	// Treat it as read-only.
	Proto *destinationv1.Policy
}

var balancers = map[destinationv1.Balancer]Balancer{
	destinationv1.Balancer_BALANCER_PEAK_EWMA:            BalancerPeakEWMA,
	destinationv1.Balancer_BALANCER_LEAST_REQUEST:        BalancerLeastRequest,
	destinationv1.Balancer_BALANCER_ROUND_ROBIN:          BalancerRoundRobin,
	destinationv1.Balancer_BALANCER_WEIGHTED_ROUND_ROBIN: BalancerWeightedRoundRobin,
	destinationv1.Balancer_BALANCER_RANDOM:               BalancerRandom,
	destinationv1.Balancer_BALANCER_PASSTHROUGH:          BalancerPassthrough,
}

func policyFromProto(p *destinationv1.Policy) Policy {
	return Policy{Balancer: balancers[p.GetBalancer()], Proto: p}
}

var protocols = map[destinationv1.ProtocolHint]Protocol{
	destinationv1.ProtocolHint_PROTOCOL_HINT_HTTP1:  ProtocolHTTP1,
	destinationv1.ProtocolHint_PROTOCOL_HINT_HTTP2:  ProtocolHTTP2,
	destinationv1.ProtocolHint_PROTOCOL_HINT_OPAQUE: ProtocolOpaque,
}

// endpointFromProto converts an endpoint; ok is false for one that
// cannot be used (a bad address, or a bad identity: an endpoint is never
// downgraded to plaintext).
func endpointFromProto(p *destinationv1.Endpoint) (Endpoint, bool) {
	a, err := netip.ParseAddrPort(p.GetAddress())
	if err != nil || p.GetMeshPort() > 65535 {
		return Endpoint{}, false
	}
	e := Endpoint{Addr: netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), Weight: max(p.GetWeight(), 1),
		Labels: p.GetLabels(), Protocol: protocols[p.GetProtocolHint()]}
	if id := p.GetIdentity(); id != "" {
		if e.Identity, err = spiffeid.FromString(id); err != nil || p.GetMeshPort() == 0 {
			return Endpoint{}, false
		}
		e.MeshPort = uint16(p.GetMeshPort())
	}
	return e, true
}
