// Package resolve chooses the endpoint a connection or request is sent to.
//
// A Resolver turns the target a client dialled (its original destination)
// into an endpoint. Until the destination service and the balancers take
// over, the outbound resolver is the original destination itself and the
// inbound one is the application on localhost at the same port.
package resolve

import (
	"context"
	"net/netip"
)

// Endpoint is where a request or connection is forwarded.
type Endpoint struct {
	// Addr is the endpoint's address.
	Addr netip.AddrPort
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
