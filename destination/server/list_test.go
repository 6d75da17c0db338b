package server

import (
	"net/netip"
	"testing"

	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// fakeLeases lists fixed workloads.
type fakeLeases struct {
	Leases
	ws []*lease.Workload
}

func (f fakeLeases) Workloads() []*lease.Workload { return f.ws }

func TestListWorkloads(t *testing.T) {
	ws := []*lease.Workload{
		{Name: "web", Namespace: "shop", ServiceAccount: "web", Addr: netip.MustParseAddr("10.1.0.3"), Ports: []uint16{8080},
			PortNames: map[string]uint16{"http": 8080}, Identity: "spiffe://cluster.local/ns/shop/sa/web", MeshPort: 4143},
		{Name: "api", Namespace: "default", Addr: netip.MustParseAddr("10.1.0.2"), Ports: []uint16{9090}},
	}
	s := New(Config{Source: registry.NewPublisher(), Leases: fakeLeases{ws: ws}})
	resp, err := s.ListWorkloads(t.Context(), &destinationv1.ListWorkloadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetWorkloads()
	if len(got) != 2 || got[0].GetName() != "api" || got[1].GetName() != "web" {
		t.Fatalf("workloads %v, want api then web", got)
	}
	if w := got[1]; w.GetIdentity() != ws[0].Identity || w.GetAddress() != "10.1.0.3" || w.GetMeshPort() != 4143 ||
		w.GetPortNames()["http"] != 8080 || len(w.GetPorts()) != 1 {
		t.Fatalf("web: %v", w)
	}
	resp, err = s.ListWorkloads(t.Context(), &destinationv1.ListWorkloadsRequest{Namespace: "shop"})
	if err != nil || len(resp.GetWorkloads()) != 1 {
		t.Fatalf("namespace shop: %v %v", resp, err)
	}

	// Without leases (Kubernetes), the meshed endpoints, one per address.
	pub := registry.NewPublisher()
	pub.Publish(snapshot(0, registry.Endpoint{Addr: netip.MustParseAddrPort("10.1.0.5:8080"), Identity: "spiffe://cluster.local/ns/default/sa/web", MeshPort: 4143},
		ep("10.1.0.6:8080", "v1")))
	s = New(Config{Source: pub})
	resp, err = s.ListWorkloads(t.Context(), &destinationv1.ListWorkloadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetWorkloads(); len(got) != 1 || got[0].GetAddress() != "10.1.0.5" || got[0].GetNamespace() != "default" {
		t.Fatalf("kubernetes workloads: %v", got)
	}
}
