package identity

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// DefaultTokenFile is where a Kubernetes pod's projected ServiceAccount
// token for the identity service is mounted.
const DefaultTokenFile = "/var/run/secrets/meshlite.io/identity/token"

// Config is what a Client needs. The fields with flags are registered by
// RegisterFlags; the comment gives the default.
type Config struct {
	// Addr is the identity service's host:port.
	Addr string // "" (required)
	// TrustAnchors is a PEM file of the trust domain's anchor(s); both
	// the identity service and peers are verified against it.
	TrustAnchors string // "" (required)
	// TrustDomain, Namespace and ServiceAccount make the requested ID
	// spiffe://<td>/ns/<ns>/sa/<sa>. In Kubernetes the namespace and
	// service account come from the Downward API (env).
	TrustDomain    string // cluster.local
	Namespace      string // "" (required)
	ServiceAccount string // "" (required)
	// TokenFile holds the proof: a projected ServiceAccount token or a
	// join token. It is read again for every request.
	TokenFile string // DefaultTokenFile
	// ServerID is the identity service's expected SPIFFE ID.
	ServerID string // "": spiffe://<td>/ns/meshlite/sa/identity
	// RequestTimeout bounds one request to the identity service.
	RequestTimeout time.Duration // 10s
	// RetryMin and RetryMax bound the backoff between failed requests.
	RetryMin time.Duration // 1s
	RetryMax time.Duration // 1m

	// Now is the clock certificates are checked with; time.Now when nil.
	// Timers run on real time.
	Now func() time.Time
	// Rand returns jitter in [0, 1); math/rand/v2.Float64 when nil.
	Rand func() float64
	// Log gets a line per SVID received and per failed request; the zero
	// Logger logs nothing.
	Log zerolog.Logger
	// OnUpdate, if set, is called (from Run's goroutine) with each new SVID.
	OnUpdate func(*x509svid.SVID)
}

// Default returns the defaults.
func Default() Config {
	return Config{
		TrustDomain:    "cluster.local",
		TokenFile:      DefaultTokenFile,
		RequestTimeout: 10 * time.Second,
		RetryMin:       time.Second,
		RetryMax:       time.Minute,
	}
}

// RegisterFlags defines the identity flags on fs, with c's values as
// defaults. Every flag name starts with "identity-".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "identity-addr", c.Addr, "host:port of the identity service")
	fs.StringVar(&c.TrustAnchors, "identity-trust-anchors", c.TrustAnchors, "PEM file of the trust anchors the identity service and peers are verified with")
	fs.StringVar(&c.TrustDomain, "identity-trust-domain", c.TrustDomain, "trust domain of this proxy's SPIFFE ID")
	fs.StringVar(&c.Namespace, "identity-namespace", c.Namespace, "namespace in this proxy's SPIFFE ID (Kubernetes: the pod's namespace)")
	fs.StringVar(&c.ServiceAccount, "identity-service-account", c.ServiceAccount, "service account in this proxy's SPIFFE ID (Kubernetes: the pod's service account)")
	fs.StringVar(&c.TokenFile, "identity-token-file", c.TokenFile, "file holding the token that proves this proxy's identity, read at every request")
	fs.StringVar(&c.ServerID, "identity-server-id", c.ServerID, "SPIFFE ID the identity service must present (default spiffe://<trust-domain>/ns/meshlite/sa/identity)")
	fs.DurationVar(&c.RequestTimeout, "identity-request-timeout", c.RequestTimeout, "bound on one request to the identity service")
	fs.DurationVar(&c.RetryMin, "identity-retry-min", c.RetryMin, "first wait after a failed request (doubles up to --identity-retry-max)")
	fs.DurationVar(&c.RetryMax, "identity-retry-max", c.RetryMax, "longest wait between failed requests")
}

// ids parses the trust domain, the requested ID and the server's ID.
func (c *Config) ids() (td spiffeid.TrustDomain, id, server spiffeid.ID, err error) {
	td, err = spiffeid.TrustDomainFromString(c.TrustDomain)
	if err != nil {
		return td, id, server, fmt.Errorf("identity-trust-domain: %w", err)
	}
	id, err = spiffe.WorkloadID(td, c.Namespace, c.ServiceAccount)
	if err != nil {
		return td, id, server, fmt.Errorf("identity-namespace, identity-service-account: %w", err)
	}
	if c.ServerID == "" {
		return td, id, spiffe.IdentityServiceID(td), nil
	}
	server, err = spiffeid.FromString(c.ServerID)
	if err != nil {
		return td, id, server, fmt.Errorf("identity-server-id: %w", err)
	}
	return td, id, server, nil
}

// Validate reports every problem with c, naming the flag.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("identity-addr: %q is not host:port: %w", c.Addr, err))
	}
	if c.TrustAnchors == "" {
		errs = append(errs, errors.New("identity-trust-anchors: required"))
	}
	if c.TokenFile == "" {
		errs = append(errs, errors.New("identity-token-file: required"))
	}
	if _, _, _, err := c.ids(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"identity-request-timeout", c.RequestTimeout}, {"identity-retry-min", c.RetryMin}, {"identity-retry-max", c.RetryMax}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", d.name, d.v))
		}
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("identity-retry-max (%v) must not be shorter than identity-retry-min (%v)", c.RetryMax, c.RetryMin))
	}
	return errors.Join(errs...)
}
