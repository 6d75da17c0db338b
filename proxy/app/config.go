// Package app assembles a meshlite-proxy from its configuration: the
// outbound, inbound and admin listeners, and their shutdown.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/detect"
	"github.com/meshlite/meshlite/proxy/identity"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "MESHLITE_PROXY_"

// DefaultOpaquePorts are relayed as TCP without detection: SMTP, MySQL,
// Galera, PostgreSQL, Redis, Elasticsearch transport and memcached.
var DefaultOpaquePorts = []uint16{25, 587, 3306, 4444, 5432, 6379, 9300, 11211}

// Config is the proxy's configuration. Each field is a flag and an
// environment variable (see RegisterFlags); the comment gives the default.
type Config struct {
	// OutboundAddr is a comma-separated list of addresses; an IPv6 one
	// that cannot be bound (IPv6 off) is skipped with a warning.
	OutboundAddr string // 127.0.0.1:4140,[::1]:4140
	InboundAddr  string // :4143 (every address, IPv4 and IPv6)
	AdminAddr    string // :4191

	OpaquePorts     PortList      // DefaultOpaquePorts
	DetectWindow    time.Duration // 100ms: client silence taken as server-speaks-first
	DetectTimeout   time.Duration // 1s: bound on reading a partial prefix
	ConnectTimeout  time.Duration // 1s
	ShutdownGrace   time.Duration // 30s
	LogLevel        string        // info
	AccessLog       bool          // true
	MaxHeaderBytes  int           // 65536 (HTTP/1 header section; HTTP/2 header list)
	MaxHeaderCount  int           // 100
	MaxRequestLine  int           // 8192
	H2MaxStreams    uint          // 1000 concurrent streams per HTTP/2 connection
	H2IdleTimeout   time.Duration // 1h
	HTTPIdleTimeout time.Duration // 60s between requests on an HTTP/1 keep-alive connection

	// Identity configures the proxy's certificate; the proxy has an
	// identity (and speaks mutual TLS) when Identity.Addr is set.
	Identity identity.Config
	// MeshedEndpoints and MeshedEndpointsFile list peers reached over
	// mutual TLS and the SPIFFE ID each must present, as
	// "ADDR=SPIFFE_ID" entries (ADDR is IP or IP:port), comma- or
	// newline-separated. Until the destination service tells the proxy,
	// this static table does.
	MeshedEndpoints     string // ""
	MeshedEndpointsFile string // ""
	// MeshPort is the peers' inbound port, where mutual TLS goes.
	MeshPort uint // 4143
	// Destination connects the proxy to the destination service.
	Destination DestinationConfig
	// AdminAuthorizedNamespace: clients over mutual TLS whose SPIFFE ID is
	// in this namespace of the proxy's trust domain may use the admin
	// port's operator endpoints (/tap, /logs/level, /logs).
	AdminAuthorizedNamespace string // meshlite
	// Telemetry configures tracing, OTLP log export and /logs.
	Telemetry TelemetryConfig
	// ShutdownEndpoint serves POST /shutdown on the admin port (loopback
	// only), for Jobs whose proxy is a classic sidecar.
	ShutdownEndpoint bool // false
	// Cores is how many threads run Go code in the proxy (GOMAXPROCS); 0
	// leaves Go's default (the CPUs, or the cgroup's CPU limit).
	Cores int // 1
}

// Default returns the defaults.
func Default() Config {
	return Config{
		OutboundAddr:             "127.0.0.1:4140,[::1]:4140",
		InboundAddr:              ":4143",
		AdminAddr:                ":4191",
		OpaquePorts:              PortList(slices.Clone(DefaultOpaquePorts)),
		DetectWindow:             detect.DefaultFirstByteWindow,
		DetectTimeout:            detect.DefaultTimeout,
		ConnectTimeout:           time.Second,
		ShutdownGrace:            30 * time.Second,
		LogLevel:                 "info",
		AccessLog:                true,
		MaxHeaderBytes:           64 << 10,
		MaxHeaderCount:           100,
		MaxRequestLine:           8 << 10,
		H2MaxStreams:             1000,
		H2IdleTimeout:            time.Hour,
		HTTPIdleTimeout:          60 * time.Second,
		Identity:                 identity.Default(),
		MeshPort:                 resolve.DefaultMeshPort,
		Destination:              DestinationConfig{LeaseTTL: 15 * time.Second, WorkloadWeight: 1, ReportHealth: true},
		AdminAuthorizedNamespace: "meshlite",
		Cores:                    1,
		Telemetry:                defaultTelemetry(),
	}
}

