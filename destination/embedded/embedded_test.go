package embedded

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/registry"
)

func TestMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "version": "v1"}
	for _, tc := range []struct {
		sel  map[string]string
		want bool
	}{
		{map[string]string{"app": "web"}, true},
		{map[string]string{"app": "web", "version": "v1"}, true},
		{map[string]string{"app": "web", "version": "v2"}, false},
		{map[string]string{"tier": "front"}, false},
		{nil, false},
	} {
		if got := Matches(tc.sel, labels); got != tc.want {
			t.Errorf("Matches(%v) = %v", tc.sel, got)
		}
	}
}

// Named target ports resolve per workload; unmeshed and meshed
// workloads; workloads in other namespaces are not selected.
func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	svc := `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, appProtocol: http}
  - {name: admin, port: 9000, targetPort: 9000}
`
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	web := map[string]string{"app": "web"}
	for _, w := range []*lease.Workload{
		{Name: "a", Namespace: "default", Labels: web, Addr: netip.MustParseAddr("10.1.0.1"), Ports: []uint16{8080, 9000},
			PortNames: map[string]uint16{"http": 8080}, Identity: "spiffe://cluster.local/ns/default/sa/web", ServiceAccount: "web"},
		{Name: "b", Namespace: "default", Labels: web, Addr: netip.MustParseAddr("10.1.0.2"), Ports: []uint16{8081},
			PortNames: map[string]uint16{"http": 8081}},
		{Name: "c", Namespace: "other", Labels: web, Addr: netip.MustParseAddr("10.1.0.3"), Ports: []uint16{8080},
			PortNames: map[string]uint16{"http": 8080}},
	} {
		if _, err := r.Leases().Register(w, 0); err != nil {
			t.Fatal(err)
		}
	}
	var snap *registry.Snapshot
	deadline := time.Now().Add(3 * time.Second)
	for {
		var changed <-chan struct{}
		snap, changed = r.Snapshot()
		if s := snap.Service("web.default"); s != nil && len(s.Port(80).Endpoints) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("endpoints did not appear")
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	s := snap.Service("web.default")
	http, admin := s.Port(80).Endpoints, s.Port(9000).Endpoints
	if http[0].Addr.String() != "10.1.0.1:8080" || http[1].Addr.String() != "10.1.0.2:8081" {
		t.Fatalf("http endpoints %v", http)
	}
	if http[0].Identity == "" || http[0].MeshPort != DefaultMeshPort || http[1].Identity != "" || http[0].Protocol != registry.ProtocolHTTP1 {
		t.Fatalf("http endpoints %+v", http)
	}
	if len(admin) != 1 || admin[0].Addr.String() != "10.1.0.1:9000" {
		t.Fatalf("admin endpoints %v", admin)
	}
}
