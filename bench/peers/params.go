package peers

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
)

// Side is which pod of the pair a peer runs in.
type Side string

// The two sides of a pair.
const (
	// Client is the peer in the client pod: plaintext in (from the app,
	// redirected by iptables), mutual TLS out to the server pod's peer.
	Client Side = "client"
	// Server is the peer in the server pod: mutual TLS in, plaintext out
	// to the application on 127.0.0.1.
	Server Side = "server"
)

// Kind is the protocol a route carries, which decides the peer's mode for
// it.
type Kind string

// Route kinds.
const (
	// HTTP1 is HTTP/1.1 from the app.
	HTTP1 Kind = "http1"
	// H2C is HTTP/2 with prior knowledge from the app (nginx 1.22 cannot
	// take HTTP/1.1 and h2c on the same plaintext listener).
	H2C Kind = "h2c"
	// GRPC is gRPC (HTTP/2) from the app.
	GRPC Kind = "grpc"
	// TCP is opaque TCP.
	TCP Kind = "tcp"
)

// ServerName is the DNS name in the server peer's certificate, which the
// client peer verifies.
const ServerName = "server.bench"

// Route is one application port carried by the pair.
type Route struct {
	// Name labels the config sections ("http1", "echo", ...): a short
	// identifier, [a-z0-9_].
	Name string
	// Kind is the protocol on this port.
	Kind Kind
	// Listen is the port this side listens on (127.0.0.1 on the client
	// side, every address on the server side).
	Listen uint16
	// Upstream is where this side forwards: the server pod's address and
	// the app port on the client side, 127.0.0.1 and the app port on the
	// server side.
	Upstream netip.AddrPort
}

// Params is everything a peer's configuration depends on.
type Params struct {
	Side Side
	// Threads is HAProxy's nbthread and nginx's worker_processes.
	Threads int
	// Dir holds the certificates (see WriteCerts) and the peer's
	// pid file and temporary files.
	Dir string
	// ServerName is checked in the server's certificate. Default
	// ServerName.
	ServerName string
	// Routes are the application ports.
	Routes []Route
	// StreamModule is the nginx stream module loaded when there are TCP
	// routes. Default DefaultStreamModule.
	StreamModule string
}

// validate checks p and fills in defaults.
func (p *Params) validate() error {
	if p.ServerName == "" {
		p.ServerName = ServerName
	}
	if p.StreamModule == "" {
		p.StreamModule = DefaultStreamModule
	}
	var errs []error
	if p.Side != Client && p.Side != Server {
		errs = append(errs, fmt.Errorf("side %q: want client or server", p.Side))
	}
	if p.Threads < 1 {
		errs = append(errs, fmt.Errorf("threads %d: want at least 1", p.Threads))
	}
	if !filepath.IsAbs(p.Dir) {
		errs = append(errs, fmt.Errorf("dir %q: want an absolute path", p.Dir))
	}
	if len(p.Routes) == 0 {
		errs = append(errs, errors.New("no routes"))
	}
	seen := map[uint16]bool{}
	for _, r := range p.Routes {
		switch {
		case !nameOK(r.Name):
			errs = append(errs, fmt.Errorf("route name %q: want [a-z0-9_]+", r.Name))
		case r.Kind != HTTP1 && r.Kind != H2C && r.Kind != GRPC && r.Kind != TCP:
			errs = append(errs, fmt.Errorf("route %s: kind %q", r.Name, r.Kind))
		case r.Listen == 0 || seen[r.Listen]:
			errs = append(errs, fmt.Errorf("route %s: listen port %d missing or repeated", r.Name, r.Listen))
		case !r.Upstream.IsValid() || r.Upstream.Port() == 0:
			errs = append(errs, fmt.Errorf("route %s: upstream %v", r.Name, r.Upstream))
		}
		seen[r.Listen] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	return nil
}

func nameOK(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// HTTPRoutes returns the routes nginx serves in its http block (HTTP/1,
// h2c and gRPC).
func (p Params) HTTPRoutes() []Route { return p.filter(func(k Kind) bool { return k != TCP }) }

// TCPRoutes returns the opaque TCP routes.
func (p Params) TCPRoutes() []Route { return p.filter(func(k Kind) bool { return k == TCP }) }

func (p Params) filter(keep func(Kind) bool) []Route {
	var out []Route
	for _, r := range p.Routes {
		if keep(r.Kind) {
			out = append(out, r)
		}
	}
	return out
}

// IsClient reports whether p is for the client side (templates use it).
func (p Params) IsClient() bool { return p.Side == Client }

// Path joins name to Dir (templates use it).
func (p Params) Path(name string) string { return filepath.Join(p.Dir, name) }

// Mode is HAProxy's mode for the route: "http" or "tcp".
func (r Route) Mode() string {
	if r.Kind == TCP {
		return "tcp"
	}
	return "http"
}

// IsHTTP reports whether the route carries HTTP (HTTP/1, h2c or gRPC).
func (r Route) IsHTTP() bool { return r.Kind != TCP }

// DefaultStreamModule is where Debian's libnginx-mod-stream puts nginx's
// stream module.
const DefaultStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"
