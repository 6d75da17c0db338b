package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meshlite/meshlite/destination/destinationtest"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func TestWatchFullSetThenChanges(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	srv.Restart(t) // the file is loaded at start
	c := dial(t, srv.Addr)
	web1 := workload("web-1", "10.1.0.1", map[string]string{"app": "web", "version": "v1"})
	web1.ServiceAccount, web1.Identity, web1.MeshPort = "web", "spiffe://cluster.local/ns/default/sa/web", 4143
	register(t, c, web1)
	lease2 := register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web", "version": "v1"}))
	register(t, c, workload("other", "10.1.0.9", map[string]string{"app": "other"}))
	register(t, c, workload("web-9090", "10.1.0.8", map[string]string{"app": "web"}, 9090)) // does not serve 8080

	w := watch(t, c, "10.96.0.10:80")
	u := w.next(t)
	if !u.GetReset_() || u.GetNotFound() || u.GetService() != "web.default" ||
		u.GetPolicy().GetBalancer() != destinationv1.Balancer_BALANCER_LEAST_REQUEST {
		t.Fatalf("first update %v", u)
	}
	if got := addrsOf(u.GetAdd()); !slices.Equal(got, []string{"10.1.0.1:8080", "10.1.0.2:8080"}) {
		t.Fatalf("first set %v", got)
	}
	e := u.GetAdd()[0]
	if e.GetIdentity() != web1.Identity || e.GetMeshPort() != 4143 || e.GetLabels()["version"] != "v1" ||
		e.GetWeight() != 1 || e.GetProtocolHint() != destinationv1.ProtocolHint_PROTOCOL_HINT_HTTP1 {
		t.Fatalf("meshed endpoint %v", e)
	}
	if u.GetAdd()[1].GetIdentity() != "" || u.GetAdd()[1].GetMeshPort() != 0 {
		t.Fatalf("unmeshed endpoint %v", u.GetAdd()[1])
	}
	if n := srv.Metric(t, "destination_watches_open"); n != 1 {
		t.Errorf("destination_watches_open = %v", n)
	}
	destinationtest.Eventually(t, time.Second, "destination_endpoints", func() bool {
		return srv.Metric(t, "destination_endpoints", "service", "web.default") == 2
	})

	// Added.
	register(t, c, workload("web-3", "10.1.0.3", map[string]string{"app": "web"}))
	u = w.next(t)
	if u.GetReset_() || !slices.Equal(addrsOf(u.GetAdd()), []string{"10.1.0.3:8080"}) || len(u.GetRemove()) != 0 {
		t.Fatalf("after adding web-3: %v", u)
	}
	// Labels changed: the endpoint is sent again.
	web1.Labels = map[string]string{"app": "web", "version": "v2"}
	register(t, c, web1)
	u = w.next(t)
	if len(u.GetAdd()) != 1 || u.GetAdd()[0].GetLabels()["version"] != "v2" || len(u.GetRemove()) != 0 {
		t.Fatalf("after relabelling web-1: %v", u)
	}
	// Deregistered: removed at once.
	if _, err := c.Deregister(context.Background(), &destinationv1.DeregisterRequest{LeaseId: lease2}); err != nil {
		t.Fatal(err)
	}
	u = w.next(t)
	if !slices.Equal(u.GetRemove(), []string{"10.1.0.2:8080"}) || len(u.GetAdd()) != 0 {
		t.Fatalf("after deregistering web-2: %v", u)
	}
	// Renewals that change nothing send nothing.
	register(t, c, workload("web-3", "10.1.0.3", map[string]string{"app": "web"}))
	w.none(t, 200*time.Millisecond)
	if n := srv.Metric(t, "destination_registrations"); n != 4 {
		t.Errorf("destination_registrations = %v", n)
	}

	// Names resolve to the same service.
	for _, target := range []string{"web:80", "web.default:80", "web.default.svc.cluster.local:80"} {
		u := watch(t, c, target).next(t)
		if u.GetService() != "web.default" || len(u.GetAdd()) != 2 {
			t.Errorf("%s: %v", target, u)
		}
	}
}

