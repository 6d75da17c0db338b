package peers

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// routes is the bench's route table for a server pod at 10.201.0.3.
func routes(side Side) []Route {
	up := func(port uint16) netip.AddrPort {
		if side == Client {
			return netip.AddrPortFrom(netip.MustParseAddr("10.201.0.3"), port)
		}
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	}
	base := uint16(4150)
	if side == Server {
		base = 4160
	}
	return []Route{
		{Name: "http1", Kind: HTTP1, Listen: base, Upstream: up(8080)},
		{Name: "grpc", Kind: GRPC, Listen: base + 1, Upstream: up(8081)},
		{Name: "h2c", Kind: H2C, Listen: base + 2, Upstream: up(8082)},
		{Name: "echo", Kind: TCP, Listen: base + 3, Upstream: up(9000)},
	}
}

func TestRenderGolden(t *testing.T) {
	renderers := map[string]func(Params) ([]byte, error){"haproxy": HAProxy, "nginx": Nginx}
	for name, render := range renderers {
		for _, side := range []Side{Client, Server} {
			t.Run(name+"-"+string(side), func(t *testing.T) {
				got, err := render(Params{Side: side, Threads: 2, Dir: "/run/bench/" + string(side), Routes: routes(side)})
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", name+"-"+string(side)+".golden")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if string(got) != string(want) {
					t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, golden, got)
				}
			})
		}
	}
}

func TestRenderInvalid(t *testing.T) {
	good := Params{Side: Client, Threads: 1, Dir: "/x", Routes: routes(Client)}
	cases := []struct {
		name   string
		change func(*Params)
		want   string
	}{
		{"side", func(p *Params) { p.Side = "middle" }, "side"},
		{"threads", func(p *Params) { p.Threads = 0 }, "threads"},
		{"relative dir", func(p *Params) { p.Dir = "x" }, "absolute"},
		{"no routes", func(p *Params) { p.Routes = nil }, "no routes"},
		{"repeated port", func(p *Params) { p.Routes = append(p.Routes, p.Routes[0]) }, "repeated"},
		{"bad name", func(p *Params) {
			p.Routes = []Route{{Name: "a b", Kind: TCP, Listen: 1, Upstream: netip.MustParseAddrPort("1.2.3.4:5")}}
		}, "route name"},
		{"bad kind", func(p *Params) {
			p.Routes = []Route{{Name: "a", Kind: "udp", Listen: 1, Upstream: netip.MustParseAddrPort("1.2.3.4:5")}}
		}, "kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			p.Routes = append([]Route(nil), good.Routes...)
			c.change(&p)
			for _, render := range []func(Params) ([]byte, error){HAProxy, Nginx} {
				if _, err := render(p); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("err = %v, want one mentioning %q", err, c.want)
				}
			}
		})
	}
}

// TestNginxHTTPOnly checks that the stream module is loaded only when a TCP
// route needs it.
func TestNginxHTTPOnly(t *testing.T) {
	p := Params{Side: Client, Threads: 1, Dir: "/x", Routes: routes(Client)[:1]}
	b, err := Nginx(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "load_module") || strings.Contains(string(b), "stream {") {
		t.Errorf("HTTP-only config loads the stream module:\n%s", b)
	}
}
