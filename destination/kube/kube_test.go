package kube_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/destination/destinationtest"
	"github.com/meshlite/meshlite/internal/kubetest"
	"github.com/meshlite/meshlite/proxy/discovery"
)

const ns = "shop"

func pod(name, version string, meshed bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web", "version": version}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "web",
			Containers: []corev1.Container{{Name: "app", Image: "example.org/web:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
		},
	}
	if meshed {
		p.Annotations = map[string]string{"meshlite.io/proxy-version": "v0.1.0"}
	}
	return p
}

// The Kubernetes registry against a real API server and EndpointSlice
// controller, seen through the proxy's discovery client.
func TestKubernetesRegistry(t *testing.T) {
	ctx := context.Background()
	c := kubetest.Start(ctx, t, kubetest.Options{ControllerManager: true})
	kc := c.Client()
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	http := "http"
	svc, err := kc.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: map[string]string{"meshlite.io/balancer": "round-robin"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), AppProtocol: &http}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{pod("web-1", "v1", true), pod("web-2", "v1", false), pod("web-3", "v2", true)} {
		if _, err := kc.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, ip := range map[string]string{"web-1": "10.244.0.1", "web-2": "10.244.0.2"} {
		if _, err := c.MarkPodRunning(ctx, ns, name, ip); err != nil {
			t.Fatal(err)
		}
	}

	srv := destinationtest.Start(t, destinationtest.Options{Configure: func(cfg *app.Config) {
		cfg.Registry, cfg.Kubeconfig, cfg.TrustDomain = app.RegistryKubernetes, c.Kubeconfig(), "example.org"
	}})
	destinationtest.Eventually(t, 10*time.Second, "caches synced", srv.App().Ready)
	dc, err := discovery.New(discovery.Config{Addr: srv.Addr, Insecure: true, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	target := netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 80)
	web, err := dc.Resolve(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Release()
	endpoints := func(want ...string) {
		t.Helper()
		destinationtest.Eventually(t, 15*time.Second, "endpoints "+fmtList(want), func() bool {
			eps := web.Endpoints()
			if len(eps) != len(want) {
				return false
			}
			for i, e := range eps {
				if e.Addr.String() != want[i] {
					return false
				}
			}
			return true
		})
	}
	endpoints("10.244.0.1:8080", "10.244.0.2:8080")
	if web.Name() != "web.shop" || web.Policy().Balancer != discovery.BalancerRoundRobin {
		t.Fatalf("service %q, policy %v", web.Name(), web.Policy())
	}
	e1, e2 := web.Endpoints()[0], web.Endpoints()[1]
	if e1.Identity.String() != "spiffe://example.org/ns/shop/sa/web" || e1.MeshPort != 4143 || e1.Labels["version"] != "v1" ||
		e1.Protocol != discovery.ProtocolHTTP1 {
		t.Fatalf("meshed endpoint %+v", e1)
	}
	if e2.Meshed() || e2.Labels["app"] != "web" {
		t.Fatalf("unmeshed endpoint %+v", e2)
	}
	byName, err := dc.ResolveName(ctx, "web:80") // short name in the client's namespace
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Release()
	if len(byName.Endpoints()) != 2 {
		t.Fatalf("by name: %d endpoints", len(byName.Endpoints()))
	}

	// Scale up: a third pod becomes ready.
	if _, err := c.MarkPodRunning(ctx, ns, "web-3", "10.244.0.3"); err != nil {
		t.Fatal(err)
	}
	endpoints("10.244.0.1:8080", "10.244.0.2:8080", "10.244.0.3:8080")

	// Labels follow the pod.
	p1, err := kc.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1.Labels["version"] = "v2"
	if _, err := kc.CoreV1().Pods(ns).Update(ctx, p1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	destinationtest.Eventually(t, 10*time.Second, "web-1 relabelled", func() bool {
		e, ok := web.Endpoint(netip.MustParseAddrPort("10.244.0.1:8080"))
		return ok && e.Labels["version"] == "v2"
	})

	// Not ready: out of the set.
	p3, err := kc.CoreV1().Pods(ns).Get(ctx, "web-3", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p3.Status.Conditions {
		if p3.Status.Conditions[i].Type == corev1.PodReady || p3.Status.Conditions[i].Type == corev1.ContainersReady {
			p3.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := kc.CoreV1().Pods(ns).UpdateStatus(ctx, p3, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	endpoints("10.244.0.1:8080", "10.244.0.2:8080")

	// Deleted: out of the set.
	zero := int64(0)
	if err := kc.CoreV1().Pods(ns).Delete(ctx, "web-2", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	endpoints("10.244.0.1:8080")

	// Registrations are the embedded registry's.
	r := dc.Registrar(discovery.Workload{Name: "x", Namespace: ns, Addr: netip.MustParseAddr("10.244.0.9")}, discovery.RegistrarConfig{})
	rctx, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	r.Run(rctx) //nolint:errcheck // Run returns nil
	if r.LeaseID() != "" {
		t.Fatal("the Kubernetes registry took a registration")
	}
}

func fmtList(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}
