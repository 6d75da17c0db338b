package netenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"
)

// Options configures New. The zero value is ready to use.
type Options struct {
	// Prefix starts the name of everything the Env creates
	// ("<prefix>-<id>-..."): netns, links, /etc/netns dirs and its owner
	// record. 1 to 5 characters, [a-z][a-z0-9]*. Default "mlt".
	Prefix string
	// PodCIDR is the IPv4 pod subnet; the bridge takes its first address.
	// Default: 10.201.<slot>.0/24, with the first slot whose subnet is not
	// routed on the host nor claimed by another live Env.
	PodCIDR netip.Prefix
	// PodCIDR6 is the IPv6 pod subnet. Default fd6d:6c00:<slot>::/64.
	PodCIDR6 netip.Prefix
	// DisableIPv6 turns IPv6 off; pods then have no Addr6. Default false
	// (dual stack, with duplicate address detection off).
	DisableIPv6 bool
	// ServiceCIDR is routed on-link via eth0 in every pod (never on the
	// host), like Kubernetes ClusterIPs: nothing answers there unless
	// iptables in the pod redirects. Default 10.96.0.0/16.
	ServiceCIDR netip.Prefix
	// ServiceCIDR6 is the IPv6 service range, routed the same way when
	// IPv6 is on. Default fd6d:6c00:ffff::/112.
	ServiceCIDR6 netip.Prefix
}

// closeGrace is how long Close lets processes handle SIGTERM.
const closeGrace = 2 * time.Second

// Env is a set of pods (network namespaces) on one bridge. It is safe for
// concurrent use. Close it when done.
type Env struct {
	prefix string
	name   string // "<prefix>-<id>"
	bridge string
	pod4   netip.Prefix
	pod6   netip.Prefix // invalid when IPv6 is off
	svc4   netip.Prefix
	svc6   netip.Prefix

	mu     sync.Mutex
	closed bool
	pods   []*Pod
	next   int // index of the next pod
	hosts  map[string]netip.Addr
	procs  map[*Proc]struct{}
}

// New creates an Env: it first cleans up stale envs of the same prefix
// (see CleanupStale), picks the subnets, records the calling process as
// owner in /run/meshlite-netenv, then creates the bridge. ctx bounds the
// setup only, not the Env's life. Needs root.
func New(ctx context.Context, opts Options) (*Env, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	e, err := claim(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := e.setupBridge(ctx); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// fill validates opts and sets the defaults (but not the pod subnets,
// which depend on the host).
func (o *Options) fill() error {
	if o.Prefix == "" {
		o.Prefix = "mlt"
	}
	if !prefixRE.MatchString(o.Prefix) {
		return fmt.Errorf("netenv: invalid prefix %q (want %s)", o.Prefix, prefixRE)
	}
	if !o.ServiceCIDR.IsValid() {
		o.ServiceCIDR = netip.MustParsePrefix(defaultServiceCIDR)
	}
	if !o.ServiceCIDR6.IsValid() {
		o.ServiceCIDR6 = netip.MustParsePrefix(defaultServiceCIDR6)
	}
	o.ServiceCIDR, o.ServiceCIDR6 = o.ServiceCIDR.Masked(), o.ServiceCIDR6.Masked()
	checks := []struct {
		name string
		p    netip.Prefix
		v4   bool
	}{{"PodCIDR", o.PodCIDR, true}, {"PodCIDR6", o.PodCIDR6, false},
		{"ServiceCIDR", o.ServiceCIDR, true}, {"ServiceCIDR6", o.ServiceCIDR6, false}}
	for _, c := range checks {
		if c.p.IsValid() && c.p.Addr().Is4() != c.v4 {
			return fmt.Errorf("netenv: %s %s has the wrong address family", c.name, c.p)
		}
	}
	if o.PodCIDR.IsValid() && podCapacity(o.PodCIDR) < 1 {
		return fmt.Errorf("netenv: PodCIDR %s is too small", o.PodCIDR)
	}
	if o.PodCIDR6.IsValid() && podCapacity(o.PodCIDR6) < 1 {
		return fmt.Errorf("netenv: PodCIDR6 %s is too small", o.PodCIDR6)
	}
	o.PodCIDR, o.PodCIDR6 = o.PodCIDR.Masked(), o.PodCIDR6.Masked()
	return nil
}

// claim cleans up stale envs, picks the subnets and an unused id and writes
// the owner record, all under the state lock.
func claim(ctx context.Context, opts Options) (*Env, error) {
	unlock, err := lockState(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	live, err := cleanupStaleLocked(ctx, opts.Prefix)
	if err != nil {
		return nil, err
	}
	used, err := hostRoutes(ctx)
	if err != nil {
		return nil, err
	}
	used = append(used, opts.ServiceCIDR, opts.ServiceCIDR6)
	for _, o := range live {
		used = append(used, o.prefixes()...)
	}
	p4, p6, err := pickSubnets(subnetPlan{want4: opts.PodCIDR, want6: opts.PodCIDR6, ipv6: !opts.DisableIPv6, used: used})
	if err != nil {
		return nil, err
	}
	name, err := freeName(opts.Prefix)
	if err != nil {
		return nil, err
	}
	o, err := self(p4, p6)
	if err != nil {
		return nil, err
	}
	if err := writeRecord(name, o); err != nil {
		return nil, err
	}
	return &Env{
		prefix: opts.Prefix, name: name, bridge: name + "-br",
		pod4: p4, pod6: p6, svc4: opts.ServiceCIDR, svc6: opts.ServiceCIDR6,
		hosts: map[string]netip.Addr{}, procs: map[*Proc]struct{}{},
	}, nil
}

// freeName returns "<prefix>-<id>" with a random id that no owner record
// uses. Stale resources without a record were removed just before, under
// the same lock, so a free record means free names.
func freeName(prefix string) (string, error) {
	for range 100 {
		var b [idLen / 2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("netenv: random id: %w", err)
		}
		name := prefix + "-" + hex.EncodeToString(b[:])
		if _, err := os.Stat(recordPath(name)); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
	}
	return "", fmt.Errorf("netenv: no free id for prefix %q", prefix)
}

// setupBridge creates the bridge with the first address of each subnet.
func (e *Env) setupBridge(ctx context.Context) error {
	mac, err := bridgeMAC()
	if err != nil {
		return fmt.Errorf("netenv: create bridge %s: %w", e.bridge, err)
	}
	lines := []string{
		// No STP, no multicast snooping: ports forward at once and IPv6
		// neighbour discovery is flooded. A MAC address of its own: a
		// bridge without one takes the lowest of its ports', so adding a
		// pod could change it under the pods that cached the old one, and
		// their packets to the host would be lost until their ARP entry
		// went stale (seconds of TCP retransmissions).
		fmt.Sprintf("link add %s address %s type bridge stp_state 0 mcast_snooping 0", e.bridge, mac),
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(e.Gateway(), e.pod4.Bits()), e.bridge),
	}
	if e.pod6.IsValid() {
		lines = append(lines, fmt.Sprintf("addr add %s dev %s nodad", netip.PrefixFrom(e.Gateway6(), e.pod6.Bits()), e.bridge))
	}
	lines = append(lines, fmt.Sprintf("link set %s up", e.bridge))
	if err := ipBatch(ctx, "", lines); err != nil {
		return fmt.Errorf("netenv: create bridge %s: %w", e.bridge, err)
	}
	return nil
}

// bridgeMAC returns a random locally administered unicast MAC address.
func bridgeMAC() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random MAC: %w", err)
	}
	b[0] = b[0]&^0x01 | 0x02 // unicast, locally administered
	return net.HardwareAddr(b[:]).String(), nil
}

