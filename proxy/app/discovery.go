package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/proxy/discovery"
)

// DestinationConfig connects the proxy to meshlite-destination and, when
// WorkloadName is set, registers the workload it fronts.
type DestinationConfig struct {
	// Addr is the destination service's host:port; "" runs without
	// discovery (original destinations and --meshed-endpoints only).
	Addr string // ""
	// ServerID is the SPIFFE ID the destination service must present.
	ServerID string // spiffe://<trust-domain>/ns/meshlite/sa/destination
	// Insecure talks to the destination service in plaintext.
	Insecure bool // false
	// WorkloadName, when set, registers this workload under that name.
	WorkloadName string // ""
	// WorkloadNamespace is the workload's namespace.
	WorkloadNamespace string // the identity namespace, or "default"
	// WorkloadLabels are "key=value" pairs, comma-separated.
	WorkloadLabels string // ""
	// WorkloadPorts are the ports the workload serves; a port may be
	// named "name=port".
	WorkloadPorts string // ""
	// WorkloadAddr is the workload's IP; "" picks the first global
	// unicast address of the host (the pod's).
	WorkloadAddr string // ""
	// WorkloadWeight weighs the workload's endpoints for weighted
	// balancing.
	WorkloadWeight uint // 1
	// LeaseTTL is the registration lease asked for.
	LeaseTTL time.Duration // 15s
	// ReportHealth tells the destination service of endpoints this proxy
	// sets aside after consecutive connection failures, and of their
	// return, so it takes them out of every proxy's sets meanwhile.
	ReportHealth bool // true
}

func (d *DestinationConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&d.Addr, "destination-addr", d.Addr, "host:port of meshlite-destination (empty: no discovery)")
	fs.StringVar(&d.ServerID, "destination-server-id", d.ServerID, "SPIFFE ID the destination service must present (default spiffe://<trust-domain>/ns/meshlite/sa/destination)")
	fs.BoolVar(&d.Insecure, "destination-insecure", d.Insecure, "talk to the destination service in plaintext (tests and demos without identity)")
	fs.StringVar(&d.WorkloadName, "workload-name", d.WorkloadName, "register this workload with the destination service under this name")
	fs.StringVar(&d.WorkloadNamespace, "workload-namespace", d.WorkloadNamespace, "namespace of the workload (default: the identity namespace, else \"default\")")
	fs.StringVar(&d.WorkloadLabels, "workload-labels", d.WorkloadLabels, "labels of the workload, key=value pairs, comma-separated")
	fs.StringVar(&d.WorkloadPorts, "workload-ports", d.WorkloadPorts, "ports the workload serves, comma-separated; name one with name=port")
	fs.StringVar(&d.WorkloadAddr, "workload-addr", d.WorkloadAddr, "IP of the workload (default: the first global unicast address)")
	fs.UintVar(&d.WorkloadWeight, "workload-weight", d.WorkloadWeight, "weight of the workload's endpoints for weighted balancing (1-10000)")
	fs.DurationVar(&d.LeaseTTL, "workload-lease-ttl", d.LeaseTTL, "registration lease asked for; the proxy renews at a third of it")
	fs.BoolVar(&d.ReportHealth, "destination-report-health", d.ReportHealth, "report endpoints set aside after consecutive connection failures (and their return) to the destination service, which takes them out of every proxy's sets meanwhile")
}

// enabled reports whether discovery is on.
func (d *DestinationConfig) enabled() bool { return d.Addr != "" }

// validate checks d; hasIdentity says whether the proxy has an identity.
func (d *DestinationConfig) validate(hasIdentity bool) []error {
	var errs []error
	if !d.enabled() {
		if d.WorkloadName != "" {
			errs = append(errs, errors.New("workload-name: registration needs --destination-addr"))
		}
		return errs
	}
	if _, _, err := net.SplitHostPort(d.Addr); err != nil {
		errs = append(errs, fmt.Errorf("destination-addr: %q is not host:port: %w", d.Addr, err))
	}
	if !hasIdentity && !d.Insecure {
		errs = append(errs, errors.New("destination-addr: the destination service is reached over mutual TLS, which needs --identity-addr (or --destination-insecure)"))
	}
	if d.ServerID != "" {
		if _, err := spiffeid.FromString(d.ServerID); err != nil {
			errs = append(errs, fmt.Errorf("destination-server-id: %w", err))
		}
	}
	if d.WorkloadName != "" {
		if _, err := d.workload("", ""); err != nil {
			errs = append(errs, err)
		}
	}
	if d.WorkloadWeight > 10000 {
		errs = append(errs, fmt.Errorf("workload-weight: %d is over 10000", d.WorkloadWeight))
	}
	if d.LeaseTTL <= 0 {
		errs = append(errs, fmt.Errorf("workload-lease-ttl: must be positive, got %v", d.LeaseTTL))
	}
	return errs
}

// workload builds the registration; ns and sa are the identity's.
func (d *DestinationConfig) workload(ns, sa string) (discovery.Workload, error) {
	w := discovery.Workload{Name: d.WorkloadName, Namespace: d.WorkloadNamespace, ServiceAccount: sa,
		Labels: map[string]string{}, PortNames: map[string]uint16{}, Weight: uint32(d.WorkloadWeight)}
	if w.Namespace == "" {
		w.Namespace = ns
	}
	if w.Namespace == "" {
		w.Namespace = "default"
	}
	for _, kv := range splitAddrs(d.WorkloadLabels) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return w, fmt.Errorf("workload-labels: %q is not key=value", kv)
		}
		w.Labels[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for _, item := range splitAddrs(d.WorkloadPorts) {
		name, port, named := strings.Cut(item, "=")
		if !named {
			port = name
		}
		var pl PortList
		if err := pl.Set(port); err != nil || len(pl) != 1 {
			return w, fmt.Errorf("workload-ports: %q is not a port or name=port", item)
		}
		w.Ports = append(w.Ports, pl[0])
		if named {
			w.PortNames[strings.TrimSpace(name)] = pl[0]
		}
	}
	if len(w.Ports) == 0 {
		return w, errors.New("workload-ports: a registered workload needs at least one port")
	}
	sort.Slice(w.Ports, func(i, j int) bool { return w.Ports[i] < w.Ports[j] })
	if d.WorkloadAddr != "" {
		a, err := netip.ParseAddr(d.WorkloadAddr)
		if err != nil {
			return w, fmt.Errorf("workload-addr: %w", err)
		}
		w.Addr = a
	} else {
		a, err := firstGlobalAddr()
		if err != nil {
			return w, fmt.Errorf("workload-addr: %w", err)
		}
		w.Addr = a
	}
	return w, nil
}

// firstGlobalAddr returns the host's first global unicast IPv4 address, or
// IPv6 when it has no IPv4.
func firstGlobalAddr() (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, err
	}
	var v6 netip.Addr
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil || !pfx.Addr().IsGlobalUnicast() {
			continue
		}
		if pfx.Addr().Is4() {
			return pfx.Addr(), nil
		}
		if !v6.IsValid() {
			v6 = pfx.Addr()
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, errors.New("no global unicast address found; give --workload-addr")
}
