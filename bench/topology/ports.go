package topology

import "github.com/meshlite/meshlite/bench/peers"

// Proto is what a workload speaks on the wire.
type Proto string

// Protocols.
const (
	HTTP1 Proto = "http1"
	H2C   Proto = "h2c"
	GRPC  Proto = "grpc"
	TCP   Proto = "tcp"
)

// Ports are the backend's ports in the server pod, the same in every
// topology.
type Ports struct {
	// HTTP serves HTTP/1.1 (and h2c) for the HTTP/1 workloads. Default 8080.
	HTTP uint16
	// GRPC serves gRPC health. Default 8081.
	GRPC uint16
	// H2C serves h2c (and HTTP/1.1) for the h2c workloads: the same
	// backend server as HTTP on a second port, because nginx 1.22 cannot
	// take HTTP/1.1 and h2c on one plaintext listener. Default 8082.
	H2C uint16
	// Echo is the TCP echo. Default 9000.
	Echo uint16
	// Bulk is iperf3's port. Default 5201.
	Bulk uint16
}

// DefaultPorts are the ports the bench uses.
var DefaultPorts = Ports{HTTP: 8080, GRPC: 8081, H2C: 8082, Echo: 9000, Bulk: 5201}

// For returns the port a workload of protocol p dials.
func (p Ports) For(proto Proto) uint16 {
	switch proto {
	case H2C:
		return p.H2C
	case GRPC:
		return p.GRPC
	case TCP:
		return p.Echo
	}
	return p.HTTP
}

// appRoute is one application port as the static peers see it.
type appRoute struct {
	name string
	kind peers.Kind
	port uint16
}

// routes lists the application ports in a fixed order; a peer's listen
// ports are assigned by position.
func (p Ports) routes() []appRoute {
	return []appRoute{
		{"http1", peers.HTTP1, p.HTTP},
		{"grpc", peers.GRPC, p.GRPC},
		{"h2c", peers.H2C, p.H2C},
		{"echo", peers.TCP, p.Echo},
		{"bulk", peers.TCP, p.Bulk},
	}
}
