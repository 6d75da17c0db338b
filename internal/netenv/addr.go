package netenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// The default address plan. Slot s (0..255) of a new Env gives it
// 10.201.s.0/24 and fd6d:6c00:s::/64; the bridge takes the first address
// (.1, ::1) and pods the following ones in the order they are added.
const (
	defaultServiceCIDR  = "10.96.0.0/16"
	defaultServiceCIDR6 = "fd6d:6c00:ffff::/112"
	numSlots            = 256
	// maxPods bounds the pod index so veth names fit in IFNAMSIZ.
	maxPods = 1000
)

// slotPrefix4 is the default IPv4 pod subnet of slot s: 10.201.s.0/24.
func slotPrefix4(s int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, byte(s), 0}), 24)
}

// slotPrefix6 is the default IPv6 pod subnet of slot s: fd6d:6c00:s::/64.
func slotPrefix6(s int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x6d, 0x6c, 0x00, byte(s >> 8), byte(s)}), 64)
}

// nthAddr returns the n-th address of p (0 is the network address).
func nthAddr(p netip.Prefix, n int) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	carry := uint64(n)
	for i := len(b) - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// podCapacity is how many pods fit in p: all addresses but the network
// address, the bridge's and (IPv4) the broadcast address, at most maxPods.
func podCapacity(p netip.Prefix) int {
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits >= 16 {
		return maxPods
	}
	n := 1<<hostBits - 2
	if p.Addr().Is4() {
		n--
	}
	return max(0, min(n, maxPods))
}

// subnetPlan is what pickSubnets is given: the subnets asked for (invalid
// when left to the default) and the prefixes already in use.
type subnetPlan struct {
	want4, want6 netip.Prefix
	ipv6         bool
	used         []netip.Prefix
}

// pickSubnets chooses the pod subnets: the wanted ones when given (an error
// wrapping ErrSubnetInUse if they overlap a used prefix), otherwise the
// subnets of the first slot free for both families.
func pickSubnets(pl subnetPlan) (p4, p6 netip.Prefix, err error) {
	if pl.want4.IsValid() {
		if u, ok := overlapping(pl.want4, pl.used); ok {
			return p4, p6, fmt.Errorf("netenv: pod CIDR %s overlaps %s (a host route, a live env's subnet or the service range): %w", pl.want4, u, ErrSubnetInUse)
		}
	}
	if pl.ipv6 && pl.want6.IsValid() {
		if u, ok := overlapping(pl.want6, pl.used); ok {
			return p4, p6, fmt.Errorf("netenv: pod CIDR6 %s overlaps %s (a host route, a live env's subnet or the service range): %w", pl.want6, u, ErrSubnetInUse)
		}
	}
	for s := range numSlots {
		c4, c6 := pl.want4, pl.want6
		if !c4.IsValid() {
			c4 = slotPrefix4(s)
		}
		if !c6.IsValid() {
			c6 = slotPrefix6(s)
		}
		if _, ok := overlapping(c4, pl.used); ok {
			continue
		}
		if pl.ipv6 {
			if _, ok := overlapping(c6, pl.used); ok {
				continue
			}
		} else {
			c6 = netip.Prefix{}
		}
		return c4, c6, nil
	}
	return p4, p6, fmt.Errorf("netenv: every subnet 10.201.0-255.0/24 (and fd6d:6c00:0-ff::/64) overlaps a host route or a live env; set Options.PodCIDR or remove the conflicting routes: %w", ErrNoFreeSubnet)
}

// overlapping returns the first prefix of used that overlaps p.
func overlapping(p netip.Prefix, used []netip.Prefix) (netip.Prefix, bool) {
	for _, u := range used {
		if u.Overlaps(p) {
			return u, true
		}
	}
	return netip.Prefix{}, false
}

// hostRoutes lists the destinations of every route of the root namespace
// (all tables, both families) except default routes.
func hostRoutes(ctx context.Context) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, fam := range []string{"-4", "-6"} {
		b, err := ip(ctx, "-j", fam, "route", "show", "table", "all")
		if err != nil {
			return nil, err
		}
		var routes []struct {
			Dst  string `json:"dst"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &routes); err != nil {
			return nil, fmt.Errorf("netenv: parse ip %s route: %w", fam, err)
		}
		for _, r := range routes {
			if p, ok := parseRouteDst(r.Dst); ok && r.Type != "multicast" {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// parseRouteDst parses the "dst" of `ip -j route`: a prefix, or a bare
// address for a host route. Default routes are skipped.
func parseRouteDst(dst string) (netip.Prefix, bool) {
	if dst == "" || dst == "default" {
		return netip.Prefix{}, false
	}
	if strings.Contains(dst, "/") {
		p, err := netip.ParsePrefix(dst)
		if err != nil || p.Bits() == 0 {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(dst)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
