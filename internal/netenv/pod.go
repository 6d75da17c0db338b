package netenv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// podNameRE is what a pod name must match: a DNS label.
var podNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// PodOptions configures AddPod. The zero value is ready to use.
type PodOptions struct {
	// Sysctls are written under /proc/sys inside the pod after its network
	// is up, e.g. {"net.ipv4.ip_local_port_range": "20000 30000"}; only
	// per-namespace (net.*) keys make sense. Default none.
	Sysctls map[string]string
}

// Pod is a network namespace with one interface, eth0, on the Env's bridge.
// Its fields are set by AddPod and must not be changed.
type Pod struct {
	// Name is the name given to AddPod.
	Name string
	// NetNS is the name of the network namespace, "<prefix>-<id>-<name>".
	NetNS string
	// Addr is eth0's IPv4 address.
	Addr netip.Addr
	// Addr6 is eth0's IPv6 address, zero when IPv6 is off.
	Addr6 netip.Addr

	env  *Env
	veth string // host side of the veth pair
}

// NSPath returns the path of the namespace file, /run/netns/<NetNS>.
func (p *Pod) NSPath() string { return filepath.Join("/run/netns", p.NetNS) }

// Env returns the Env the pod belongs to.
func (p *Pod) Env() *Env { return p.env }

// AddPod creates a pod: a netns "<prefix>-<id>-<name>", a veth pair whose
// host side is on the bridge and whose pod side is eth0 with the next free
// address of each subnet, lo and eth0 up, a connected route for the pod
// subnet and an on-link route for the service range, and no default route.
// Its /etc/netns/<netns>/hosts holds the Env's host names (see SetHosts).
// name must be a DNS label of at most 40 characters.
func (e *Env) AddPod(ctx context.Context, name string, opts PodOptions) (*Pod, error) {
	if !podNameRE.MatchString(name) {
		return nil, fmt.Errorf("netenv: invalid pod name %q (want a DNS label, at most 40 characters)", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if slices.ContainsFunc(e.pods, func(p *Pod) bool { return p.Name == name }) {
		return nil, fmt.Errorf("netenv: add pod %q: %w", name, ErrPodExists)
	}
	idx := e.next
	if idx >= podCapacity(e.pod4) || (e.pod6.IsValid() && idx >= podCapacity(e.pod6)) {
		return nil, fmt.Errorf("netenv: add pod %q to %s: %w", name, e.pod4, ErrSubnetFull)
	}
	e.next++
	p := &Pod{
		Name:  name,
		NetNS: e.name + "-" + name,
		Addr:  nthAddr(e.pod4, idx+2),
		env:   e,
		veth:  fmt.Sprintf("%s-v%d", e.name, idx),
	}
	if e.pod6.IsValid() {
		p.Addr6 = nthAddr(e.pod6, idx+2)
	}
	if err := e.setupPod(ctx, p, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("netenv: add pod %q: %w", name, err), e.removePod(ctx, p))
	}
	e.pods = append(e.pods, p)
	return p, nil
}

// setupPod creates the namespace, veth pair, addresses and routes of p.
func (e *Env) setupPod(ctx context.Context, p *Pod, opts PodOptions) error {
	if err := os.MkdirAll(filepath.Join(etcNetns, p.NetNS), 0o755); err != nil {
		return fmt.Errorf("netenv: %w", err)
	}
	if err := writeHosts(p, e.hosts); err != nil {
		return err
	}
	if _, err := ip(ctx, "netns", "add", p.NetNS); err != nil {
		return err
	}
	err := ipBatch(ctx, "", []string{
		fmt.Sprintf("link add %s type veth peer name eth0 netns %s", p.veth, p.NetNS),
		fmt.Sprintf("link set %s master %s", p.veth, e.bridge),
		fmt.Sprintf("link set %s up", p.veth),
	})
	if err != nil {
		return err
	}
	lines := []string{
		"link set lo up",
		fmt.Sprintf("addr add %s dev eth0", netip.PrefixFrom(p.Addr, e.pod4.Bits())),
	}
	if p.Addr6.IsValid() {
		lines = append(lines, fmt.Sprintf("addr add %s dev eth0 nodad", netip.PrefixFrom(p.Addr6, e.pod6.Bits())))
	}
	lines = append(lines, "link set eth0 up", fmt.Sprintf("route add %s dev eth0", e.svc4))
	if p.Addr6.IsValid() {
		lines = append(lines, fmt.Sprintf("route add %s dev eth0", e.svc6))
	}
	if err := ipBatch(ctx, p.NetNS, lines); err != nil {
		return err
	}
	return p.setSysctls(opts.Sysctls)
}

// setSysctls writes each key (dotted, as for sysctl(8)) under /proc/sys from
// inside the pod, where /proc/sys/net is the pod's.
func (p *Pod) setSysctls(kv map[string]string) error {
	if len(kv) == 0 {
		return nil
	}
	return p.Do(func() error {
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			if strings.Contains(k, "..") || strings.Contains(k, "/") {
				return fmt.Errorf("netenv: invalid sysctl key %q", k)
			}
			path := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
			if err := os.WriteFile(path, []byte(kv[k]), 0o644); err != nil {
				return fmt.Errorf("netenv: sysctl %s=%s: %w", k, kv[k], err)
			}
		}
		return nil
	})
}

