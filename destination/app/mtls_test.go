package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/destination/destinationtest"
	"github.com/meshlite/meshlite/identity/identitytest"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/discovery"
	"github.com/meshlite/meshlite/proxy/identity"
)

// svids runs a proxy identity client for ns/sa and waits for its SVID.
func svids(t *testing.T, id *identitytest.Server, ns, sa string) *identity.Client {
	t.Helper()
	cfg := identity.Default()
	cfg.Addr, cfg.TrustAnchors, cfg.TrustDomain = id.Addr, id.AnchorsFile(), id.TrustDomain.Name()
	cfg.Namespace, cfg.ServiceAccount = ns, sa
	cfg.TokenFile = id.WriteJoinToken(t, ns, sa, time.Hour)
	c, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }() //nolint:errcheck // Run returns nil
	t.Cleanup(func() { cancel(); <-done })
	destinationtest.Eventually(t, 5*time.Second, "SVID for "+ns+"/"+sa, c.Ready)
	return c
}

func TestMTLSRegistration(t *testing.T) {
	id := identitytest.Start(t, identitytest.Options{TrustDomain: "example.org"})
	srv := destinationtest.Start(t, destinationtest.Options{Configure: func(c *app.Config) {
		c.Insecure = false
		c.TrustDomain = "example.org"
		c.Identity.Addr, c.Identity.TrustAnchors, c.Identity.TrustDomain = id.Addr, id.AnchorsFile(), "example.org"
		c.Identity.TokenFile = id.WriteJoinToken(t, "meshlite", "destination", time.Hour)
		c.Identity.RetryMin, c.Identity.RetryMax = 50*time.Millisecond, 200*time.Millisecond
	}})
	srv.WriteFile(t, "web.yaml", webYAML)
	destinationtest.Eventually(t, 5*time.Second, "destination ready with its SVID", srv.App().Ready)
	serverID := discovery.DefaultServerID(id.TrustDomain)

	web := svids(t, id, "default", "web")
	wc, err := discovery.New(discovery.Config{Addr: srv.Addr, Source: web, ServerID: serverID})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	r := wc.Registrar(discovery.Workload{Name: "web-1", Namespace: "default", ServiceAccount: "web",
		Labels: map[string]string{"app": "web"}, Addr: mustAddr("10.1.0.1"), Ports: []uint16{8080}}, discovery.RegistrarConfig{})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }() //nolint:errcheck // Run returns nil
	defer func() { stop(); <-done }()

	svc, err := wc.Resolve(context.Background(), mustAddrPort("10.96.0.10:80"))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Release()
	destinationtest.Eventually(t, 5*time.Second, "web-1 registered over mTLS and watched", func() bool {
		eps := svc.Endpoints()
		return len(eps) == 1 && eps[0].Identity == web.ID() && eps[0].MeshPort == 4143
	})

	// Another workload may not register as web, nor deregister web.
	other := svids(t, id, "default", "other")
	tc := tlsconfig.MTLSClientConfig(other, other, tlsconfig.AuthorizeID(serverID))
	cc, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	oc := destinationv1.NewDestinationClient(cc)
	impostor := workload("web-2", "10.1.0.2", map[string]string{"app": "web"})
	impostor.ServiceAccount, impostor.Identity = "web", web.ID().String()
	if _, err := oc.Register(context.Background(), &destinationv1.RegisterRequest{Workload: impostor}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("register as another identity: %v", err)
	}
	unmeshed := workload("web-3", "10.1.0.3", map[string]string{"app": "web"})
	if _, err := oc.Register(context.Background(), &destinationv1.RegisterRequest{Workload: unmeshed}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("register without identity over mTLS: %v", err)
	}
	if _, err := oc.Deregister(context.Background(), &destinationv1.DeregisterRequest{LeaseId: r.LeaseID()}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("deregister another's lease: %v", err)
	}
	self := workload("other-1", "10.1.0.4", map[string]string{"app": "web"})
	self.ServiceAccount, self.Identity = "other", other.ID().String()
	if _, err := oc.Register(context.Background(), &destinationv1.RegisterRequest{Workload: self}); err != nil {
		t.Fatalf("register as itself: %v", err)
	}
	destinationtest.Eventually(t, 5*time.Second, "other-1 in the set", func() bool { return len(svc.Endpoints()) == 2 })

	// Plaintext is refused.
	if _, err := dial(t, srv.Addr).Register(context.Background(), &destinationv1.RegisterRequest{Workload: self}); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext call: %v", err)
	}
	// A graceful stop of the registrar deregisters web-1 at once.
	stop()
	<-done
	destinationtest.Eventually(t, 2*time.Second, "web-1 deregistered", func() bool { return len(svc.Endpoints()) == 1 })
}