// Name returns the Env's name, "<prefix>-<id>", which starts the name of
// everything it creates.
func (e *Env) Name() string { return e.name }

// Bridge returns the name of the bridge in the root namespace.
func (e *Env) Bridge() string { return e.bridge }

// PodCIDR returns the IPv4 pod subnet.
func (e *Env) PodCIDR() netip.Prefix { return e.pod4 }

// PodCIDR6 returns the IPv6 pod subnet, invalid when IPv6 is off.
func (e *Env) PodCIDR6() netip.Prefix { return e.pod6 }

// ServiceCIDR returns the IPv4 service range routed inside the pods.
func (e *Env) ServiceCIDR() netip.Prefix { return e.svc4 }

// ServiceCIDR6 returns the IPv6 service range, invalid when IPv6 is off.
func (e *Env) ServiceCIDR6() netip.Prefix {
	if !e.pod6.IsValid() {
		return netip.Prefix{}
	}
	return e.svc6
}

// Gateway returns the bridge's IPv4 address (the first of PodCIDR), from
// which the host reaches the pods.
func (e *Env) Gateway() netip.Addr { return nthAddr(e.pod4, 1) }

// Gateway6 returns the bridge's IPv6 address, zero when IPv6 is off.
func (e *Env) Gateway6() netip.Addr {
	if !e.pod6.IsValid() {
		return netip.Addr{}
	}
	return nthAddr(e.pod6, 1)
}

// Pods returns the pods in the order they were added.
func (e *Env) Pods() []*Pod {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.pods)
}

// Pod returns the pod with that name, or nil.
func (e *Env) Pod(name string) *Pod {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.pods {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Close stops every process started in the pods (SIGTERM, a short grace,
// then SIGKILL), kills whatever else runs in them, and deletes the veths,
// the namespaces, the bridge, the /etc/netns dirs and the owner record. It
// goes on past failures and returns them all. Calls after the first return
// nil.
func (e *Env) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	procs := make([]*Proc, 0, len(e.procs))
	for p := range e.procs {
		procs = append(procs, p)
	}
	e.mu.Unlock()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range procs {
		wg.Go(func() {
			if err := p.Stop(closeGrace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Inventory by name rather than from e.pods, so half-made pods go too.
	found, _, err := inventory(ctx, e.prefix)
	if err != nil {
		errs = append(errs, err)
	} else if res := found[e.name]; res != nil {
		errs = append(errs, destroy(ctx, res)...)
	}
	if err := os.Remove(recordPath(e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("netenv: remove owner record: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netenv: close %s: %w", e.name, err)
	}
	return nil
}

// track registers a started process so Close stops it; it fails once the
// Env is closed. start runs with the lock held, so Close cannot miss it.
func (e *Env) track(p *Proc, start func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if err := start(); err != nil {
		return err
	}
	e.procs[p] = struct{}{}
	return nil
}

// untrack forgets an exited process.
func (e *Env) untrack(p *Proc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.procs, p)
}
