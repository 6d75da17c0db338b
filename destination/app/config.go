package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/health"
	"github.com/meshlite/meshlite/destination/kube"
	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/translate"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/identity"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "MESHLITE_DESTINATION_"

// Registry backends for Config.Registry.
const (
	RegistryEmbedded   = "embedded"
	RegistryKubernetes = "kubernetes"
)

// Service identity defaults: spiffe://<td>/ns/meshlite/sa/destination.
const (
	DefaultServiceNamespace = "meshlite"
	DefaultServiceAccount   = "destination"
)

// Config is the destination service's configuration. Each field is a
// flag and an environment variable (see RegisterFlags); the comment gives
// the default.
type Config struct {
	Addr      string // :8086, gRPC
	AdminAddr string // :9996, /live /ready /metrics /logs/level

	Registry string // embedded, or kubernetes

	// Embedded registry.
	ConfigDir    string        // /etc/meshlite/destination
	PollInterval time.Duration // 1s: how often ConfigDir is read again
	StateFile    string        // /var/lib/meshlite/destination.db; "" keeps registrations in memory
	LeaseTTL     time.Duration // 15s

	// Kubernetes registry.
	Kubeconfig    string // "": in-cluster configuration
	KubeAllMeshed bool   // false: only pods annotated meshlite.io/proxy-version are meshed
	MeshPort      uint   // 4143: a meshed pod's proxy inbound port
	// KubeCRDRecheck is how often the API is asked again for the Istio
	// and Gateway API custom resources that are not installed.
	KubeCRDRecheck time.Duration // 30s

	TrustDomain   string // cluster.local
	ClusterDomain string // cluster.local
	// RootNamespace holds the PeerAuthentication and AuthorizationPolicy
	// resources that apply to the whole mesh.
	RootNamespace    string        // meshlite
	PassiveEjectTime time.Duration // 30s: how long an endpoint reported failing stays out

	// Insecure serves plaintext gRPC without authentication: for tests
	// and demos only.
	Insecure bool // false
	// Identity obtains the service's own SVID (identity-* flags); used
	// when Identity.Addr is set.
	Identity identity.Config

	LogLevel      string        // info
	ShutdownGrace time.Duration // 10s
}

// Default returns the defaults.
func Default() Config {
	id := identity.Default()
	id.Namespace, id.ServiceAccount = DefaultServiceNamespace, DefaultServiceAccount
	return Config{
		Addr:             ":8086",
		AdminAddr:        ":9996",
		Registry:         RegistryEmbedded,
		ConfigDir:        "/etc/meshlite/destination",
		PollInterval:     time.Second,
		StateFile:        "/var/lib/meshlite/destination.db",
		LeaseTTL:         lease.DefaultTTL,
		MeshPort:         4143,
		KubeCRDRecheck:   kube.DefaultCRDRecheck,
		TrustDomain:      "cluster.local",
		ClusterDomain:    "cluster.local",
		RootNamespace:    translate.DefaultRootNamespace,
		PassiveEjectTime: health.DefaultEjectFor,
		Identity:         id,
		LogLevel:         "info",
		ShutdownGrace:    10 * time.Second,
	}
}

