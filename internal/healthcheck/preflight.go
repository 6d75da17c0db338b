package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meshlite/meshlite/init/redirect"
)

// CategoryPreFlight is the pre-flight category (meshctl check --pre).
const CategoryPreFlight = "pre-flight"

// PreFlightEnv tunes the pre-flight checks, which look at this machine.
type PreFlightEnv struct {
	// Ports the proxy listens on; default 4140, 4143 and 4191.
	Ports []int
	// IPv6 tests the IPv6 rules too; default when the kernel has IPv6
	// (/proc/net/if_inet6 exists).
	IPv6 *bool
	// LockWait bounds waiting for the xtables lock; default 5s.
	LockWait time.Duration
}

// PreFlight returns the checks that this machine can run a meshed
// workload: an iptables backend that works, NET_ADMIN, a kernel that
// takes meshlite's redirect rules (tried in a throwaway network
// namespace) and the proxy's ports free.
func PreFlight(env PreFlightEnv) Category {
	if len(env.Ports) == 0 {
		env.Ports = []int{redirect.DefaultOutboundPort, redirect.DefaultInboundPort, redirect.DefaultAdminPort}
	}
	ipv6 := hasIPv6()
	if env.IPv6 != nil {
		ipv6 = *env.IPv6
	}
	if env.LockWait <= 0 {
		env.LockWait = 5 * time.Second
	}
	var mode redirect.Mode
	return Category{Name: CategoryPreFlight, Checkers: []Checker{
		{
			Description: "iptables backend is present and usable",
			Hint:        "install iptables (Debian: apt-get install iptables) and run as root",
			Fatal:       true,
			Check: func(ctx context.Context) error {
				m, err := redirect.ChooseMode(redirect.Detect(ctx, ipv6))
				if err != nil {
					return err
				}
				mode = m
				t, err := redirect.Open(ctx, m, redirect.IPv4, env.LockWait)
				if err != nil {
					return err
				}
				if _, err := t.Tables.ListChains(redirect.Table); err != nil {
					return fmt.Errorf("%s (%s mode) cannot list the nat table: %w", t.Path, m, err)
				}
				return nil
			},
		},
		{
			Description: "has the NET_ADMIN capability",
			Hint:        "meshlite-init needs root or CAP_NET_ADMIN (an init container with the NET_ADMIN capability)",
			Check:       func(context.Context) error { return redirect.CheckNetAdmin() },
		},
		{
			Description: "kernel supports meshlite's redirect rules",
			Hint:        "the kernel needs the nat table with the REDIRECT target and the owner, multiport and comment matches (modules iptable_nat or nft_chain_nat, xt_REDIRECT, xt_owner, xt_multiport, xt_comment)",
			Check: func(ctx context.Context) error {
				return tryPlan(ctx, mode, ipv6, env.LockWait)
			},
		},
		{
			Description: fmt.Sprintf("proxy ports are free (%s)", joinInts(env.Ports)),
			Hint:        "stop what listens there, or give the proxy and meshlite-init other ports",
			Check: func(context.Context) error {
				var errs []error
				for _, p := range env.Ports {
					ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
					if err != nil {
						errs = append(errs, fmt.Errorf("port %d: %w", p, err))
						continue
					}
					ln.Close()
				}
				return errors.Join(errs...)
			},
		},
	}}
}

// tryPlan installs and verifies meshlite-init's default rules in a
// network namespace made for the purpose, which vanishes afterwards.
func tryPlan(ctx context.Context, mode redirect.Mode, ipv6 bool, lockWait time.Duration) error {
	o := redirect.DefaultOptions()
	o.IPv6 = ipv6
	plan, err := redirect.NewPlan(o)
	if err != nil {
		return err
	}
	return inNewNetns(func() error {
		var targets []redirect.Target
		for _, fp := range plan.Families {
			t, err := redirect.Open(ctx, mode, fp.Family, lockWait)
			if err != nil {
				return err
			}
			targets = append(targets, t)
		}
		if _, err := redirect.Apply(plan, targets); err != nil {
			return fmt.Errorf("installing the rules in a throwaway network namespace: %w", err)
		}
		if err := redirect.Verify(plan, targets); err != nil {
			return fmt.Errorf("reading the rules back: %w", err)
		}
		return nil
	})
}

// inNewNetns runs fn on a thread of its own in a new network namespace;
// processes fn starts run there too. The thread is never given back to
// the scheduler: it ends with fn, and the namespace with it.
func inNewNetns(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("creating a throwaway network namespace (needs root): %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func hasIPv6() bool {
	_, err := os.Stat("/proc/net/if_inet6")
	return err == nil
}

func joinInts(v []int) string {
	s := ""
	for i, n := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(n)
	}
	return s
}
