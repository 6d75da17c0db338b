package topology

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/meshlite/meshlite/bench/peers"
	"github.com/meshlite/meshlite/internal/netenv"
)

// Bins are the programs the topologies run.
type Bins struct {
	// Proxy is meshlite-proxy.
	Proxy string
	// ProxyProf is meshlite-proxy-prof (meshlite-proxy with a CPU
	// profile), used instead of Proxy when Deps.ProfileDir is set.
	ProxyProf string
	// Peer is benchpeer (the Go relay and reverse proxy).
	Peer string
	// Identity is meshlite-identity, for meshlite-mtls.
	Identity string
	// HAProxy and Nginx are the Debian binaries.
	HAProxy, Nginx string
}

// Deps is what a Setup needs besides the pods.
type Deps struct {
	Bins Bins
	// Dir is a directory of the topology's own for configurations and
	// certificates; Setup makes it readable by ProxyUID.
	Dir string
	// Threads is the worker threads of every proxy: GOMAXPROCS for the Go
	// proxies, nbthread for HAProxy, worker_processes for nginx.
	Threads int
	// Ports are the backend's ports.
	Ports Ports
	// Certs is the PKI of the mTLS peers.
	Certs *peers.Certs
	// ProfileDir, when set, makes meshlite run as Bins.ProxyProf and
	// write <topology>-<side>.pprof there when it exits (meshlite-client,
	// meshlite-mtls-server...). Default "" (off).
	ProfileDir string
	// Started, when set, is told of every process Setup starts that is
	// not a Proxy (meshlite-mtls: the identity service), so that the
	// caller can keep its output. Such processes are never measured.
	Started func(*netenv.Proc)
}

// Pair is a topology's pods.
type Pair struct {
	Client, Server *netenv.Pod
	// Control is a third pod, for a topology that asks for one
	// (Topology.Control): its control plane runs there, outside the
	// traffic path. Nil otherwise.
	Control *netenv.Pod
}

// Side names the pod a proxy runs in: "client" or "server".
type Side string

// The sides.
const (
	ClientSide Side = "client"
	ServerSide Side = "server"
)

// Proxy is one proxy process to measure.
type Proxy struct {
	Side Side
	Proc *netenv.Proc
	// MetricsURL is the proxy's Prometheus endpoint, reachable from the
	// host, or "" when it has none.
	MetricsURL string
}

// Topology is one way from the client pod to the backend.
type Topology struct {
	// Name identifies it in flags, tables and file names.
	Name string
	// Summary says, in one line, what sits in the path.
	Summary string
	// Capture says how traffic reaches the proxies.
	Capture string
	// Protos are what it carries; nil means every protocol.
	Protos []Proto
	// Needs are the external programs Setup runs (checked up front).
	Needs []string
	// Control asks for Pair.Control, a third pod for the topology's
	// control plane.
	Control bool
	// Setup installs the rules and starts the proxies, waits until they
	// listen, and returns them (none for direct).
	Setup func(ctx context.Context, pair Pair, d Deps) ([]Proxy, error)
	// Verify, when set, runs after Check's requests have gone through and
	// fails unless they took the path the topology claims (meshlite-mtls:
	// over mutual TLS between the pods). A failure fails the set-up.
	Verify func(ctx context.Context, proxies []Proxy) error
}

// Carries reports whether t can carry protocol p.
func (t Topology) Carries(p Proto) bool { return t.Protos == nil || slices.Contains(t.Protos, p) }

const (
	transparent = "iptables REDIRECT of all TCP in both pods (outbound :4140, inbound :4143), SO_ORIGINAL_DST"
	perPort     = "iptables REDIRECT by destination port in both pods, one listener per app port, static upstream"
)

// All returns every topology, in report order.
func All() []Topology {
	return []Topology{
		{
			Name:    "direct",
			Summary: "client → backend, no proxy: the physical floor of this machine",
			Capture: "none",
			Setup:   func(context.Context, Pair, Deps) ([]Proxy, error) { return nil, nil },
		},
		{
			Name:    "meshlite",
			Summary: "meshlite-proxy outbound → meshlite-proxy inbound, plaintext, --access-log=false",
			Capture: transparent,
			Setup:   setupMeshlite,
		},
		{
			Name: "meshlite-mtls",
			Summary: "meshlite-proxy outbound → meshlite-proxy inbound, mutual TLS 1.3 (ECDSA P-256 SPIFFE certificates from meshlite-identity in a third pod, " +
				"the server pod in the client proxy's --meshed-endpoints), HTTP multiplexed over one HTTP/2 connection per endpoint between the pair, --access-log=false",
			Capture: transparent,
			Control: true,
			Setup:   setupMeshliteMTLS,
			Verify:  verifyMTLS,
		},
		{
			Name:    "haproxy-mtls",
			Summary: "HAProxy → HAProxy, mTLS (ECDSA P-256, TLS 1.3), HTTP/2 between the pair for HTTP, http-reuse always",
			Capture: perPort,
			Needs:   []string{"haproxy"},
			Setup:   setupStatic("haproxy"),
		},
		{
			Name:    "nginx-mtls",
			Summary: "nginx → nginx, mTLS (ECDSA P-256, TLS 1.3), HTTP/1.1 keep-alive between the pair (HTTP/2 for gRPC), stream module for TCP",
			Capture: perPort,
			Needs:   []string{"nginx"},
			Setup:   setupStatic("nginx"),
		},
		{
			Name:    "go-reverseproxy",
			Summary: "httputil.ReverseProxy → httputil.ReverseProxy, plaintext h2c between the pair; HTTP only",
			Capture: transparent,
			Protos:  []Proto{HTTP1, H2C, GRPC},
			Setup:   setupGoPeer("reverseproxy"),
		},
		{
			Name:    "tcp-relay",
			Summary: "io.Copy relay → io.Copy relay, plaintext, L4 only: the floor for a Go proxy pair",
			Capture: transparent,
			Setup:   setupGoPeer("relay"),
		},
	}
}

// Select returns the topologies named in names (all when names is empty),
// in report order.
func Select(names []string) ([]Topology, error) {
	all := All()
	if len(names) == 0 {
		return all, nil
	}
	var out []Topology
	for _, t := range all {
		if slices.Contains(names, t.Name) {
			out = append(out, t)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(t Topology) bool { return t.Name == n }) {
			return nil, fmt.Errorf("topology: unknown topology %q (have %s)", n, strings.Join(Names(all), ", "))
		}
	}
	return out, nil
}

// Names returns the names of ts.
func Names(ts []Topology) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
