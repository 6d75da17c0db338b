package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
)

// AppUID is the uid the demo's applications run as.
const AppUID = 1000

// TrustDomain of the demo's identities.
const TrustDomain = "demo.meshlite.local"

// Options configure a demo run.
type Options struct {
	// BinDir holds the meshlite binaries and meshlite-demo-app.
	BinDir string
	// Duration ends the demo after this long; 0 runs until ctx ends.
	Duration time.Duration
	// Interval between status reports. Default 3 s.
	Interval time.Duration
	// Rate of the load generator, requests per second. Default 20.
	Rate float64
	Out  io.Writer
	// Show renders the live view once the mesh runs; nil prints a status
	// table every Interval.
	Show func(ctx context.Context, d *Demo) error
}

// Preflight names, in one sentence, what the demo needs and is missing.
func Preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root: it creates network namespaces and iptables rules (run it as root, e.g. sudo make demo)")
	}
	for _, tool := range []string{"ip", "iptables", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the demo needs %q on PATH (Debian: apt-get install iproute2 iptables curl)", tool)
		}
	}
	return nil
}

// Demo is a running demo mesh.
type Demo struct {
	Env     *netenv.Env
	Mesh    *meshenv.Mesh
	Members map[string]*meshenv.Member // by workload name
	Apps    map[string]*netenv.Proc    // each workload's application
	Order   []string                   // workload names, in start order
	out     io.Writer
}

// Services are the demo's service addresses (like ClusterIPs).
var Services = map[string]netip.AddrPort{
	"user-service": netip.MustParseAddrPort("10.96.0.10:9090"),
	"web":          netip.MustParseAddrPort("10.96.0.11:8080"),
	"cache":        netip.MustParseAddrPort("10.96.0.12:7777"),
}

// workload is one of the demo's workloads and its application.
type workload struct {
	name, sa string
	labels   map[string]string
	ports    []string
	app      []string // meshlite-demo-app arguments
}

func workloads(rate float64) []workload {
	api := func(name, version string) workload {
		// Each version runs as its own service account, so its SPIFFE ID
		// (and meshctl top) tells v1 from v2.
		return workload{name: name, sa: "user-service-" + version, labels: map[string]string{"app": "user-service", "version": version},
			ports: []string{"grpc=9090"}, app: []string{"users", "--listen", ":9090", "--version", version, "--replica", name}}
	}
	return []workload{
		api("api-v1-a", "v1"), api("api-v1-b", "v1"), api("api-v2", "v2"),
		{name: "cache", labels: map[string]string{"app": "cache"}, ports: []string{"7777"},
			app: []string{"cache", "--listen", ":7777"}},
		{name: "web", labels: map[string]string{"app": "web"}, ports: []string{"http=8080"},
			app: []string{"web", "--listen", ":8080", "--users", "user-service:9090", "--cache", "cache:7777"}},
		{name: "load", labels: map[string]string{"app": "load"},
			app: []string{"load", "--target", "http://web:8080", "--rate", fmt.Sprint(rate)}},
	}
}

// Run brings the demo up, shows traffic until ctx ends or the duration
// passes, and tears everything down.
func Run(ctx context.Context, o Options) (err error) {
	if err := Preflight(); err != nil {
		return err
	}
	if o.Interval <= 0 {
		o.Interval = 3 * time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	for _, bin := range []string{"meshlite-proxy", "meshlite-init", "meshlite-identity", "meshlite-destination", "meshlite-demo-app"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, bin)); err != nil {
			return fmt.Errorf("demo: %s not found in %s (run make build): %w", bin, o.BinDir, err)
		}
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	// The processes live until teardown, not until ctx ends, so that the
	// last view (meshctl edges) still sees them; Close stops them all.
	d, err := Start(context.WithoutCancel(ctx), o)
	if d != nil {
		defer func() {
			fmt.Fprintln(o.Out, "tearing down: processes, namespaces, links, iptables rules")
			err = errors.Join(err, d.Close())
		}()
	}
	if err != nil {
		return err
	}
	show := o.Show
	if show == nil {
		show = func(ctx context.Context, d *Demo) error { return d.printStatus(ctx, o.Interval) }
	}
	if err := show(ctx, d); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Start builds the demo mesh: control plane, configuration, workloads and
// their applications. On error it returns what it built, for Close.
func Start(ctx context.Context, o Options) (*Demo, error) {
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	env, err := netenv.New(ctx, netenv.Options{Prefix: "mldmo"})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &Demo{Env: env, Members: map[string]*meshenv.Member{}, Apps: map[string]*netenv.Proc{}, out: o.Out}
	hosts := map[string]netip.Addr{}
	for name, ap := range Services {
		hosts[name] = ap.Addr()
	}
	if err := env.SetHosts(hosts); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	say("starting the control plane: meshlite-identity and meshlite-destination (trust domain %s)", TrustDomain)
	d.Mesh, err = meshenv.Start(ctx, env, meshenv.Options{BinDir: o.BinDir, TrustDomain: TrustDomain, Destination: true})
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	for name, text := range Config() {
		if err := d.Mesh.WriteConfig(name, text); err != nil {
			return d, err
		}
	}
	say("configuration: Services %s, and the seed's VirtualService and DestinationRule for user-service", "user-service, web, cache")
	for _, w := range workloads(o.Rate) {
		m, err := d.Mesh.AddWorkload(ctx, meshenv.Workload{Name: w.name, ServiceAccount: w.sa, Labels: w.labels, Ports: w.ports})
		if err != nil {
			return d, fmt.Errorf("demo: %w", err)
		}
		app, err := m.Pod.Start(ctx, netenv.ProcSpec{Name: w.name + "-app", Path: filepath.Join(o.BinDir, "meshlite-demo-app"),
			Args: w.app, UID: AppUID, GID: AppUID})
		if err != nil {
			return d, fmt.Errorf("demo: %s: %w", w.name, err)
		}
		d.Apps[w.name] = app
		d.Members[w.name] = m
		d.Order = append(d.Order, w.name)
		say("  %-9s %-15s %-22s %s", w.name, m.Pod.Addr, m.Pod.NetNS, m.ID)
	}
	say("every workload above got its certificate from meshlite-identity; every hop between them is mutual TLS")
	return d, nil
}

// Close tears the demo down: every process, namespace, link and rule.
func (d *Demo) Close() error {
	var errs []error
	if d.Mesh != nil {
		errs = append(errs, d.Mesh.Close())
	}
	errs = append(errs, d.Env.Close())
	return errors.Join(errs...)
}
