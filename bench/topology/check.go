package topology

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlite/meshlite/bench/backend"
	"github.com/meshlite/meshlite/internal/netenv"
)

// checkTimeout bounds each smoke request.
const checkTimeout = 5 * time.Second

// Check sends one request of every protocol t carries from the client pod
// to the backend, through whatever t put in between, and reports the first
// failure, naming the protocol. It runs before measuring so that a broken
// path fails fast instead of producing a table of errors.
func Check(ctx context.Context, t Topology, pair Pair, ports Ports) error {
	checks := []struct {
		proto Proto
		run   func(context.Context, *netenv.Pod, netip.AddrPort) error
	}{
		{HTTP1, checkHTTP(false)}, {H2C, checkHTTP(true)}, {GRPC, checkGRPC}, {TCP, checkEcho},
	}
	for _, c := range checks {
		if !t.Carries(c.proto) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.run(cctx, pair.Client, netip.AddrPortFrom(pair.Server.Addr, ports.For(c.proto)))
		cancel()
		if err != nil {
			return fmt.Errorf("topology: %s: %s check: %w", t.Name, c.proto, err)
		}
	}
	return nil
}

func checkHTTP(h2c bool) func(context.Context, *netenv.Pod, netip.AddrPort) error {
	return func(ctx context.Context, pod *netenv.Pod, dst netip.AddrPort) error {
		tr := &http.Transport{DialContext: pod.DialContext, DisableKeepAlives: true}
		if h2c {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr.Protocols = &p
		}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dst.String()+"/", nil)
		if err != nil {
			return err
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || len(body) != backend.BodySize {
			return fmt.Errorf("GET %s: %s, %d bytes (want 200, %d bytes)", dst, resp.Status, len(body), backend.BodySize)
		}
		return nil
	}
}

func checkGRPC(ctx context.Context, pod *netenv.Pod, dst netip.AddrPort) error {
	cc, err := grpc.NewClient("passthrough:///"+dst.String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return pod.DialContext(ctx, "tcp", addr) }))
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health %v", resp.GetStatus())
	}
	return nil
}

func checkEcho(ctx context.Context, pod *netenv.Pod, dst netip.AddrPort) error {
	nc, err := pod.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return err
	}
	defer nc.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	msg := []byte("meshlite bench echo check")
	if _, err := nc.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(nc, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo returned %q", got)
	}
	return nil
}