// RegisterFlags defines the flags on fs, with c's values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.OutboundAddr, "outbound-addr", c.OutboundAddr, "comma-separated addresses of the outbound listener (where iptables sends the workload's outgoing connections)")
	fs.StringVar(&c.InboundAddr, "inbound-addr", c.InboundAddr, "address of the inbound listener (where iptables sends connections to the workload)")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "address of the admin server (/live, /ready, /metrics, /logs/level)")
	fs.Var(&c.OpaquePorts, "opaque-ports", "comma-separated destination ports relayed as TCP without protocol detection (empty for none)")
	fs.DurationVar(&c.DetectWindow, "detect-window", c.DetectWindow, "how long a client may stay silent before the connection is treated as server-speaks-first")
	fs.DurationVar(&c.DetectTimeout, "detect-timeout", c.DetectTimeout, "bound on protocol detection once the client has started sending")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "bound on connecting to an endpoint")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long in-flight requests and connections may take to finish after SIGTERM")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn, error, disabled")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "write one access-log line per HTTP request and per TCP connection")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "limit on an HTTP request's header section (HTTP/1: 431 past it; HTTP/2: header list size)")
	fs.IntVar(&c.MaxHeaderCount, "max-header-count", c.MaxHeaderCount, "limit on the number of HTTP/1 request header fields (431 past it)")
	fs.IntVar(&c.MaxRequestLine, "max-request-line", c.MaxRequestLine, "limit on the HTTP/1 request line (414 past it)")
	fs.UintVar(&c.H2MaxStreams, "h2-max-concurrent-streams", c.H2MaxStreams, "concurrent streams allowed per inbound HTTP/2 connection")
	fs.DurationVar(&c.H2IdleTimeout, "h2-idle-timeout", c.H2IdleTimeout, "close an HTTP/2 connection with no open stream after this long")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", c.HTTPIdleTimeout, "close an HTTP/1 keep-alive connection idle for this long")
	c.Identity.RegisterFlags(fs)
	fs.StringVar(&c.MeshedEndpoints, "meshed-endpoints", c.MeshedEndpoints, "peers reached over mutual TLS: ADDR=SPIFFE_ID entries (ADDR is IP or IP:port), comma-separated")
	fs.StringVar(&c.MeshedEndpointsFile, "meshed-endpoints-file", c.MeshedEndpointsFile, "file of ADDR=SPIFFE_ID entries, one per line, like --meshed-endpoints")
	fs.UintVar(&c.MeshPort, "mesh-port", c.MeshPort, "inbound port of peer proxies, where mutual TLS connections go")
	c.Destination.registerFlags(fs)
	fs.IntVar(&c.Cores, "cores", c.Cores, "threads running the proxy's Go code (GOMAXPROCS; 0: Go's default, the CPUs or the container's CPU limit); the GOMAXPROCS variable wins")
	fs.BoolVar(&c.ShutdownEndpoint, "shutdown-endpoint", c.ShutdownEndpoint, "serve POST /shutdown on the admin port, from loopback, to stop gracefully (classic sidecars of Jobs)")
	fs.StringVar(&c.AdminAuthorizedNamespace, "admin-authorized-namespace", c.AdminAuthorizedNamespace, "namespace whose identities may use /tap and /logs/level over mutual TLS (empty: loopback only)")
	c.Telemetry.registerFlags(fs)
}

// adminAuthorized says which mutual TLS clients may use the operator
// endpoints: identities of the proxy's trust domain in the configured
// namespace.
func (c *Config) adminAuthorized(ident interface{ ID() spiffeid.ID }) func(spiffeid.ID) bool {
	if ident == nil || c.AdminAuthorizedNamespace == "" {
		return nil
	}
	td, ns := ident.ID().TrustDomain(), c.AdminAuthorizedNamespace
	return func(id spiffeid.ID) bool {
		return id.MemberOf(td) && strings.HasPrefix(id.Path(), "/ns/"+ns+"/")
	}
}

// identityEnabled reports whether the proxy is to obtain an identity.
func (c *Config) identityEnabled() bool { return c.Identity.Addr != "" }

// meshedTable parses the static table of meshed endpoints.
func (c *Config) meshedTable() (*resolve.Table, error) {
	var text strings.Builder
	text.WriteString(c.MeshedEndpoints)
	if c.MeshedEndpointsFile != "" {
		b, err := os.ReadFile(c.MeshedEndpointsFile)
		if err != nil {
			return nil, fmt.Errorf("meshed-endpoints-file: %w", err)
		}
		text.WriteString("\n")
		text.Write(b)
	}
	t, err := resolve.ParseTable(strings.NewReader(text.String()))
	if err != nil {
		return nil, fmt.Errorf("meshed-endpoints: %w", err)
	}
	return t, nil
}

