package server

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func snapshot(policy destinationv1.Balancer, eps ...registry.Endpoint) *registry.Snapshot {
	return registry.NewSnapshot([]*registry.Service{{Name: "web", Namespace: "default",
		Addrs: []netip.Addr{netip.MustParseAddr("10.96.0.10")}, Policy: &destinationv1.Policy{Balancer: policy},
		Ports: []registry.Port{{Port: 80, Endpoints: eps}}}})
}

func ep(addr, version string) registry.Endpoint {
	return registry.Endpoint{Addr: netip.MustParseAddrPort(addr), Weight: 1, Labels: map[string]string{"version": version}}
}

func TestDiff(t *testing.T) {
	target := registry.Target{Addr: netip.MustParseAddr("10.96.0.10"), Port: 80}
	a, b := ep("10.1.0.1:8080", "v1"), ep("10.1.0.2:8080", "v1")
	rr := destinationv1.Balancer_BALANCER_ROUND_ROBIN
	steps := []struct {
		name              string
		snap              *registry.Snapshot
		reset, notFound   bool
		add, remove       []string
		policy, noMessage bool
	}{
		{name: "unknown", snap: registry.NewSnapshot(nil), reset: true, notFound: true},
		{name: "still unknown", snap: registry.NewSnapshot(nil), noMessage: true},
		{name: "appears", snap: snapshot(0, a), reset: true, add: []string{"10.1.0.1:8080"}, policy: true},
		{name: "added", snap: snapshot(0, a, b), add: []string{"10.1.0.2:8080"}},
		{name: "unchanged", snap: snapshot(0, a, b), noMessage: true},
		{name: "relabelled", snap: snapshot(0, ep("10.1.0.1:8080", "v2"), b), add: []string{"10.1.0.1:8080"}},
		{name: "removed and policy", snap: snapshot(rr, b), remove: []string{"10.1.0.1:8080"}, policy: true},
		{name: "gone", snap: registry.NewSnapshot(nil), reset: true, notFound: true},
	}
	var prev *view
	for _, st := range steps {
		cur := newView(st.snap, target)
		u := diff(prev, cur)
		prev = cur
		if st.noMessage {
			if u != nil {
				t.Fatalf("%s: unexpected %v", st.name, u)
			}
			continue
		}
		if u == nil {
			t.Fatalf("%s: no message", st.name)
		}
		var add []string
		for _, e := range u.GetAdd() {
			add = append(add, e.GetAddress())
		}
		if u.GetReset_() != st.reset || u.GetNotFound() != st.notFound || !slices.Equal(add, st.add) ||
			!slices.Equal(u.GetRemove(), st.remove) || (u.GetPolicy() != nil) != st.policy {
			t.Fatalf("%s: %v", st.name, u)
		}
	}
}