func TestWatchNotFound(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := dial(t, srv.Addr)
	register(t, c, workload("web-1", "10.1.0.1", map[string]string{"app": "web"}))
	w := watch(t, c, "10.96.0.10:80")
	if u := w.next(t); !u.GetNotFound() {
		t.Fatalf("unknown target: %v", u)
	}
	// The service appears: the same stream gets its endpoints.
	srv.WriteFile(t, "web.yaml", webYAML)
	u := w.next(t)
	if !u.GetReset_() || u.GetNotFound() || !slices.Equal(addrsOf(u.GetAdd()), []string{"10.1.0.1:8080"}) {
		t.Fatalf("after the service appeared: %v", u)
	}
	// A port the service does not have is not found.
	if u := watch(t, c, "10.96.0.10:81").next(t); !u.GetNotFound() {
		t.Fatalf("unknown port: %v", u)
	}
	// The service goes away.
	srv.RemoveFile(t, "web.yaml")
	if u := w.next(t); !u.GetNotFound() || !u.GetReset_() {
		t.Fatalf("after the service went away: %v", u)
	}
	// A malformed target is refused.
	bad, err := c.Watch(context.Background(), &destinationv1.WatchRequest{Target: "no-port"})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed target: %v", err)
	}
}

func TestConfigEdits(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	c := dial(t, srv.Addr)
	register(t, c, workload("web-1", "10.1.0.1", map[string]string{"app": "web", "version": "v1"}))
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web", "version": "v2"}))
	w := watch(t, c, "10.96.0.10:80")
	st := set{}
	w.until(t, st, "10.1.0.1:8080", "10.1.0.2:8080")

	// An edit of the selector changes the set.
	srv.WriteFile(t, "web.yaml", strings.Replace(webYAML, "    app: web\n", "    app: web\n    version: v2\n", 1))
	w.until(t, st, "10.1.0.2:8080")

	// A port edit maps the service port to another targetPort.
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web", "version": "v2"}, 8080, 9090))
	srv.WriteFile(t, "web.yaml", strings.Replace(webYAML, "targetPort: 8080", "targetPort: 9090", 1))
	w.until(t, st, "10.1.0.2:9090")

	// Bad edits are refused with file, line and field, and the last good
	// version stays in force.
	for _, bad := range []struct{ yaml, where string }{
		{strings.Replace(webYAML, "port: 80\n", "port: 80\n    bogus: 1\n", 1), "web.yaml:14: spec.ports[0].bogus: unknown field"},
		{strings.Replace(webYAML, "  selector:\n    app: web\n", "", 1), "web.yaml:7: spec.selector: required"},
		{strings.Replace(webYAML, "port: 80\n", "port: 65536\n", 1), "web.yaml:13: spec.ports[0].port: 65536 is out of range"},
		{webYAML + "  - name: [\n", "web.yaml:17: YAML syntax"},
	} {
		srv.WriteFile(t, "web.yaml", bad.yaml)
		destinationtest.Eventually(t, 3*time.Second, "rejection of "+bad.where, func() bool { return strings.Contains(srv.Logs(), bad.where) })
	}
	// Another file claiming the same address is refused too.
	srv.WriteFile(t, "api.yaml", strings.Replace(webYAML, "name: web\n", "name: api\n", 1))
	destinationtest.Eventually(t, 3*time.Second, "duplicate address refused", func() bool {
		return strings.Contains(srv.Logs(), "api.yaml:8: spec.clusterIP: 10.96.0.10 is already the address of service default/web")
	})
	w.none(t, 200*time.Millisecond)
	if n := srv.Metric(t, "destination_config_reloads_total", "result", "rejected"); n < 5 {
		t.Errorf("rejected reloads = %v", n)
	}
	// The previous good version is what a new watch sees.
	u := watch(t, c, "10.96.0.10:80").next(t)
	if !slices.Equal(addrsOf(u.GetAdd()), []string{"10.1.0.2:9090"}) || u.GetService() != "web.default" {
		t.Fatalf("after bad edits: %v", u)
	}
}

func TestLeaseExpiry(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{LeaseTTL: time.Second})
	srv.WriteFile(t, "web.yaml", webYAML)
	c := dial(t, srv.Addr)
	w := watch(t, c, "10.96.0.10:80")
	st := set{}
	w.until(t, st)
	register(t, c, workload("web-1", "10.1.0.1", map[string]string{"app": "web"}))
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web"}))
	start := time.Now()
	w.until(t, st, "10.1.0.1:8080", "10.1.0.2:8080")
	// web-2 keeps renewing at a third of the TTL; web-1 stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				c.Register(ctx, &destinationv1.RegisterRequest{Workload: workload("web-2", "10.1.0.2", map[string]string{"app": "web"})}) //nolint:errcheck // checked by the set
			}
		}
	}()
	w.until(t, st, "10.1.0.2:8080")
	if el := time.Since(start); el < 900*time.Millisecond || el > 2*time.Second {
		t.Errorf("web-1 left after %v; TTL 1s", el)
	}
	w.none(t, 1500*time.Millisecond) // web-2 stays
	if n := srv.Metric(t, "destination_lease_expiries_total"); n != 1 {
		t.Errorf("destination_lease_expiries_total = %v", n)
	}
}

