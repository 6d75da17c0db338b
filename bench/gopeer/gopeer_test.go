package gopeer

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/meshlite/meshlite/bench/backend"
)

// fixed sends every connection to one address, standing in for
// SO_ORIGINAL_DST (the iptables path is covered by bench/topology's test).
func fixed(ap netip.AddrPort) Dest {
	return func(*net.TCPConn) (netip.AddrPort, error) { return ap, nil }
}

// startBackend runs the bench backend on loopback.
func startBackend(t *testing.T) (httpAddr, echoAddr netip.AddrPort) {
	t.Helper()
	srv, err := backend.Listen(backend.Config{HTTPAddrs: []string{"127.0.0.1:0"}, EchoAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h, _, e := srv.Addrs()
	return h[0].(*net.TCPAddr).AddrPort(), e.(*net.TCPAddr).AddrPort()
}

// serve runs f on a loopback listener until the test ends.
func serve(t *testing.T, f func(context.Context, net.Listener) error) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func TestRelayPair(t *testing.T) {
	_, echo := startBackend(t)
	in := serve(t, (&Relay{Dest: fixed(echo)}).Serve)
	out := serve(t, (&Relay{Dest: fixed(in)}).Serve)
	nc, err := net.Dial("tcp", out.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"a", "through two relays"} {
		if _, err := io.WriteString(nc, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q: %q, %v", msg, got, err)
		}
	}
	// A half-close travels through both relays and comes back as EOF.
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after half-close: %d, %v; want EOF", n, err)
	}
}

func TestReverseProxyPair(t *testing.T) {
	httpAddr, _ := startBackend(t)
	in := serve(t, (&ReverseProxy{Dest: fixed(httpAddr)}).Serve)
	out := serve(t, (&ReverseProxy{Dest: fixed(in), H2CUpstream: true}).Serve)
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	for name, tr := range map[string]*http.Transport{"http1": {}, "h2c": {Protocols: &h2c}} {
		t.Run(name, func(t *testing.T) {
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + out.String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || len(b) != backend.BodySize {
				t.Fatalf("%s, %d bytes, %v", resp.Status, len(b), err)
			}
		})
	}
}

func TestForSide(t *testing.T) {
	for side, ok := range map[string]bool{"out": true, "in": true, "sideways": false} {
		if _, err := ForSide(side); (err == nil) != ok {
			t.Errorf("ForSide(%q): %v", side, err)
		}
	}
}

// TestSameAddr guards the loop a dual-stack listener once caused: its
// accepted IPv4 connections report ::ffff:a.b.c.d as local address, which
// must still match SO_ORIGINAL_DST's a.b.c.d.
func TestSameAddr(t *testing.T) {
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.1]:4143")
	cases := []struct {
		a, b netip.AddrPort
		want bool
	}{
		{mapped, netip.MustParseAddrPort("127.0.0.1:4143"), true},
		{netip.MustParseAddrPort("127.0.0.1:4143"), netip.MustParseAddrPort("127.0.0.1:4143"), true},
		{mapped, netip.MustParseAddrPort("127.0.0.1:8080"), false},
		{netip.MustParseAddrPort("10.0.0.1:4143"), netip.MustParseAddrPort("127.0.0.1:4143"), false},
	}
	for _, c := range cases {
		if got := sameAddr(c.a, c.b); got != c.want {
			t.Errorf("sameAddr(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