// RegisterFlags defines the flags on fs, with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "address of the gRPC server proxies call")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "address of the admin server (/live, /ready, /metrics, /logs/level)")
	fs.StringVar(&c.Registry, "registry", c.Registry, "registry backend: embedded (YAML files and registrations) or kubernetes")
	fs.StringVar(&c.ConfigDir, "config-dir", c.ConfigDir, "embedded: directory of YAML files (Services, HealthChecks), followed for changes")
	fs.DurationVar(&c.PollInterval, "poll-interval", c.PollInterval, "embedded: how often --config-dir is read for changes")
	fs.StringVar(&c.StateFile, "state-file", c.StateFile, "embedded: bbolt file keeping registrations across restarts (empty: memory only)")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", c.LeaseTTL, "embedded: a registration not renewed within this long is removed (the longest TTL granted)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubernetes: kubeconfig file (empty: in-cluster configuration)")
	fs.BoolVar(&c.KubeAllMeshed, "kube-all-meshed", c.KubeAllMeshed, "kubernetes: treat every pod as meshed, not only those annotated meshlite.io/proxy-version")
	fs.UintVar(&c.MeshPort, "mesh-port", c.MeshPort, "kubernetes: a meshed pod's proxy inbound port")
	fs.DurationVar(&c.KubeCRDRecheck, "kube-crd-recheck", c.KubeCRDRecheck, "kubernetes: how often to look again for Istio and Gateway API custom resources that are not installed")
	fs.StringVar(&c.TrustDomain, "trust-domain", c.TrustDomain, "the mesh's trust domain: workload identities are spiffe://<trust-domain>/ns/<ns>/sa/<sa>")
	fs.StringVar(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "DNS suffix of fully qualified service names (name.ns.svc.<cluster-domain>)")
	fs.StringVar(&c.RootNamespace, "root-namespace", c.RootNamespace, "namespace whose PeerAuthentication and AuthorizationPolicy resources apply to the whole mesh")
	fs.DurationVar(&c.PassiveEjectTime, "passive-eject-time", c.PassiveEjectTime, "how long an endpoint that proxies report failing stays out of the sets, unless reported healthy sooner")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "serve plaintext gRPC with no authentication (tests and demos only)")
	c.Identity.RegisterFlags(fs)
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn, error, disabled")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long in-flight calls may take after SIGTERM")
}

// Validate reports every problem with c, naming the flag.
func (c *Config) Validate() error {
	var errs []error
	for _, a := range []struct{ name, v string }{{"addr", c.Addr}, {"admin-addr", c.AdminAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port: %w", a.name, a.v, err))
		}
	}
	switch c.Registry {
	case RegistryEmbedded:
		if c.ConfigDir == "" {
			errs = append(errs, errors.New("config-dir: required with --registry=embedded"))
		}
	case RegistryKubernetes:
	default:
		errs = append(errs, fmt.Errorf("registry: %q, want embedded or kubernetes", c.Registry))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"poll-interval", c.PollInterval}, {"lease-ttl", c.LeaseTTL}, {"passive-eject-time", c.PassiveEjectTime},
		{"kube-crd-recheck", c.KubeCRDRecheck}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", d.name, d.v))
		}
	}
	if c.MeshPort < 1 || c.MeshPort > 65535 {
		errs = append(errs, fmt.Errorf("mesh-port: %d is out of range (1-65535)", c.MeshPort))
	}
	if _, err := spiffeid.TrustDomainFromString(c.TrustDomain); err != nil {
		errs = append(errs, fmt.Errorf("trust-domain: %w", err))
	}
	if c.ClusterDomain == "" {
		errs = append(errs, errors.New("cluster-domain: required"))
	}
	if e := validation.IsDNS1123Label(c.RootNamespace); len(e) > 0 {
		errs = append(errs, fmt.Errorf("root-namespace: %q: %s", c.RootNamespace, strings.Join(e, "; ")))
	}
	switch {
	case c.Insecure && c.Identity.Addr != "":
		errs = append(errs, errors.New("insecure: cannot be combined with --identity-addr"))
	case !c.Insecure && c.Identity.Addr == "":
		errs = append(errs, errors.New("identity-addr: required to serve mTLS (or --insecure for plaintext, tests and demos only)"))
	case c.Identity.Addr != "":
		if err := c.Identity.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.Identity.TrustDomain != c.TrustDomain {
			errs = append(errs, fmt.Errorf("identity-trust-domain: %q differs from --trust-domain %q", c.Identity.TrustDomain, c.TrustDomain))
		}
	}
	if _, err := logging.Parse(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log-level: %w", err))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown-grace: must not be negative, got %v", c.ShutdownGrace))
	}
	return errors.Join(errs...)
}