func TestRestartKeepsRegistrations(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{LeaseTTL: 2 * time.Second})
	srv.WriteFile(t, "web.yaml", webYAML)
	c := dial(t, srv.Addr)
	register(t, c, workload("web-1", "10.1.0.1", map[string]string{"app": "web"}))
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web"}))
	w := watch(t, c, "10.96.0.10:80")
	w.until(t, set{}, "10.1.0.1:8080", "10.1.0.2:8080")

	srv.Restart(t)
	select {
	case err := <-w.errc:
		if status.Code(err) != codes.Unavailable {
			t.Errorf("watch ended with %v, want Unavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end with the old service")
	}
	restarted := time.Now()
	// Watches resume against the new process with the restored set.
	w = watch(t, c, "10.96.0.10:80")
	st := set{}
	w.until(t, st, "10.1.0.1:8080", "10.1.0.2:8080")
	if n := srv.Metric(t, "destination_registrations"); n != 2 {
		t.Errorf("destination_registrations after restart = %v", n)
	}
	// Only web-2 renews within the fresh window; web-1 expires.
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web"}))
	w.until(t, st, "10.1.0.2:8080")
	if el := time.Since(restarted); el < 1500*time.Millisecond {
		t.Errorf("web-1 expired %v after the restart, before its fresh 2s window", el)
	}
	if !strings.Contains(srv.Logs(), "registrations restored") {
		t.Error("no log of the restored registrations")
	}
}

func TestRegisterRefusesBadWorkloads(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := dial(t, srv.Addr)
	meshed := func(mut func(*destinationv1.Workload)) *destinationv1.Workload {
		w := workload("web-1", "10.1.0.1", map[string]string{"app": "web"})
		w.ServiceAccount, w.Identity = "web", "spiffe://cluster.local/ns/default/sa/web"
		mut(w)
		return w
	}
	for name, w := range map[string]*destinationv1.Workload{
		"no workload":        nil,
		"bad address":        meshed(func(w *destinationv1.Workload) { w.Address = "10.1.0" }),
		"unspecified":        meshed(func(w *destinationv1.Workload) { w.Address = "0.0.0.0" }),
		"bad namespace":      meshed(func(w *destinationv1.Workload) { w.Namespace = "Default" }),
		"bad label":          meshed(func(w *destinationv1.Workload) { w.Labels = map[string]string{"app": "not ok"} }),
		"port out of range":  meshed(func(w *destinationv1.Workload) { w.Ports = []uint32{70000} }),
		"named port unknown": meshed(func(w *destinationv1.Workload) { w.PortNames = map[string]uint32{"http": 9090} }),
		"identity of another namespace": meshed(func(w *destinationv1.Workload) {
			w.Identity = "spiffe://cluster.local/ns/kube-system/sa/web"
		}),
		"identity of another trust domain": meshed(func(w *destinationv1.Workload) { w.Identity = "spiffe://evil.org/ns/default/sa/web" }),
		"identity without service account": meshed(func(w *destinationv1.Workload) { w.ServiceAccount = "" }),
	} {
		_, err := c.Register(context.Background(), &destinationv1.RegisterRequest{Workload: w})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if _, err := c.Deregister(context.Background(), &destinationv1.DeregisterRequest{LeaseId: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("deregister of an unknown lease: %v", err)
	}
}

func TestPassiveHealth(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	c := dial(t, srv.Addr)
	register(t, c, workload("web-1", "10.1.0.1", map[string]string{"app": "web"}))
	register(t, c, workload("web-2", "10.1.0.2", map[string]string{"app": "web"}))
	w := watch(t, c, "10.96.0.10:80")
	st := set{}
	w.until(t, st, "10.1.0.1:8080", "10.1.0.2:8080")
	report := func(healthy bool) {
		_, err := c.ReportHealth(context.Background(), &destinationv1.HealthReport{Observations: []*destinationv1.HealthReport_Observation{
			{Address: "10.1.0.1:8080", Healthy: healthy, Reason: "connection refused"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	report(false)
	w.until(t, st, "10.1.0.2:8080")
	report(true)
	w.until(t, st, "10.1.0.1:8080", "10.1.0.2:8080")
	_, err := c.ReportHealth(context.Background(), &destinationv1.HealthReport{Observations: []*destinationv1.HealthReport_Observation{{Address: "nope"}}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad observation: %v", err)
	}
}
