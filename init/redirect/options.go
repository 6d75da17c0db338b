package redirect

import (
	"errors"
	"flag"
	"fmt"
)

// Defaults: Linkerd's numbers, see DESIGN.md.
const (
	DefaultProxyUID     = 2102
	DefaultInboundPort  = 4143
	DefaultOutboundPort = 4140
	DefaultAdminPort    = 4191
)

// maxID is the largest uid or gid iptables' owner match takes ((uid_t)-1
// means "none").
const maxID = 1<<32 - 2

// Options is what the plan is made from. Each field is a flag (and, in
// meshlite-init, an environment variable); the comment gives the flag and
// its default.
type Options struct {
	// ProxyUID is the uid the proxy runs as; its own connections are never
	// redirected. --proxy-uid, default 2102.
	ProxyUID int
	// ProxyGID, when not -1, also exempts connections of processes with
	// this gid. --proxy-gid, default -1 (none).
	ProxyGID int
	// InboundPort is the proxy's inbound listener. --inbound-port, 4143.
	InboundPort int
	// OutboundPort is the proxy's outbound listener. --outbound-port, 4140.
	OutboundPort int
	// InboundPortsToIgnore are destination ports of incoming connections
	// that go straight to the workload. --inbound-ports-to-ignore, default
	// 4191 (the proxy's admin port).
	InboundPortsToIgnore Ports
	// OutboundPortsToIgnore are destination ports of outgoing connections
	// that bypass the proxy. --outbound-ports-to-ignore, default none.
	OutboundPortsToIgnore Ports
	// SubnetsToIgnore are source subnets of incoming connections that go
	// straight to the workload. --subnets-to-ignore, default none.
	SubnetsToIgnore Prefixes
	// OutboundSubnetsToIgnore are destination subnets of outgoing
	// connections that bypass the proxy. --outbound-subnets-to-ignore,
	// default none.
	OutboundSubnetsToIgnore Prefixes
	// PodServiceAddresses are addresses of the pod's own services that are
	// local to the pod (so reached through lo): connections to them are
	// redirected although other loopback traffic is not.
	// --pod-service-addresses, default none.
	PodServiceAddresses Addrs
	// IPv6 adds the same rules with ip6tables. --ipv6, default true.
	// Addresses and subnets of a family go to that family's rules only;
	// IPv6 ones are ignored when IPv6 is false.
	IPv6 bool
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		ProxyUID:             DefaultProxyUID,
		ProxyGID:             -1,
		InboundPort:          DefaultInboundPort,
		OutboundPort:         DefaultOutboundPort,
		InboundPortsToIgnore: Ports{{DefaultAdminPort, DefaultAdminPort}},
		IPv6:                 true,
	}
}

// RegisterFlags defines the flags on fs, with o's values as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.ProxyUID, "proxy-uid", o.ProxyUID, "uid of the proxy: its connections are never redirected")
	fs.IntVar(&o.ProxyGID, "proxy-gid", o.ProxyGID, "gid whose connections are never redirected either (-1: none)")
	fs.IntVar(&o.InboundPort, "inbound-port", o.InboundPort, "the proxy's inbound port: where incoming TCP connections are redirected")
	fs.IntVar(&o.OutboundPort, "outbound-port", o.OutboundPort, "the proxy's outbound port: where outgoing TCP connections are redirected")
	fs.Var(&o.InboundPortsToIgnore, "inbound-ports-to-ignore", "comma-separated ports and ranges (a-b) of incoming connections not redirected")
	fs.Var(&o.OutboundPortsToIgnore, "outbound-ports-to-ignore", "comma-separated ports and ranges (a-b) of outgoing connections not redirected")
	fs.Var(&o.SubnetsToIgnore, "subnets-to-ignore", "comma-separated source CIDRs of incoming connections not redirected (IPv4 and IPv6)")
	fs.Var(&o.OutboundSubnetsToIgnore, "outbound-subnets-to-ignore", "comma-separated destination CIDRs of outgoing connections not redirected (IPv4 and IPv6)")
	fs.Var(&o.PodServiceAddresses, "pod-service-addresses", "comma-separated addresses of the pod's own services that are local to the pod: connections to them over lo are redirected too")
	fs.BoolVar(&o.IPv6, "ipv6", o.IPv6, "also redirect IPv6 with ip6tables")
}

// Validate reports every problem with o, naming the flag and the value.
func (o *Options) Validate() error {
	var errs []error
	if o.ProxyUID < 0 || o.ProxyUID > maxID {
		errs = append(errs, fmt.Errorf("--proxy-uid: %d is not a uid (0-%d)", o.ProxyUID, maxID))
	}
	if o.ProxyGID < -1 || o.ProxyGID > maxID {
		errs = append(errs, fmt.Errorf("--proxy-gid: %d is not a gid (0-%d, or -1 for none)", o.ProxyGID, maxID))
	}
	for _, p := range []struct {
		flag string
		v    int
	}{{"--inbound-port", o.InboundPort}, {"--outbound-port", o.OutboundPort}} {
		if p.v < 1 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port (1-65535)", p.flag, p.v))
		}
	}
	if o.InboundPort == o.OutboundPort {
		errs = append(errs, fmt.Errorf("--inbound-port and --outbound-port are both %d: the proxy needs two listeners", o.InboundPort))
	}
	for _, l := range []struct {
		flag  string
		ports Ports
	}{{"--inbound-ports-to-ignore", o.InboundPortsToIgnore}, {"--outbound-ports-to-ignore", o.OutboundPortsToIgnore}} {
		for _, r := range l.ports {
			if r.First == 0 || r.Last < r.First {
				errs = append(errs, fmt.Errorf("%s: %q is not a port or range (1-65535)", l.flag, r))
			}
		}
	}
	for _, l := range []struct {
		flag string
		list Prefixes
	}{{"--subnets-to-ignore", o.SubnetsToIgnore}, {"--outbound-subnets-to-ignore", o.OutboundSubnetsToIgnore}} {
		for _, p := range l.list {
			if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				errs = append(errs, fmt.Errorf("%s: %q is not a CIDR", l.flag, p))
			}
		}
	}
	for _, a := range o.PodServiceAddresses {
		switch {
		case !a.IsValid() || a.Is4In6() || a.Zone() != "":
			errs = append(errs, fmt.Errorf("--pod-service-addresses: %q is not an IP address", a))
		case a.IsLoopback() || a.IsUnspecified() || a.IsMulticast():
			// Loopback traffic (127.0.0.0/8, ::1) must never reach the
			// proxy: its own connections to the app go there.
			errs = append(errs, fmt.Errorf("--pod-service-addresses: %s is a loopback, unspecified or multicast address", a))
		}
	}
	return errors.Join(errs...)
}