// removePod undoes a half-made pod.
func (e *Env) removePod(ctx context.Context, p *Pod) error {
	res := &resources{links: []string{p.veth}, netns: []string{p.NetNS}, dirs: []string{p.NetNS}}
	links, err := listLinks(ctx)
	if err == nil && !slices.Contains(links, p.veth) {
		res.links = nil
	}
	netns, err := listNetns(ctx)
	if err == nil && !slices.Contains(netns, p.NetNS) {
		res.netns = nil
	}
	return errors.Join(destroy(ctx, res)...)
}

// SetHosts sets the name-to-address map written to /etc/netns/<netns>/hosts
// of every pod, now and for pods added later; `ip netns exec` (so Start and
// Command) bind-mounts it over /etc/hosts. Each file also maps localhost and
// the pod's own name (unless hosts maps that name). The file is rewritten
// in place, so processes already running see the change.
func (e *Env) SetHosts(hosts map[string]netip.Addr) error {
	for name, a := range hosts {
		if name == "" || strings.ContainsAny(name, " \t\r\n#") || !a.IsValid() {
			return fmt.Errorf("netenv: invalid hosts entry %q -> %v", name, a)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.hosts = maps.Clone(hosts)
	var errs []error
	for _, p := range e.pods {
		errs = append(errs, writeHosts(p, e.hosts))
	}
	return errors.Join(errs...)
}

// lookupHost returns the address SetHosts mapped name to.
func (e *Env) lookupHost(name string) (netip.Addr, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.hosts[name]
	return a, ok
}

// writeHosts writes the hosts file of p.
func writeHosts(p *Pod, hosts map[string]netip.Addr) error {
	path := filepath.Join(etcNetns, p.NetNS, "hosts")
	if err := os.WriteFile(path, hostsFile(p, hosts), 0o644); err != nil {
		return fmt.Errorf("netenv: write hosts of pod %s: %w", p.Name, err)
	}
	return nil
}

// hostsFile renders the hosts file of p: localhost, the pod's own name,
// then the entries sorted by name.
func hostsFile(p *Pod, hosts map[string]netip.Addr) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by meshlite netenv for pod %s\n", p.Name)
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if _, ok := hosts[p.Name]; !ok {
		fmt.Fprintf(&b, "%s\t%s\n", p.Addr, p.Name)
		if p.Addr6.IsValid() {
			fmt.Fprintf(&b, "%s\t%s\n", p.Addr6, p.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		fmt.Fprintf(&b, "%s\t%s\n", hosts[name], name)
	}
	return []byte(b.String())
}
