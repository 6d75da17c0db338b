package registry

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultClusterDomain is the DNS suffix of fully qualified service names.
const DefaultClusterDomain = "cluster.local"

// DefaultNamespace resolves a short name when the watcher gives no
// namespace of its own.
const DefaultNamespace = "default"

// ErrBadTarget is wrapped by every error about a target's syntax.
var ErrBadTarget = errors.New("registry: bad target")

// Target is what a proxy asks about: a service address or a service name,
// and a port.
type Target struct {
	// Addr is set for an "IP:port" target.
	Addr netip.Addr
	// Name and Namespace are set for a name target that can be a
	// service of this cluster.
	Name, Namespace string
	// External is set for a name that cannot be a service here (another
	// domain); it is never found.
	External bool
	Port     uint16
}

// ParseTarget parses "IP:port", "name:port", "name.ns:port",
// "name.ns.svc:port" or "name.ns.svc.<clusterDomain>:port" (a trailing dot
// is allowed). A short name is in sourceNamespace, or "default" when that
// is empty.
func ParseTarget(s, sourceNamespace, clusterDomain string) (Target, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %w", ErrBadTarget, s, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return Target{}, fmt.Errorf("%w %q: port %q is not in 1-65535", ErrBadTarget, s, portStr)
	}
	t := Target{Port: uint16(port)}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return Target{}, fmt.Errorf("%w %q: zoned address", ErrBadTarget, s)
		}
		t.Addr = a.Unmap()
		return t, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "" {
		return Target{}, fmt.Errorf("%w %q: empty host", ErrBadTarget, s)
	}
	if clusterDomain == "" {
		clusterDomain = DefaultClusterDomain
	}
	name = strings.TrimSuffix(name, ".svc."+strings.ToLower(strings.Trim(clusterDomain, ".")))
	name = strings.TrimSuffix(name, ".svc")
	parts := strings.Split(name, ".")
	switch len(parts) {
	case 1:
		t.Name, t.Namespace = parts[0], sourceNamespace
		if t.Namespace == "" {
			t.Namespace = DefaultNamespace
		}
	case 2:
		t.Name, t.Namespace = parts[0], parts[1]
	default:
		t.External = true
	}
	if t.Name == "" || t.Namespace == "" {
		t.External = true
	}
	return t, nil
}

// String is the target as "host:port".
func (t Target) String() string {
	p := strconv.Itoa(int(t.Port))
	switch {
	case t.Addr.IsValid():
		return net.JoinHostPort(t.Addr.String(), p)
	case t.External:
		return "external:" + p
	}
	return net.JoinHostPort(t.Name+"."+t.Namespace, p)
}
