// Package origdst reads the address a client dialled before iptables
// redirected its connection to the proxy (SO_ORIGINAL_DST for IPv4,
// IP6T_SO_ORIGINAL_DST for IPv6).
package origdst

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// soOriginalDst is SO_ORIGINAL_DST (linux/netfilter_ipv4.h) and, at level
// SOL_IPV6, IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h): both 80.
const soOriginalDst = 80

// ErrNotRedirected is returned when the kernel knows no original destination
// for the connection (it was not NATed, or conntrack is not loaded).
var ErrNotRedirected = errors.New("origdst: connection was not redirected")

// Lookup returns the original destination of c. For a connection that was
// not redirected but is tracked by conntrack, the kernel answers with the
// local address itself; callers compare it with their listener's address.
func Lookup(c *net.TCPConn) (netip.AddrPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("origdst: %w", err)
	}
	local, _ := c.LocalAddr().(*net.TCPAddr)
	v6 := local != nil && local.IP.To4() == nil
	var (
		ap      netip.AddrPort
		sockErr error
	)
	ctlErr := raw.Control(func(fd uintptr) {
		if v6 {
			ap, sockErr = lookup6(int(fd))
		} else {
			ap, sockErr = lookup4(int(fd))
		}
	})
	if ctlErr != nil {
		return netip.AddrPort{}, fmt.Errorf("origdst: %w", ctlErr)
	}
	if sockErr != nil {
		if errors.Is(sockErr, unix.ENOENT) || errors.Is(sockErr, unix.ENOPROTOOPT) {
			return netip.AddrPort{}, ErrNotRedirected
		}
		return netip.AddrPort{}, fmt.Errorf("origdst: getsockopt: %w", sockErr)
	}
	return ap, nil
}

func getsockopt(fd, level int, p unsafe.Pointer, size uintptr) error {
	l := uint32(size)
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), soOriginalDst,
		uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return syscall.Errno(errno)
	}
	return nil
}

func lookup4(fd int) (netip.AddrPort, error) {
	var sa unix.RawSockaddrInet4
	if err := getsockopt(fd, unix.SOL_IP, unsafe.Pointer(&sa), unsafe.Sizeof(sa)); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port)), nil
}

func lookup6(fd int) (netip.AddrPort, error) {
	var sa unix.RawSockaddrInet6
	if err := getsockopt(fd, unix.SOL_IPV6, unsafe.Pointer(&sa), unsafe.Sizeof(sa)); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port)), nil
}

// ntohs turns a port in network byte order, as the kernel stores it in a
// sockaddr, into a number.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