// Validate reports every problem with c, naming the field.
func (c *Config) Validate() error {
	var errs []error
	for _, a := range []struct{ name, v string }{
		{"outbound-addr", c.OutboundAddr}, {"inbound-addr", c.InboundAddr}, {"admin-addr", c.AdminAddr},
	} {
		list := splitAddrs(a.v)
		if len(list) == 0 {
			errs = append(errs, fmt.Errorf("%s: no address given", a.name))
		}
		if len(list) > 1 && a.name != "outbound-addr" {
			errs = append(errs, fmt.Errorf("%s: one address expected, got %q", a.name, a.v))
		}
		for _, v := range list {
			if _, _, err := net.SplitHostPort(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not host:port: %w", a.name, v, err))
			}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"detect-window", c.DetectWindow}, {"detect-timeout", c.DetectTimeout},
		{"connect-timeout", c.ConnectTimeout}, {"h2-idle-timeout", c.H2IdleTimeout},
		{"http-idle-timeout", c.HTTPIdleTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %v", d.name, d.v))
		}
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown-grace: must not be negative, got %v", c.ShutdownGrace))
	}
	if c.DetectTimeout < c.DetectWindow {
		errs = append(errs, fmt.Errorf("detect-timeout (%v) must not be shorter than detect-window (%v)", c.DetectTimeout, c.DetectWindow))
	}
	if _, err := logging.Parse(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log-level: %w", err))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max-header-bytes", c.MaxHeaderBytes}, {"max-header-count", c.MaxHeaderCount}, {"max-request-line", c.MaxRequestLine}} {
		if n.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %d", n.name, n.v))
		}
	}
	if c.identityEnabled() {
		if err := c.Identity.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if t, err := c.meshedTable(); err != nil {
		errs = append(errs, err)
	} else if t.Len() > 0 && !c.identityEnabled() {
		errs = append(errs, errors.New("meshed-endpoints: peers are listed but the proxy has no identity (--identity-addr), so it could not reach them"))
	}
	errs = append(errs, c.Destination.validate(c.identityEnabled())...)
	errs = append(errs, c.Telemetry.validate()...)
	if c.Cores < 0 {
		errs = append(errs, fmt.Errorf("cores: must not be negative, got %d", c.Cores))
	}
	if c.MeshPort == 0 || c.MeshPort > 65535 {
		errs = append(errs, fmt.Errorf("mesh-port: %d is not a port", c.MeshPort))
	}
	if c.H2MaxStreams == 0 || c.H2MaxStreams > 1<<31-1 {
		errs = append(errs, fmt.Errorf("h2-max-concurrent-streams: must be between 1 and 2147483647, got %d", c.H2MaxStreams))
	}
	return errors.Join(errs...)
}

// PortList is a comma-separated list of TCP ports, as a flag.
type PortList []uint16

// String renders the list as it is parsed.
func (p *PortList) String() string {
	s := make([]string, len(*p))
	for i, v := range *p {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, ",")
}

// Set parses "25,587,3306" (an empty string is the empty list).
func (p *PortList) Set(v string) error {
	var out PortList
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a port (1-65535)", f)
		}
		out = append(out, uint16(n))
	}
	*p = out
	return nil
}

// portSet returns the ports of p as a set.
func portSet(p PortList) map[uint16]bool {
	m := make(map[uint16]bool, len(p))
	for _, v := range p {
		m[v] = true
	}
	return m
}

// splitAddrs splits a comma-separated address list, dropping empty items.
func splitAddrs(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// listenPort returns the port of a host:port listener address.
func listenPort(addr string) (uint16, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err == nil {
		return ap.Port(), true
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return uint16(n), err == nil
}

// FromCommandLine registers the proxy's flags on fs (a caller may have
// added its own), parses args, then sets each flag not given from its
// MESHLITE_PROXY_* variable, and checks the result. Every error is a
// command.UsageError (exit 2).
func FromCommandLine(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	cfg.RegisterFlags(fs)
	if err := command.ParseFlags(fs, args, EnvPrefix, getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, command.UsageError{Err: err}
	}
	return cfg, nil
}

// SetCores gives the process c.Cores threads for Go code (GOMAXPROCS),
// unless the GOMAXPROCS variable is set or Cores is 0. It changes the
// whole process: for a proxy's main only, never for a proxy run inside
// another program.
func (c Config) SetCores(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" && c.Cores > 0 {
		runtime.GOMAXPROCS(c.Cores)
	}
}
