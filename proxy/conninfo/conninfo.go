// Package conninfo carries what the proxy knows about an accepted connection
// (its direction, the client's address and the address the client dialled)
// to every layer that handles it, through the context.
package conninfo

import (
	"context"
	"net/netip"
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
	// it to the proxy (SO_ORIGINAL_DST).
	OrigDst netip.AddrPort
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
