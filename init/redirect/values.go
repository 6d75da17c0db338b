package redirect

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// PortRange is a TCP port or an inclusive range of ports, First <= Last.
type PortRange struct {
	First, Last uint16
}

// String renders the range as it is parsed: "4191" or "5000-5010".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// multiport renders the range for iptables' multiport match: "4191" or
// "5000:5010".
func (r PortRange) multiport() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d:%d", r.First, r.Last)
}

// weight is what the range costs in one multiport match: the kernel takes
// at most 15 ports per match and a range counts as two.
func (r PortRange) weight() int {
	if r.First == r.Last {
		return 1
	}
	return 2
}

// ParsePort parses a TCP port, 1 to 65535.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return uint16(n), nil
}

// ParsePortRange parses "4191" or "5000-5010".
func ParsePortRange(s string) (PortRange, error) {
	first, last, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := ParsePort(first)
	if !isRange {
		return PortRange{a, a}, err
	}
	if err != nil {
		return PortRange{}, fmt.Errorf("%q: %w", s, err)
	}
	b, err := ParsePort(last)
	if err != nil {
		return PortRange{}, fmt.Errorf("%q: %w", s, err)
	}
	if b < a {
		return PortRange{}, fmt.Errorf("%q is not a port range (first must not exceed last)", s)
	}
	return PortRange{a, b}, nil
}

// Ports is a comma-separated list of ports and ranges, as a flag:
// "4191,5000-5010". Empty items are skipped and repeated ones dropped; the
// order is kept.
type Ports []PortRange

// String renders the list as it is parsed.
func (p *Ports) String() string { return joinList(*p) }

// Set parses the list; the empty string is the empty list.
func (p *Ports) Set(v string) error {
	var out Ports
	for _, f := range splitList(v) {
		r, err := ParsePortRange(f)
		if err != nil {
			return err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	*p = out
	return nil
}

// Prefixes is a comma-separated list of CIDRs of either family, as a flag:
// "10.0.0.0/8,fd00::/8". A bare address is a host prefix (/32, /128); host
// bits are cleared, as iptables does.
type Prefixes []netip.Prefix

// String renders the list as it is parsed.
func (p *Prefixes) String() string { return joinList(*p) }

// Set parses the list; the empty string is the empty list.
func (p *Prefixes) Set(v string) error {
	var out Prefixes
	for _, f := range splitList(v) {
		pf, err := ParsePrefix(f)
		if err != nil {
			return err
		}
		if !slices.Contains(out, pf) {
			out = append(out, pf)
		}
	}
	*p = out
	return nil
}

// ParsePrefix parses a CIDR or a bare address (a host prefix) and clears its
// host bits. IPv4-mapped IPv6 addresses and zones are refused.
func ParsePrefix(s string) (netip.Prefix, error) {
	var pf netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8 or fd00::/8)", s)
		}
		pf = p
	} else {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		pf = netip.PrefixFrom(a, a.BitLen())
	}
	if pf.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 prefix: give the IPv4 form", s)
	}
	return pf.Masked(), nil
}

// Addrs is a comma-separated list of addresses of either family, as a flag.
type Addrs []netip.Addr

// String renders the list as it is parsed.
func (a *Addrs) String() string { return joinList(*a) }

// Set parses the list; the empty string is the empty list.
func (a *Addrs) Set(v string) error {
	var out Addrs
	for _, f := range splitList(v) {
		addr, err := parseAddr(f)
		if err != nil {
			return err
		}
		if !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	*a = out
	return nil
}

// parseAddr parses an IP address without zone, refusing IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address: give the IPv4 form", s)
	}
	return a, nil
}

// splitList splits a comma-separated list, trimming items and dropping
// empty ones.
func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func joinList[T fmt.Stringer](l []T) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}
