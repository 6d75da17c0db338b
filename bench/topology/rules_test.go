package topology

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/bench/peers"
)

func join(rules []Rule) string {
	var lines []string
	for _, r := range rules {
		lines = append(lines, strings.Join(r, " "))
	}
	return strings.Join(lines, "\n")
}

// TestTransparentRules pins the rules to those of internal/demo's
// redirect(), which meshlite-init will install.
func TestTransparentRules(t *testing.T) {
	want := `-t nat -A PREROUTING -p tcp --dport 4191 -j RETURN
-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 4143
-t nat -A OUTPUT -p tcp -m owner --uid-owner 2102 -j RETURN
-t nat -A OUTPUT -p tcp -o lo -j RETURN
-t nat -A OUTPUT -p tcp -j REDIRECT --to-ports 4140`
	if got := join(TransparentRules(ProxyUID, OutboundPort, InboundPort, AdminPort)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPortRules(t *testing.T) {
	maps := []PortMap{{8080, 4150}, {9000, 4153}}
	wantOut := `-t nat -A OUTPUT -p tcp -m owner --uid-owner 2102 -j RETURN
-t nat -A OUTPUT -p tcp -o lo -j RETURN
-t nat -A OUTPUT -p tcp --dport 8080 -j REDIRECT --to-ports 4150
-t nat -A OUTPUT -p tcp --dport 9000 -j REDIRECT --to-ports 4153`
	if got := join(OutboundPortRules(ProxyUID, maps)); got != wantOut {
		t.Errorf("outbound:\n%s\nwant\n%s", got, wantOut)
	}
	wantIn := `-t nat -A PREROUTING -p tcp --dport 8080 -j REDIRECT --to-ports 4150
-t nat -A PREROUTING -p tcp --dport 9000 -j REDIRECT --to-ports 4153`
	if got := join(InboundPortRules(maps)); got != wantIn {
		t.Errorf("inbound:\n%s\nwant\n%s", got, wantIn)
	}
}

func TestStaticRoutes(t *testing.T) {
	srv := netip.MustParseAddr("10.201.0.3")
	client := StaticRoutes(ClientSide, srv, DefaultPorts)
	server := StaticRoutes(ServerSide, srv, DefaultPorts)
	if len(client) != 5 || len(server) != 5 {
		t.Fatalf("%d and %d routes, want 5", len(client), len(server))
	}
	for i := range client {
		c, s := client[i], server[i]
		if c.Upstream.Addr() != srv || s.Upstream.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("route %s: upstreams %v and %v", c.Name, c.Upstream, s.Upstream)
		}
		if c.Upstream.Port() != s.Upstream.Port() || c.Kind != s.Kind {
			t.Errorf("route %s differs between the sides: %+v %+v", c.Name, c, s)
		}
		if c.Listen != clientListenBase+uint16(i) || s.Listen != serverListenBase+uint16(i) {
			t.Errorf("route %s listens on %d and %d", c.Name, c.Listen, s.Listen)
		}
	}
	kinds := map[string]peers.Kind{}
	for _, r := range client {
		kinds[r.Name] = r.Kind
	}
	want := map[string]peers.Kind{"http1": peers.HTTP1, "grpc": peers.GRPC, "h2c": peers.H2C, "echo": peers.TCP, "bulk": peers.TCP}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("route %s is %q, want %q", k, kinds[k], v)
		}
	}
	if got := portMaps(client); got[0] != (PortMap{Dport: 8080, ToPort: 4150}) {
		t.Errorf("portMaps: %+v", got)
	}
}

func TestSelect(t *testing.T) {
	got, err := Select([]string{"tcp-relay", "direct"})
	if err != nil {
		t.Fatal(err)
	}
	if names := Names(got); !slices.Equal(names, []string{"direct", "tcp-relay"}) {
		t.Errorf("Select kept %v, want report order [direct tcp-relay]", names)
	}
	if _, err := Select([]string{"istio"}); err == nil || !strings.Contains(err.Error(), "istio") {
		t.Errorf("Select of an unknown topology: %v", err)
	}
	all, _ := Select(nil)
	if len(all) != len(All()) {
		t.Errorf("Select(nil) = %d topologies, want all %d", len(all), len(All()))
	}
}

func TestCarries(t *testing.T) {
	for _, tp := range All() {
		for _, p := range []Proto{HTTP1, H2C, GRPC} {
			if !tp.Carries(p) {
				t.Errorf("%s does not carry %s", tp.Name, p)
			}
		}
		if want := tp.Name != "go-reverseproxy"; tp.Carries(TCP) != want {
			t.Errorf("%s carries TCP: %v, want %v", tp.Name, tp.Carries(TCP), want)
		}
	}
}

func TestPortsFor(t *testing.T) {
	p := DefaultPorts
	for proto, want := range map[Proto]uint16{HTTP1: 8080, H2C: 8082, GRPC: 8081, TCP: 9000} {
		if got := p.For(proto); got != want {
			t.Errorf("For(%s) = %d, want %d", proto, got, want)
		}
	}
}
