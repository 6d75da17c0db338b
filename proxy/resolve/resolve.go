// Package resolve chooses the endpoint a connection or request is sent to.
//
// A Resolver turns the target a client dialled (its original destination)
// into an endpoint: its address and, when the endpoint runs a meshlite
// proxy, the SPIFFE identity that proxy must present and the port it
// accepts mutual TLS on.
package resolve

import (
	"context"
	"net/netip"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultMeshPort is the inbound port of a peer proxy, where meshed
// connections go.
const DefaultMeshPort = 4143

// Endpoint is where a request or connection is forwarded.
type Endpoint struct {
	// Addr is the endpoint's (application's) address.
	Addr netip.AddrPort
	// Identity is the SPIFFE ID of the endpoint's proxy; zero when the
	// endpoint is not meshed.
	Identity spiffeid.ID
	// MeshPort is the peer proxy's inbound port (meshed endpoints only).
	MeshPort uint16
	// Done, when set, must be called once the request or connection sent
	// to the endpoint has ended: balancers learn latency and failures
	// from it and count what is in flight.
	Done func(Outcome)
}

// Outcome is how a request or connection to an endpoint went.
type Outcome struct {
	// Latency is the time to the response headers (HTTP) or to the
	// established connection (TCP).
	Latency time.Duration
	// Err is set when the endpoint could not be reached.
	Err error
	// Failure is set for a response that counts as failed (5xx).
	Failure bool
	// Status is the response's HTTP status (0 without a response).
	Status int
}

// Finish reports o to the resolver that chose e, if it asked to know.
func (e Endpoint) Finish(o Outcome) {
	if e.Done != nil {
		e.Done(o)
	}
}

// Meshed reports whether the endpoint is reached over mutual TLS.
func (e Endpoint) Meshed() bool { return !e.Identity.IsZero() }

// MeshAddr is where a meshed endpoint's proxy accepts mutual TLS.
func (e Endpoint) MeshAddr() netip.AddrPort {
	port := e.MeshPort
	if port == 0 {
		port = DefaultMeshPort
	}
	return netip.AddrPortFrom(e.Addr.Addr(), port)
}

// Resolver picks the endpoint for a target.
type Resolver interface {
	Resolve(ctx context.Context, target netip.AddrPort) (Endpoint, error)
}

// Func adapts a function to a Resolver.
type Func func(ctx context.Context, target netip.AddrPort) (Endpoint, error)

// Resolve calls f.
func (f Func) Resolve(ctx context.Context, target netip.AddrPort) (Endpoint, error) {
	return f(ctx, target)
}

// OrigDst forwards to the original destination unchanged.
var OrigDst Resolver = Func(func(_ context.Context, target netip.AddrPort) (Endpoint, error) {
	return Endpoint{Addr: target}, nil
})

// Localhost forwards to the same port on the loopback address of the
// target's family: 127.0.0.1 for IPv4, ::1 for IPv6.
var Localhost Resolver = Func(func(_ context.Context, target netip.AddrPort) (Endpoint, error) {
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if target.Addr().Is6() && !target.Addr().Is4In6() {
		lo = netip.IPv6Loopback()
	}
	return Endpoint{Addr: netip.AddrPortFrom(lo, target.Port())}, nil
})
