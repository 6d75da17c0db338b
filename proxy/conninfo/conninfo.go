// Package conninfo carries what the proxy knows about an accepted connection
// (its direction, the client's address, the address the client dialled,
// and — for mutual TLS — the identities on both ends) and about each
// request's hop to an endpoint, through the context.
package conninfo

import (
	"context"
	"net/netip"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Direction says which of the proxy's listeners accepted a connection.
type Direction string

// The two directions, used as the "direction" label of every metric.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// Info describes one accepted connection.
type Info struct {
	Direction Direction
	// Client is the remote address of the accepted connection.
	Client netip.AddrPort
	// OrigDst is the address the client dialled before iptables redirected
	// it to the proxy (SO_ORIGINAL_DST), or, for a meshed connection, the
	// local application port its transport header named.
	OrigDst netip.AddrPort
	// TLS is set when the connection is mutual TLS from a peer proxy, whose
	// SPIFFE ID is then Peer.
	TLS  bool
	Peer spiffeid.ID
	// Self is this proxy's SPIFFE ID, zero when it has none.
	Self spiffeid.ID
}

type ctxKey struct{}

// With returns a context carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// From returns the Info stored in ctx, or nil.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(ctxKey{}).(*Info)
	return info
}

// Hop records where one request was forwarded; the observing layer creates
// it and the forwarding layer fills it in.
type Hop struct {
	// Endpoint is the address the request was sent to.
	Endpoint netip.AddrPort
	// TLS is set when the request went over mutual TLS to ServerID.
	TLS      bool
	ServerID spiffeid.ID
	// Route names the route that matched the request; "" when none did.
	Route string
	// Retries counts the attempts after the first.
	Retries int
	// Audit names the AUDIT authorization policies the request matched.
	Audit string
}

type hopKey struct{}

// WithHop returns a context carrying hop.
func WithHop(ctx context.Context, hop *Hop) context.Context {
	return context.WithValue(ctx, hopKey{}, hop)
}

// HopFrom returns the Hop stored in ctx, or nil.
func HopFrom(ctx context.Context) *Hop {
	hop, _ := ctx.Value(hopKey{}).(*Hop)
	return hop
}
