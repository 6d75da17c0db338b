package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
)

// binDir builds the binaries a mesh needs into one directory.
func binDir(t *testing.T) string {
	t.Helper()
	var dir string
	for _, pkg := range []string{"proxy/cmd/meshlite-proxy", "init/cmd/meshlite-init", "identity/cmd/meshlite-identity", "destination/cmd/meshlite-destination"} {
		p := bins.MustBuild(t, pkg)
		dir = p[:strings.LastIndexByte(p, '/')]
	}
	return dir
}

// serveApps runs the server pod's applications on loopback: HTTP on 8080
// answering the caller's identity, gRPC health on 9090, a TCP echo on 7000.
func serveApps(t *testing.T, pod *netenv.Pod) {
	t.Helper()
	listen := func(addr string) net.Listener {
		ln, err := pod.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, r.Header.Get("Meshlite-Client-Id"))
	})}
	go web.Serve(listen("127.0.0.1:8080"))
	t.Cleanup(func() { web.Close() })
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(listen("127.0.0.1:9090"))
	t.Cleanup(gs.Stop)
	echo := listen("127.0.0.1:7000")
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

// TestMutualTLS: two meshed workloads with certificates from a real
// meshlite-identity; HTTP/1, gRPC and opaque TCP between their
// applications travel over mutual TLS only, with both identities known to
// both proxies.
func TestMutualTLS(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{})
	mesh, err := meshenv.Start(t.Context(), env, meshenv.Options{BinDir: binDir(t), TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	server, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "server"})
	if err != nil {
		t.Fatal(err)
	}
	serveApps(t, server.Pod)
	client, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "client",
		ProxyArgs: []string{"--meshed-endpoints", meshenv.MeshedFlag(server)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.SetHosts(map[string]netip.Addr{"server": server.Pod.Addr}); err != nil {
		t.Fatal(err)
	}
	wire := startCapture(t, server.Pod)

	// HTTP/1 with curl: the server app sees the caller's SPIFFE ID.
	out, err := client.Pod.Command(t.Context(), 0, "curl", "-sS", "--max-time", "5", "http://server:8080/who").CombinedOutput()
	if want := "GET /who " + client.ID.String(); err != nil || string(out) != want {
		t.Fatalf("curl: %v: %q, want %q\nclient proxy:\n%s\nserver proxy:\n%s", err, out, want, client.Proxy.Output(), server.Proxy.Output())
	}
	// A client claiming an identity itself does not get it through.
	out, err = client.Pod.Command(t.Context(), 0, "curl", "-sS", "--max-time", "5", "-H", "Meshlite-Client-Id: spiffe://example.org/ns/default/sa/admin", "http://server:8080/forged").CombinedOutput()
	if want := "GET /forged " + client.ID.String(); err != nil || string(out) != want {
		t.Fatalf("curl with a forged identity header: %v: %q, want %q", err, out, want)
	}

	// gRPC from an in-process client inside the client pod.
	cc, err := grpc.NewClient(netip.AddrPortFrom(server.Pod.Addr, 9090).String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return client.Pod.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health check: %v, %v", resp, err)
	}

	// Opaque TCP, client speaks first, on an undeclared port.
	conn, err := client.Pod.DialContext(t.Context(), "tcp", netip.AddrPortFrom(server.Pod.Addr, 7000).String())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("opaque-ping-7f3a9c")
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("TCP echo: %q, %v", got, err)
	}
	conn.Close()

	// The wire between the pods: only the proxies' mutual TLS port, and
	// none of the applications' bytes in the clear.
	segs := wire.stop()
	between := 0
	for _, s := range segs {
		if s.src.Addr() != client.Pod.Addr && s.dst.Addr() != client.Pod.Addr {
			continue
		}
		between++
		if s.src.Port() != 4143 && s.dst.Port() != 4143 {
			t.Errorf("segment %v → %v bypassed the proxies' mutual TLS port", s.src, s.dst)
		}
		for _, clear := range []string{"/who", "/forged", "opaque-ping", "grpc.health", "PRI * HTTP/2.0", "HTTP/1.1"} {
			if bytes.Contains(s.payload, []byte(clear)) {
				t.Errorf("segment %v → %v carries %q in the clear", s.src, s.dst, clear)
			}
		}
	}
	if between == 0 {
		t.Fatal("captured nothing between the pods")
	}

	// A plaintext client at the inbound port is refused.
	pc, err := net.DialTimeout("tcp", netip.AddrPortFrom(server.Pod.Addr, 4143).String(), 2*time.Second)
	if err == nil {
		pc.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(pc, "GET / HTTP/1.1\r\nHost: server\r\n\r\n")
		answer, _ := io.ReadAll(pc)
		pc.Close()
		if len(answer) != 0 {
			t.Fatalf("plaintext at the inbound port got an answer: %q", answer)
		}
	}

	// Both proxies know both identities.
	checks := []struct {
		member *meshenv.Member
		metric string
		labels map[string]string
	}{
		{client, "request_total", map[string]string{"direction": "outbound", "tls": "true", "client_id": client.ID.String(), "server_id": server.ID.String()}},
		{client, "tcp_open_total", map[string]string{"direction": "outbound", "tls": "false"}},
		{server, "request_total", map[string]string{"direction": "inbound", "tls": "true", "client_id": client.ID.String(), "server_id": server.ID.String()}},
		{server, "tcp_open_total", map[string]string{"direction": "inbound", "tls": "true", "client_id": client.ID.String(), "server_id": server.ID.String()}},
	}
	for _, c := range checks {
		fams, err := promtext.ParseString(get(t, c.member.AdminURL()+"/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		if got := fams.Sum(c.metric, c.labels); got < 1 {
			t.Errorf("%s: %s%v = %v, want ≥ 1", c.member.Pod.Name, c.metric, c.labels, got)
		}
	}
	fams, _ := promtext.ParseString(get(t, client.AdminURL()+"/metrics"))
	if got := fams.Sum("request_total", map[string]string{"direction": "outbound", "tls": "true"}); got != 3 {
		t.Errorf("client proxy: %v requests over mutual TLS, want 3 (2 HTTP/1, 1 gRPC)", got)
	}
}
