package healthcheck

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// CategoryDataPlane is the proxies' category.
const CategoryDataPlane = "data-plane"

// Proxy is a data-plane proxy to check.
type Proxy struct {
	// Admin is the proxy's admin address, host:port.
	Admin string
	// Namespace and Name are its workload's, when the destination service
	// knows it.
	Namespace, Name string
	// Identity is the SPIFFE ID the proxy should present; "" when not
	// known (it must then be some workload's ID in the trust domain).
	Identity string
}

// String names the proxy in messages: "default/web (10.201.0.3:4191)".
func (p Proxy) String() string {
	if p.Name == "" {
		return p.Admin
	}
	return p.Namespace + "/" + p.Name + " (" + p.Admin + ")"
}

// DataPlaneEnv is what the data-plane checks reach.
type DataPlaneEnv struct {
	// Proxies lists the proxies to check. An error with some proxies
	// (those named on the command line when the destination service
	// fails) is a warning; without any, a failure.
	Proxies func(ctx context.Context) ([]Proxy, error)
	// Ready asks a proxy's /ready.
	Ready func(ctx context.Context, p Proxy) error
	// Certificate returns the chain a proxy presents (leaf first).
	Certificate func(ctx context.Context, p Proxy) ([]*x509.Certificate, error)
	// TrustDomain and Anchors verify the proxies' certificates.
	TrustDomain spiffeid.TrustDomain
	Anchors     []*x509.Certificate
	// Rules verifies a proxy's iptables rules (meshlite-init --verify in
	// its network namespace); nil when that cannot be done here.
	Rules func(ctx context.Context, p Proxy) error
	// Version returns the version a proxy reports, "" when it reports
	// none.
	Version func(ctx context.Context, p Proxy) (string, error)
	// ControlPlaneVersion is the control plane's version, "" when not
	// known.
	ControlPlaneVersion string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// parallel bounds how many proxies are asked at once.
const parallel = 8

// DataPlane returns the proxies' checks: known, ready, holding a valid
// certificate chained to the trust anchors with the expected identity,
// their iptables rules in place, and one version with the control plane.
func DataPlane(env DataPlaneEnv) Category {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	var proxies []Proxy
	var mu sync.Mutex
	certs := map[string][]*x509.Certificate{}
	certErrs := map[string]error{}
	return Category{Name: CategoryDataPlane, Checkers: []Checker{
		{
			Description: "data-plane proxies are known",
			Hint:        "give proxies' admin addresses with --proxy, or --destination to list the registered workloads",
			Fatal:       true,
			Check: func(ctx context.Context) error {
				var err error
				proxies, err = env.Proxies(ctx)
				switch {
				case len(proxies) == 0 && err != nil:
					return err
				case len(proxies) == 0:
					return errors.New("no proxies: none given with --proxy and none registered with the destination service")
				case err != nil:
					return Warn(fmt.Errorf("%w; checking the %d proxies given with --proxy", err, len(proxies)))
				}
				return nil
			},
		},
		{
			Description: "data-plane proxies are ready",
			Hint:        "a proxy is ready once its listeners serve and it holds a certificate: see its log",
			Check: func(ctx context.Context) error {
				return forEach(ctx, proxies, env.Ready)
			},
		},
		{
			Description: "data-plane proxies hold valid certificates chained to the trust anchors",
			Hint:        "a proxy renews its certificate at 70% of its lifetime; see the proxy's and meshlite-identity's logs",
			Check: func(ctx context.Context) error {
				bundle := x509bundle.FromX509Authorities(env.TrustDomain, env.Anchors)
				return forEach(ctx, proxies, func(ctx context.Context, p Proxy) error {
					chain, err := env.Certificate(ctx, p)
					mu.Lock()
					certs[p.Admin], certErrs[p.Admin] = chain, err
					mu.Unlock()
					if err != nil {
						return err
					}
					if _, _, err := x509svid.Verify(chain, bundle, x509svid.WithTime(now())); err != nil {
						return fmt.Errorf("certificate %s: %w", name(chain[0]), err)
					}
					return nil
				})
			},
		},
		{
			Description: "data-plane proxies present the expected identities",
			Hint:        "the proxy's --identity-namespace and --identity-service-account must make the identity it registers",
			Check: func(ctx context.Context) error {
				return forEach(ctx, proxies, func(_ context.Context, p Proxy) error {
					mu.Lock()
					chain, err := certs[p.Admin], certErrs[p.Admin]
					mu.Unlock()
					if err != nil || len(chain) == 0 {
						return fmt.Errorf("no certificate to check: %v", err)
					}
					return expectedIdentity(chain[0], p, env.TrustDomain)
				})
			},
		},
		{
			Description: "data-plane proxies have their iptables rules in place (meshlite-init --verify)",
			Hint:        "run meshlite-init again in the workload's network namespace (its traffic bypasses the proxy meanwhile)",
			Check: func(ctx context.Context) error {
				if env.Rules == nil {
					return Warn(errors.New("not checked: the proxies' network namespaces cannot be entered from here (needs root on the proxies' machine)"))
				}
				return forEach(ctx, proxies, env.Rules)
			},
		},
		{
			Description: "data-plane proxies run the control plane's version",
			Hint:        "restart the proxies with the control plane's version",
			Warning:     true,
			Check: func(ctx context.Context) error {
				return versions(ctx, proxies, env.Version, env.ControlPlaneVersion)
			},
		},
	}}
}

// expectedIdentity checks the SPIFFE ID of leaf against p.Identity, or,
// when that is not known, that it is a workload ID of td.
func expectedIdentity(leaf *x509.Certificate, p Proxy, td spiffeid.TrustDomain) error {
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", name(leaf), err)
	}
	if p.Identity != "" {
		if id.String() != p.Identity {
			return fmt.Errorf("presents %s, registered as %s", id, p.Identity)
		}
		return nil
	}
	if err := spiffe.CheckWorkloadID(id, td); err != nil {
		return fmt.Errorf("presents %s: %w", id, err)
	}
	return nil
}

