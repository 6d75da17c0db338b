package app_test

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlite/meshlite/destination/destinationtest"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// serviceWithCheck is a Service whose workloads serve 8080 and a
// HealthCheck on their port named "health".
func serviceWithCheck(name, ip, check string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  clusterIP: %[2]s
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: meshlite.io/v1alpha1
kind: HealthCheck
metadata: {name: %[1]s}
spec:
  service: %[1]s
  port: health
  interval: 50ms
  timeout: 500ms
  healthyThreshold: 2
  unhealthyThreshold: 2
  %[3]s
`, name, ip, check)
}

// listen opens a listener on ip (a loopback address of its own, so that
// each workload has its own address).
func listen(t *testing.T, ip string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func portOf(ln net.Listener) uint32 { return uint32(ln.Addr().(*net.TCPAddr).Port) }

// checked is a workload serving 8080 with its health port.
func checked(name, app, ip string, health uint32) *destinationv1.Workload {
	w := workload(name, ip, map[string]string{"app": app}, 8080, health)
	w.PortNames = map[string]uint32{"health": health}
	return w
}

func TestHTTPHealthCheck(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", serviceWithCheck("web", "10.96.0.10", "http: {path: /healthz}"))
	c := dial(t, srv.Addr)
	// Each workload's health server is on its own loopback address.
	aLn, bLn := listen(t, "127.0.0.2"), listen(t, "127.0.0.3")
	aStatus, bStatus := serveHealth(t, aLn, 200), serveHealth(t, bLn, 503)
	w := watch(t, c, "10.96.0.10:80")
	st := set{}
	st.apply(w.found(t))
	register(t, c, checked("a", "web", "127.0.0.2", portOf(aLn)))
	register(t, c, checked("b", "web", "127.0.0.3", portOf(bLn)))
	// a passes its first check; b, failing, never enters.
	w.until(t, st, "127.0.0.2:8080")
	w.none(t, 300*time.Millisecond)
	bStatus.Store(200)
	w.until(t, st, "127.0.0.2:8080", "127.0.0.3:8080")
	// a fails: it leaves after two failures and returns after two passes.
	aStatus.Store(500)
	failedAt := time.Now()
	w.until(t, st, "127.0.0.3:8080")
	if el := time.Since(failedAt); el < 50*time.Millisecond {
		t.Errorf("a left after %v: before its second failure", el)
	}
	aStatus.Store(200)
	w.until(t, st, "127.0.0.2:8080", "127.0.0.3:8080")
	if n := srv.Metric(t, "destination_health_checks_total", "result", "fail"); n < 2 {
		t.Errorf("failed checks counted: %v", n)
	}
	if n := srv.Metric(t, "destination_health_checks_total", "result", "pass"); n < 4 {
		t.Errorf("passed checks counted: %v", n)
	}
}

func serveHealth(t *testing.T, ln net.Listener, status int) *atomic.Int32 {
	t.Helper()
	var st atomic.Int32
	st.Store(int32(status))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(st.Load()))
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return &st
}

func TestTCPHealthCheck(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "db.yaml", serviceWithCheck("db", "10.96.0.11", "tcp: {}"))
	c := dial(t, srv.Addr)
	ln := listen(t, "127.0.0.4")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	w := watch(t, c, "10.96.0.11:80")
	st := set{}
	st.apply(w.found(t))
	register(t, c, checked("db-0", "db", "127.0.0.4", portOf(ln)))
	w.until(t, st, "127.0.0.4:8080")
	ln.Close() // connections are refused from now on
	w.until(t, st)
}

func TestGRPCHealthCheck(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "cart.yaml", serviceWithCheck("cart", "10.96.0.12", "grpc: {service: shop.Cart}"))
	c := dial(t, srv.Addr)
	ln := listen(t, "127.0.0.5")
	hs := grpchealth.NewServer()
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_NOT_SERVING)
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln) //nolint:errcheck // ends with Stop
	t.Cleanup(gs.Stop)
	w := watch(t, c, "10.96.0.12:80")
	st := set{}
	st.apply(w.found(t))
	register(t, c, checked("cart-0", "cart", "127.0.0.5", portOf(ln)))
	w.none(t, 300*time.Millisecond) // not serving: not healthy yet
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_SERVING)
	w.until(t, st, "127.0.0.5:8080")
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_NOT_SERVING)
	w.until(t, st)
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_SERVING)
	w.until(t, st, "127.0.0.5:8080")
}
