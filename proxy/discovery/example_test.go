package discovery_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/meshlite/meshlite/proxy/discovery"
)

// The proxy resolves each connection's original destination: a handle on
// the shared watch, an endpoint set to balance over, or NotFound to
// forward as is.
func ExampleClient_Resolve() {
	c, err := discovery.New(discovery.Config{Addr: "127.0.0.1:8086", Insecure: true, Namespace: "default"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	origDst := netip.MustParseAddrPort("10.96.0.10:80")
	svc, err := c.Resolve(context.Background(), origDst)
	if err != nil {
		return
	}
	defer svc.Release()
	if svc.NotFound() {
		// forward to origDst
		return
	}
	for _, e := range svc.Endpoints() {
		if e.Meshed() {
			_ = e.MeshAddr() // mTLS to the peer proxy, expecting e.Identity
		}
	}
}

// A proxy registers its workload at start and deregisters it when ctx
// ends (a graceful stop).
func ExampleClient_Registrar() {
	c, err := discovery.New(discovery.Config{Addr: "127.0.0.1:8086", Insecure: true})
	if err != nil {
		return
	}
	defer c.Close()
	r := c.Registrar(discovery.Workload{
		Name: "web-1", Namespace: "default", Labels: map[string]string{"app": "web"},
		Addr: netip.MustParseAddr("10.1.0.1"), Ports: []uint16{8080},
	}, discovery.RegistrarConfig{})
	ctx, stop := context.WithCancel(context.Background())
	stop()     // at SIGTERM
	r.Run(ctx) //nolint:errcheck // Run returns nil
}
