package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/proxy/origdst"
)

type connKey struct{}

// serve runs an HTTP server in pod on addr that answers name, followed by
// the connection's original destination (SO_ORIGINAL_DST) when withDst:
// the stand-ins for the proxy's listeners say where the app was going.
func serve(t *testing.T, pod *netenv.Pod, addr, name string, withDst bool) {
	t.Helper()
	ln, err := pod.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !withDst {
				io.WriteString(w, name)
				return
			}
			dst, err := origdst.Lookup(r.Context().Value(connKey{}).(*net.TCPConn))
			if err != nil {
				fmt.Fprintf(w, "%s %v", name, err)
				return
			}
			fmt.Fprintf(w, "%s %s", name, dst)
		}),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// nth returns the n-th address of p.
func nth(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// TestRedirectTraffic: in pod a, meshlite-init and listeners standing in
// for the proxy on 4140 (outbound) and 4143 (inbound), which answer with
// the original destination. Each connection below must land where the
// rules say, over IPv4 and IPv6.
func TestRedirectTraffic(t *testing.T) {
	pods := newPods(t, "a", "b", "c")
	a, b, c := pods[0], pods[1], pods[2]
	env := a.Env()
	const (
		appUID  = 1000
		ownSvc4 = "10.96.0.20"
		ownSvc6 = "fd6d:6c00:ffff::20"
	)
	// The pod's own service addresses are local to it: reached over lo.
	for _, addr := range []string{ownSvc4 + "/32", ownSvc6 + "/128"} {
		ipt(t, a, "ip", "addr", "add", addr, "dev", "lo")
	}
	mustInit(t, a, "--proxy-gid=2103", "--outbound-ports-to-ignore=9000-9001",
		"--outbound-subnets-to-ignore="+c.Addr.String()+","+c.Addr6.String(),
		"--subnets-to-ignore="+c.Addr.String()+","+c.Addr6.String(),
		"--pod-service-addresses="+ownSvc4+","+ownSvc6)

	serve(t, a, "127.0.0.1:4140", "outbound", true)
	serve(t, a, "[::1]:4140", "outbound", true)
	serve(t, a, ":4143", "inbound", true)
	serve(t, a, ":8080", "a-app", false)
	serve(t, a, ":4191", "a-admin", false)
	serve(t, b, ":8080", "b-app", false)
	serve(t, b, ":9000", "b-app", false)
	serve(t, c, ":8080", "c-app", false)

	type family struct {
		name                     string
		a, b, c, svc, ownSvc, lo netip.Addr
	}
	families := []family{
		{"ipv4", a.Addr, b.Addr, c.Addr, nth(env.ServiceCIDR(), 10), netip.MustParseAddr(ownSvc4), netip.MustParseAddr("127.0.0.1")},
	}
	if a.Addr6.IsValid() {
		families = append(families, family{"ipv6", a.Addr6, b.Addr6, c.Addr6, nth(env.ServiceCIDR6(), 10), netip.MustParseAddr(ownSvc6), netip.IPv6Loopback()})
	} else {
		t.Log("IPv6 is off in this kernel: IPv4 only")
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			ap := func(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }
			tests := []struct {
				name     string
				from     *netenv.Pod
				uid, gid int
				dst      string
				want     string
			}{
				{"app to pod b is redirected to 4140", a, appUID, appUID, ap(f.b, 8080), "outbound " + ap(f.b, 8080)},
				{"app to a service address is redirected to 4140", a, appUID, appUID, ap(f.svc, 80), "outbound " + ap(f.svc, 80)},
				{"app as root is redirected too", a, 0, 0, ap(f.b, 8080), "outbound " + ap(f.b, 8080)},
				{"connection into pod a lands on 4143", b, 0, 0, ap(f.a, 8080), "inbound " + ap(f.a, 8080)},
				{"admin port is not redirected inbound", b, 0, 0, ap(f.a, 4191), "a-admin"},
				{"proxy uid is not redirected", a, proxyUID, proxyUID, ap(f.b, 8080), "b-app"},
				{"proxy gid is not redirected", a, appUID, 2103, ap(f.b, 8080), "b-app"},
				{"ignored outbound port", a, appUID, appUID, ap(f.b, 9000), "b-app"},
				{"ignored outbound subnet", a, appUID, appUID, ap(f.c, 8080), "c-app"},
				{"ignored inbound source subnet", c, 0, 0, ap(f.a, 8080), "a-app"},
				{"loopback is not redirected", a, appUID, appUID, ap(f.lo, 8080), "a-app"},
				{"own pod address over lo is not redirected", a, appUID, appUID, ap(f.a, 8080), "a-app"},
				{"own service address over lo is redirected", a, appUID, appUID, ap(f.ownSvc, 8080), "outbound " + ap(f.ownSvc, 8080)},
			}
			for _, tt := range tests {
				got := curl(t.Context(), t, tt.from, tt.uid, tt.gid, "http://"+tt.dst+"/")
				if got != tt.want {
					t.Errorf("%s: %s (uid %d gid %d) to %s answered %q, want %q", tt.name, tt.from.Name, tt.uid, tt.gid, tt.dst, got, tt.want)
				}
			}
		})
	}
}

// TestThroughProxies: meshlite-init and the real meshlite-proxy (uid 2102)
// in two pods; curl in the client reaches the server's app, which listens
// on loopback only, through both proxies, and each proxy counts the
// request in its direction.
func TestThroughProxies(t *testing.T) {
	proxyBin := bins.MustBuild(t, "proxy/cmd/meshlite-proxy")
	pods := newPods(t, "client", "server")
	client, server := pods[0], pods[1]
	for _, p := range pods {
		mustInit(t, p)
	}
	addrs := []netip.Addr{server.Addr}
	listen := []string{"127.0.0.1:8080"}
	if server.Addr6.IsValid() {
		addrs = append(addrs, server.Addr6)
		listen = append(listen, "[::1]:8080")
	}
	for _, l := range listen {
		serve(t, server, l, "hello from the server app", false)
	}
	for _, p := range pods {
		proc, err := p.Start(t.Context(), netenv.ProcSpec{Name: "proxy", Path: proxyBin, UID: proxyUID, GID: proxyUID})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proc.Stop(5 * time.Second) })
		if err := p.WaitDial(t.Context(), "tcp", "127.0.0.1:4191"); err != nil {
			t.Fatalf("proxy in %s: %v\n%s", p.Name, err, proc.Output())
		}
	}
	for _, dst := range addrs {
		url := "http://" + netip.AddrPortFrom(dst, 8080).String() + "/"
		if got := curl(t.Context(), t, client, 1000, 1000, url); got != "hello from the server app" {
			t.Fatalf("curl %s from the client: %q", url, got)
		}
	}
	for _, p := range []struct {
		pod       *netenv.Pod
		direction string
	}{{client, "outbound"}, {server, "inbound"}} {
		fams, err := promtext.ParseString(httpGet(t, "http://"+netip.AddrPortFrom(p.pod.Addr, 4191).String()+"/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		for _, dst := range addrs {
			labels := map[string]string{"authority": netip.AddrPortFrom(dst, 8080).String(), "direction": p.direction, "tls": "false"}
			if got := fams.Sum("request_total", labels); got != 1 {
				t.Errorf("%s proxy's request_total%v = %v, want 1", p.direction, labels, got)
			}
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
