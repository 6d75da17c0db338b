package backend

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestServe(t *testing.T) {
	srv, err := Listen(Config{HTTPAddrs: []string{"127.0.0.1:0", "127.0.0.1:0"}, GRPCAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	httpAddrs, grpcAddr, echoAddr := srv.Addrs()

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	clients := map[string]*http.Client{
		"http1": {Transport: &http.Transport{}},
		"h2c":   {Transport: &http.Transport{Protocols: &h2c}},
	}
	for name, c := range clients {
		for i, httpAddr := range httpAddrs {
			t.Run(fmt.Sprint(name, i), func(t *testing.T) {
				resp, err := c.Get("http://" + httpAddr.String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				wantMajor := map[string]int{"http1": 1, "h2c": 2}[name]
				if resp.StatusCode != 200 || len(b) != BodySize || resp.ProtoMajor != wantMajor {
					t.Fatalf("got %d, %d bytes, %s; want 200, %d bytes, HTTP/%d", resp.StatusCode, len(b), resp.Proto, BodySize, wantMajor)
				}
			})
		}
	}

	t.Run("grpc", func(t *testing.T) {
		cc, err := grpc.NewClient("passthrough:///"+grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("status %v", resp.GetStatus())
		}
	})

	t.Run("echo", func(t *testing.T) {
		nc, err := net.Dial("tcp", echoAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		msg := []byte("ping")
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != "ping" {
			t.Fatalf("echo: %q, %v", got, err)
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		if n, err := nc.Read(got); err != io.EOF {
			t.Fatalf("after half-close: %d, %v; want EOF", n, err)
		}
	})
}
