package gopeer

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/meshlite/meshlite/proxy/origdst"
)

// Dest returns where a redirected connection is forwarded.
type Dest func(c *net.TCPConn) (netip.AddrPort, error)

// OrigDst forwards to the address the client dialled (outbound side). A
// connection that was not redirected (its original destination is the
// listener itself) is refused: forwarding it would loop.
func OrigDst(c *net.TCPConn) (netip.AddrPort, error) {
	ap, err := origdst.Lookup(c)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("gopeer: %w", err)
	}
	if local, ok := c.LocalAddr().(*net.TCPAddr); ok && sameAddr(local.AddrPort(), ap) {
		return netip.AddrPort{}, fmt.Errorf("gopeer: %w", origdst.ErrNotRedirected)
	}
	return ap, nil
}

// sameAddr compares two addresses, an IPv4-mapped IPv6 one (what a
// dual-stack listener reports for IPv4) equal to its IPv4 form.
func sameAddr(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// Loopback forwards to the original destination's port on 127.0.0.1
// (inbound side: the application listens in the same pod).
func Loopback(c *net.TCPConn) (netip.AddrPort, error) {
	ap, err := OrigDst(c)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port()), nil
}

// ForSide returns OrigDst for "out" and Loopback for "in".
func ForSide(side string) (Dest, error) {
	switch side {
	case "out":
		return OrigDst, nil
	case "in":
		return Loopback, nil
	}
	return nil, fmt.Errorf("gopeer: side %q: want out or in", side)
}
