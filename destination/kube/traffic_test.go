package kube_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/destination/destinationtest"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/kubetest"
)

const httpRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: user-service
spec:
  parentRefs:
  - {group: "", kind: Service, name: user-service, port: 80}
  rules:
  - backendRefs:
    - {name: user-service, port: 80}
    timeouts:
      request: 2s
`

func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Istio's VirtualService, DestinationRule, PeerAuthentication and
// AuthorizationPolicy from the API server: the custom resources are not
// installed at first (the service keeps going), then are, and their
// objects reach the Watch and WatchInbound streams; a bad update keeps
// the previous version.
func TestKubernetesTrafficPolicy(t *testing.T) {
	ctx := context.Background()
	c := kubetest.Start(ctx, t, kubetest.Options{})
	kubectl := func(stdin string, args ...string) {
		t.Helper()
		if out, err := c.Kubectl(ctx, strings.NewReader(stdin), args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	kc := c.Client()
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "meshlite"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "user-service"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "user-service"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	srv := destinationtest.Start(t, destinationtest.Options{Configure: func(cfg *app.Config) {
		cfg.Registry, cfg.Kubeconfig, cfg.KubeCRDRecheck = app.RegistryKubernetes, c.Kubeconfig(), 100*time.Millisecond
	}})
	destinationtest.Eventually(t, 10*time.Second, "ready without the custom resources", srv.App().Ready)
	if !strings.Contains(srv.Logs(), "custom resources not installed") {
		t.Fatalf("no log about the missing custom resources:\n%s", srv.Logs())
	}
	cc, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := destinationv1.NewDestinationClient(cc)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := client.Watch(wctx, &destinationv1.WatchRequest{Target: "user-service:80", SourceNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	policies := make(chan *destinationv1.Policy, 16)
	go func() {
		for {
			u, err := watch.Recv()
			if err != nil {
				close(policies)
				return
			}
			if u.GetPolicy() != nil {
				policies <- u.GetPolicy()
			}
		}
	}()
	next := func(what string, ok func(*destinationv1.Policy) bool) *destinationv1.Policy {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case p := <-policies:
				if ok(p) {
					return p
				}
			case <-timeout:
				t.Fatalf("no policy with %s", what)
			}
		}
	}
	next("the service", func(*destinationv1.Policy) bool { return true })

	crds, err := os.ReadFile("testdata/crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kubectl(string(crds), "apply", "-f", "-")
	kubectl("", "wait", "--for=condition=Established", "--timeout=30s", "crd", "--all")
	seed := example(t, "seed-routing.yaml")
	kubectl(seed, "apply", "-f", "-")
	// The VirtualService and the DestinationRule come through separate
	// informers: wait for both.
	p := next("the seed's routes", func(p *destinationv1.Policy) bool { return len(p.GetHttpRoutes()) == 2 && len(p.GetSubsets()) == 2 })
	rs := p.GetHttpRoutes()
	if p.GetBalancer() != destinationv1.Balancer_BALANCER_LEAST_REQUEST || len(p.GetSubsets()) != 2 ||
		rs[0].GetMatches()[0].GetHeaders()[0].GetValue().GetExact() != "v2" || rs[1].GetBackends()[0].GetWeight() != 100 {
		t.Fatalf("seed policy: %v", p)
	}

	// An update follows; a bad one is refused and the last good stays.
	kubectl(strings.Replace(seed, "exact: v2", "exact: v3", 1), "apply", "-f", "-")
	good := next("the update", func(p *destinationv1.Policy) bool {
		return p.GetHttpRoutes()[0].GetMatches()[0].GetHeaders()[0].GetValue().GetExact() == "v3"
	})
	kubectl(strings.Replace(seed, "weight: 100", "weight: -5", 1), "apply", "-f", "-")
	destinationtest.Eventually(t, 10*time.Second, "the bad update logged", func() bool {
		return strings.Contains(srv.Logs(), "VirtualService default/user-service: spec.http[1].route[0].weight: -5 is negative")
	})
	select {
	case p := <-policies:
		if !proto.Equal(p, good) {
			t.Fatalf("policy after a bad update: %v", p)
		}
	case <-time.After(300 * time.Millisecond):
	}

	// Security policies reach WatchInbound.
	ictx, icancel := context.WithTimeout(wctx, 30*time.Second)
	defer icancel()
	inbound, err := client.WatchInbound(ictx, &destinationv1.WatchInboundRequest{Namespace: "default", Labels: map[string]string{"app": "ratings"}})
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := inbound.Recv(); err != nil || len(ip.GetAuthorization()) != 0 {
		t.Fatalf("inbound before policies: %v, %v", ip, err)
	}
	kubectl(example(t, "authorization-policy.yaml")+"---\n"+example(t, "peer-authentication.yaml"), "apply", "-f", "-")
	for {
		ip, err := inbound.Recv()
		if err != nil {
			t.Fatal(err)
		}
		// The objects arrive one by one: wait for all of them.
		if len(ip.GetAuthorization()) == 4 && ip.GetMtlsMode() == destinationv1.MTLSMode_MTLS_MODE_STRICT && len(ip.GetPortMtls()) == 1 {
			if ip.GetAuthorization()[0].GetName() != "meshlite/deny-dev-writes" || ip.GetPortMtls()[9090] != destinationv1.MTLSMode_MTLS_MODE_PERMISSIVE {
				t.Fatalf("inbound policy: %v", ip)
			}
			break
		}
	}

	// Deleted: the routes go, the DestinationRule stays; an HTTPRoute
	// attached to the Service routes it instead.
	kubectl("", "delete", "virtualservice", "user-service")
	next("no routes", func(p *destinationv1.Policy) bool {
		return len(p.GetHttpRoutes()) == 0 && p.GetBalancer() == destinationv1.Balancer_BALANCER_LEAST_REQUEST
	})
	kubectl(httpRoute, "apply", "-f", "-")
	p = next("the HTTPRoute", func(p *destinationv1.Policy) bool { return len(p.GetHttpRoutes()) > 0 })
	if r := p.GetHttpRoutes()[0]; r.GetName() != "HTTPRoute/default/user-service/0" || r.GetTimeout().AsDuration() != 2*time.Second ||
		r.GetMatches()[0].GetPort() != 80 {
		t.Fatalf("HTTPRoute policy: %v", p)
	}
}