// versions compares the proxies' versions with the control plane's (or,
// when that is unknown, with each other).
func versions(ctx context.Context, proxies []Proxy, version func(context.Context, Proxy) (string, error), want string) error {
	if version == nil {
		return Skip("proxies' versions are not known")
	}
	var mu sync.Mutex
	byVersion := map[string][]string{}
	err := forEach(ctx, proxies, func(ctx context.Context, p Proxy) error {
		v, err := version(ctx, p)
		if err != nil {
			return err
		}
		if v != "" {
			mu.Lock()
			byVersion[v] = append(byVersion[v], p.String())
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(byVersion) == 0 {
		return Skip("the proxies report no version (no *_build_info metric with a version label)")
	}
	var errs []error
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		switch {
		case want != "" && v != want:
			errs = append(errs, fmt.Errorf("%s run %s, the control plane %s", strings.Join(byVersion[v], ", "), v, want))
		case want == "" && len(byVersion) > 1:
			errs = append(errs, fmt.Errorf("%s run %s", strings.Join(byVersion[v], ", "), v))
		}
	}
	return errors.Join(errs...)
}

// forEach runs fn for every proxy, a few at a time, and joins the errors,
// each prefixed with its proxy, in the proxies' order. When every error
// is a warning the result is a warning.
func forEach(ctx context.Context, proxies []Proxy, fn func(context.Context, Proxy) error) error {
	errs := make([]error, len(proxies))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(ctx, p)
		}()
	}
	wg.Wait()
	var out []error
	warnOnly := true
	for i, err := range errs {
		if err == nil {
			continue
		}
		var w *warnError
		if !errors.As(err, &w) {
			warnOnly = false
		}
		// Flattened, so that a warning among failures does not make the
		// whole a warning.
		out = append(out, fmt.Errorf("%s: %s", proxies[i], err))
	}
	if len(out) == 0 {
		return nil
	}
	if warnOnly {
		return Warn(errors.Join(out...))
	}
	return errors.Join(out...)
}
