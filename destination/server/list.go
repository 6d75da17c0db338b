package server

import (
	"cmp"
	"context"
	"maps"
	"net/netip"
	"slices"

	"github.com/meshlite/meshlite/destination/lease"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// workloadLister is what ListWorkloads needs of the leases: the embedded
// registry's *lease.Store has it.
type workloadLister interface {
	Workloads() []*lease.Workload
}

var _ workloadLister = (*lease.Store)(nil)

// ListWorkloads implements destinationv1.DestinationServer. With leases
// (the embedded registry) it lists the registered workloads; without (the
// Kubernetes registry) the meshed endpoints of every service, one per
// address, named by nothing but their namespace, identity and labels.
// Like Watch, it is open to every workload of the trust domain.
func (s *Server) ListWorkloads(_ context.Context, req *destinationv1.ListWorkloadsRequest) (*destinationv1.ListWorkloadsResponse, error) {
	var out []*destinationv1.Workload
	if l, ok := s.cfg.Leases.(workloadLister); ok && s.cfg.Leases != nil {
		for _, w := range l.Workloads() {
			if req.GetNamespace() == "" || w.Namespace == req.GetNamespace() {
				out = append(out, workloadToProto(w))
			}
		}
	} else {
		out = s.endpointWorkloads(req.GetNamespace())
	}
	slices.SortFunc(out, func(a, b *destinationv1.Workload) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()),
			cmp.Compare(a.GetAddress(), b.GetAddress()))
	})
	return &destinationv1.ListWorkloadsResponse{Workloads: out}, nil
}

func workloadToProto(w *lease.Workload) *destinationv1.Workload {
	p := &destinationv1.Workload{Name: w.Name, Namespace: w.Namespace, ServiceAccount: w.ServiceAccount,
		Labels: maps.Clone(w.Labels), Address: w.Addr.String(), Identity: w.Identity, MeshPort: uint32(w.MeshPort),
		Weight: w.Weight}
	for _, port := range w.Ports {
		p.Ports = append(p.Ports, uint32(port))
	}
	if len(w.PortNames) > 0 {
		p.PortNames = make(map[string]uint32, len(w.PortNames))
		for name, port := range w.PortNames {
			p.PortNames[name] = uint32(port)
		}
	}
	return p
}

// endpointWorkloads lists the meshed endpoints of the current snapshot,
// one workload per address with the ports it serves.
func (s *Server) endpointWorkloads(namespace string) []*destinationv1.Workload {
	snap, _ := s.cfg.Source.Snapshot()
	byAddr := map[netip.Addr]*destinationv1.Workload{}
	for _, svc := range snap.Services() {
		if namespace != "" && svc.Namespace != namespace {
			continue
		}
		for _, port := range svc.Ports {
			for _, e := range port.Endpoints {
				if e.Identity == "" {
					continue
				}
				w, ok := byAddr[e.Addr.Addr()]
				if !ok {
					w = &destinationv1.Workload{Namespace: svc.Namespace, Labels: maps.Clone(e.Labels),
						Address: e.Addr.Addr().String(), Identity: e.Identity, MeshPort: uint32(e.MeshPort)}
					byAddr[e.Addr.Addr()] = w
				}
				if !slices.Contains(w.Ports, uint32(e.Addr.Port())) {
					w.Ports = append(w.Ports, uint32(e.Addr.Port()))
				}
			}
		}
	}
	out := make([]*destinationv1.Workload, 0, len(byAddr))
	for _, w := range byAddr {
		slices.Sort(w.Ports)
		out = append(out, w)
	}
	return out
}
