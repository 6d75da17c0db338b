package registry

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Protocol is a hint about what an endpoint's port speaks.
type Protocol uint8

// The protocol hints.
const (
	ProtocolUnknown Protocol = iota
	ProtocolHTTP1
	ProtocolHTTP2
	ProtocolOpaque
)

// ProtocolOf derives a port's protocol hint from its Kubernetes
// appProtocol or, when that is empty, from its name's prefix (Istio's
// "<protocol>[-<suffix>]" convention): http → HTTP/1; http2, h2c, grpc,
// kubernetes.io/h2c → HTTP/2; tcp, tls, https, mysql, redis, mongo,
// opaque → opaque; anything else → unknown (the proxy detects).
func ProtocolOf(appProtocol, portName string) Protocol {
	p := strings.ToLower(appProtocol)
	if p == "" {
		p, _, _ = strings.Cut(strings.ToLower(portName), "-")
	}
	switch p {
	case "http", "http1", "kubernetes.io/ws":
		return ProtocolHTTP1
	case "http2", "h2c", "grpc", "kubernetes.io/h2c":
		return ProtocolHTTP2
	case "tcp", "tls", "https", "mysql", "redis", "mongo", "opaque", "kubernetes.io/wss":
		return ProtocolOpaque
	}
	return ProtocolUnknown
}

// Endpoint is one address a service's port is served at.
type Endpoint struct {
	// Addr is the endpoint's IP and port (the service port's targetPort).
	Addr netip.AddrPort
	// Weight for weighted balancing; 0 means 1.
	Weight uint32
	// Labels are the workload's labels; shared, never modified.
	Labels map[string]string
	// Identity is the SPIFFE ID the endpoint's proxy presents, "" when
	// the endpoint is not meshed.
	Identity string
	// MeshPort is the endpoint proxy's inbound port when meshed.
	MeshPort uint16
	// Protocol is the port's protocol hint.
	Protocol Protocol
}

// Equal reports whether e and o are the same in every field.
func (e Endpoint) Equal(o Endpoint) bool {
	return e.Addr == o.Addr && e.Weight == o.Weight && e.Identity == o.Identity &&
		e.MeshPort == o.MeshPort && e.Protocol == o.Protocol && maps.Equal(e.Labels, o.Labels)
}

// Port is a service port and the endpoints that serve it.
type Port struct {
	Name     string
	Port     uint16
	Protocol Protocol
	// Endpoints are sorted by address, without duplicates.
	Endpoints []Endpoint
}

// Service is a service as proxies see it.
type Service struct {
	Name      string
	Namespace string
	// Addrs are the service's virtual addresses (ClusterIPs); none for a
	// service reachable by name only.
	Addrs []netip.Addr
	Ports []Port
	// Policy is the service's traffic policy; never nil in a snapshot.
	Policy *destinationv1.Policy
}

// Key is "name.namespace", the name proxies see in updates.
func (s *Service) Key() string { return s.Name + "." + s.Namespace }

// Port returns the service port p, or nil.
func (s *Service) Port(p uint16) *Port {
	for i := range s.Ports {
		if s.Ports[i].Port == p {
			return &s.Ports[i]
		}
	}
	return nil
}

// Snapshot is an immutable view of every service.
type Snapshot struct {
	services map[string]*Service
	byAddr   map[netip.Addr]*Service
	keys     []string
	inbound  Inbound
}

// Inbound answers the inbound policy of a workload, selected by its
// namespace and labels.
type Inbound interface {
	Inbound(namespace string, labels map[string]string) *destinationv1.InboundPolicy
}

// WithInbound sets where s answers inbound policies from, and returns s.
// Call it before s is published; a nil in (or none) answers the default
// policy (PERMISSIVE, no authorization).
func (s *Snapshot) WithInbound(in Inbound) *Snapshot {
	s.inbound = in
	return s
}

// InboundSource is what WithInbound set, for a snapshot derived from s.
func (s *Snapshot) InboundSource() Inbound { return s.inbound }

// Inbound returns the inbound policy of a workload of namespace ns with
// labels; never nil.
func (s *Snapshot) Inbound(ns string, labels map[string]string) *destinationv1.InboundPolicy {
	if s.inbound == nil {
		return &destinationv1.InboundPolicy{}
	}
	return s.inbound.Inbound(ns, labels)
}

// NewSnapshot indexes services by key and address. It takes ownership of
// them: they must not be modified afterwards. When two services claim
// the same key or address, the first in key order keeps it (backends
// validate against that before).
func NewSnapshot(services []*Service) *Snapshot {
	s := &Snapshot{services: make(map[string]*Service, len(services)), byAddr: map[netip.Addr]*Service{}}
	sorted := slices.Clone(services)
	slices.SortStableFunc(sorted, func(a, b *Service) int { return strings.Compare(a.Key(), b.Key()) })
	for _, svc := range sorted {
		if svc.Policy == nil {
			svc.Policy = &destinationv1.Policy{}
		}
		if _, dup := s.services[svc.Key()]; dup {
			continue
		}
		s.services[svc.Key()] = svc
		s.keys = append(s.keys, svc.Key())
		for _, a := range svc.Addrs {
			if _, dup := s.byAddr[a]; !dup {
				s.byAddr[a] = svc
			}
		}
	}
	return s
}

// Services returns every service in key order.
func (s *Snapshot) Services() []*Service {
	out := make([]*Service, len(s.keys))
	for i, k := range s.keys {
		out[i] = s.services[k]
	}
	return out
}

// Service returns the service with key "name.namespace", or nil.
func (s *Snapshot) Service(key string) *Service { return s.services[key] }

// Lookup finds the service and port a target names. ok is false when the
// service or the port is unknown.
func (s *Snapshot) Lookup(t Target) (svc *Service, port *Port, ok bool) {
	switch {
	case t.Addr.IsValid():
		svc = s.byAddr[t.Addr.Unmap()]
	case t.Name != "":
		svc = s.services[t.Name+"."+t.Namespace]
	}
	if svc == nil {
		return nil, nil, false
	}
	if port = svc.Port(t.Port); port == nil {
		return nil, nil, false
	}
	return svc, port, true
}

// Source is where snapshots come from.
type Source interface {
	// Snapshot returns the current snapshot and a channel closed when a
	// newer one is published.
	Snapshot() (*Snapshot, <-chan struct{})
}

// Publisher holds the current snapshot and tells readers when it is
// replaced. The zero value is not usable; use NewPublisher.
type Publisher struct {
	mu      sync.Mutex
	cur     *Snapshot
	changed chan struct{}
}

var _ Source = (*Publisher)(nil)

// NewPublisher returns a publisher holding an empty snapshot.
func NewPublisher() *Publisher {
	return &Publisher{cur: NewSnapshot(nil), changed: make(chan struct{})}
}

// Publish replaces the current snapshot and wakes every reader.
func (p *Publisher) Publish(s *Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = s
	close(p.changed)
	p.changed = make(chan struct{})
}

// Snapshot implements Source.
func (p *Publisher) Snapshot() (*Snapshot, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur, p.changed
}
