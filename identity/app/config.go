package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/identity/server"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "MESHLITE_IDENTITY_"

// Attestor names for Config.Attest.
const (
	AttestJoin       = "join"
	AttestKubernetes = "kubernetes"
)

// Config is the identity service's configuration. Each field is a flag
// and an environment variable (see RegisterFlags); the comment gives the
// default.
type Config struct {
	Addr      string // :8080, gRPC (TLS)
	AdminAddr string // :9990, /live /ready /metrics /logs/level

	TrustDomain string // cluster.local
	// Dir holds anchor.crt, issuer.crt, issuer.key and join.pub as
	// `meshctl identity create` writes them; each file flag left empty
	// defaults to its file in Dir.
	Dir            string // ""
	TrustAnchors   string // <dir>/anchor.crt
	IssuerCert     string // <dir>/issuer.crt
	IssuerKey      string // <dir>/issuer.key
	JoinPublicKeys string // <dir>/join.pub (only with the join attestor)

	// Attest is a comma-separated list of attestors tried in order.
	Attest       string // join
	Kubeconfig   string // "": in-cluster configuration
	KubeAudience string // identity.meshlite.io

	LeafLifetime   time.Duration // 24h
	ReloadInterval time.Duration // 5s: how often the issuer files are checked

	ServiceNamespace string // meshlite: the namespace in the service's own SPIFFE ID
	ServiceAccount   string // identity: the service account in the service's own SPIFFE ID

	LogLevel      string        // info
	ShutdownGrace time.Duration // 10s
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Addr:             ":8080",
		AdminAddr:        ":9990",
		TrustDomain:      "cluster.local",
		Attest:           AttestJoin,
		KubeAudience:     attest.KubernetesAudience,
		LeafLifetime:     server.DefaultLeafLifetime,
		ReloadInterval:   5 * time.Second,
		ServiceNamespace: spiffe.DefaultIdentityNamespace,
		ServiceAccount:   spiffe.DefaultIdentityServiceAccount,
		LogLevel:         "info",
		ShutdownGrace:    10 * time.Second,
	}
}

// RegisterFlags defines the flags on fs, with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "address of the gRPC (TLS) server proxies call")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "address of the admin server (/live, /ready, /metrics, /logs/level)")
	fs.StringVar(&c.TrustDomain, "trust-domain", c.TrustDomain, "the trust domain identities are issued in")
	fs.StringVar(&c.Dir, "dir", c.Dir, "`directory` written by meshctl identity create; default for the file flags below")
	fs.StringVar(&c.TrustAnchors, "trust-anchors", c.TrustAnchors, "PEM file of the trust anchor(s) (default <dir>/anchor.crt)")
	fs.StringVar(&c.IssuerCert, "issuer-cert", c.IssuerCert, "PEM file of the issuer certificate, reloaded when it changes (default <dir>/issuer.crt)")
	fs.StringVar(&c.IssuerKey, "issuer-key", c.IssuerKey, "PEM (PKCS #8) file of the issuer key, reloaded when it changes (default <dir>/issuer.key)")
	fs.StringVar(&c.JoinPublicKeys, "join-public-keys", c.JoinPublicKeys, "PEM file of the public key(s) join tokens are checked with (default <dir>/join.pub)")
	fs.StringVar(&c.Attest, "attest", c.Attest, "comma-separated attestors, tried in order: join, kubernetes")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubeconfig for the TokenReview API (empty: in-cluster configuration)")
	fs.StringVar(&c.KubeAudience, "kube-audience", c.KubeAudience, "audience required of Kubernetes ServiceAccount tokens")
	fs.DurationVar(&c.LeafLifetime, "leaf-lifetime", c.LeafLifetime, "lifetime of issued certificates (never past the issuer's expiry)")
	fs.DurationVar(&c.ReloadInterval, "reload-interval", c.ReloadInterval, "how often the issuer files are checked for changes")
	fs.StringVar(&c.ServiceNamespace, "service-namespace", c.ServiceNamespace, "namespace in the service's own SPIFFE ID")
	fs.StringVar(&c.ServiceAccount, "service-account", c.ServiceAccount, "service account in the service's own SPIFFE ID")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn, error, disabled")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long in-flight calls may take after SIGTERM")
}

// attestors returns the configured attestor names.
func (c *Config) attestors() []string {
	var out []string
	for _, a := range strings.Split(c.Attest, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// resolve fills the file paths left empty from Dir.
func (c *Config) resolve() {
	for _, f := range []struct {
		p    *string
		name string
	}{
		{&c.TrustAnchors, ca.AnchorCertFile}, {&c.IssuerCert, ca.IssuerCertFile},
		{&c.IssuerKey, ca.IssuerKeyFile}, {&c.JoinPublicKeys, attest.JoinPublicKeyFile},
	} {
		if *f.p == "" && c.Dir != "" {
			*f.p = filepath.Join(c.Dir, f.name)
		}
	}
}

// Validate fills the file paths left empty from Dir, then reports every
// problem with c, naming the flag.
func (c *Config) Validate() error {
	c.resolve()
	var errs []error
	for _, a := range []struct{ name, v string }{{"addr", c.Addr}, {"admin-addr", c.AdminAddr}} {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port: %w", a.name, a.v, err))
		}
	}
	td, err := spiffeid.TrustDomainFromString(c.TrustDomain)
	if err != nil {
		errs = append(errs, fmt.Errorf("trust-domain: %w", err))
	}
	for _, f := range []struct{ name, v string }{
		{"trust-anchors", c.TrustAnchors}, {"issuer-cert", c.IssuerCert}, {"issuer-key", c.IssuerKey},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s: required (or give --dir)", f.name))
		}
	}
	names := c.attestors()
	if len(names) == 0 {
		errs = append(errs, errors.New("attest: at least one attestor needed: join, kubernetes"))
	}
	for i, n := range names {
		switch {
		case n != AttestJoin && n != AttestKubernetes:
			errs = append(errs, fmt.Errorf("attest: unknown attestor %q (want join, kubernetes)", n))
		case slices.Index(names, n) != i:
			errs = append(errs, fmt.Errorf("attest: %q given twice", n))
		}
	}
	if slices.Contains(names, AttestJoin) && c.JoinPublicKeys == "" {
		errs = append(errs, errors.New("join-public-keys: required with --attest=join (or give --dir)"))
	}
	if slices.Contains(names, AttestKubernetes) && c.KubeAudience == "" {
		errs = append(errs, errors.New("kube-audience: required with --attest=kubernetes"))
	}
	if c.LeafLifetime < time.Second {
		errs = append(errs, fmt.Errorf("leaf-lifetime: must be at least 1s, got %v", c.LeafLifetime))
	}
	if c.ReloadInterval <= 0 {
		errs = append(errs, fmt.Errorf("reload-interval: must be positive, got %v", c.ReloadInterval))
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown-grace: must not be negative, got %v", c.ShutdownGrace))
	}
	if err == nil {
		if _, err := spiffe.WorkloadID(td, c.ServiceNamespace, c.ServiceAccount); err != nil {
			errs = append(errs, fmt.Errorf("service-namespace, service-account: %w", err))
		}
	}
	if _, err := logging.Parse(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log-level: %w", err))
	}
	return errors.Join(errs...)
}
