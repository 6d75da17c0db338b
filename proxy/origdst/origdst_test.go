package origdst

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
)

// TestLookupRedirected redirects a pod's outgoing connections to a service
// address with iptables and checks that the accepting side reads the
// address the client dialled, over IPv4 and IPv6.
func TestLookupRedirected(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{})
	pod, err := env.AddPod(t.Context(), "a", netenv.PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, iptables, listen, dial string
	}{
		{"ipv4", "iptables", "127.0.0.1:15001", "10.96.0.10:80"},
		{"ipv6", "ip6tables", "[::1]:15001", "[fd6d:6c00:ffff::10]:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := netip.MustParseAddrPort(tc.dial)
			rule := []string{"-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", want.Addr().String(), "-j", "REDIRECT", "--to-ports", "15001"}
			if out, err := pod.Command(t.Context(), 0, tc.iptables, rule...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", tc.iptables, err, out)
			}
			ln, err := pod.Listen("tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			c, err := pod.DialContext(t.Context(), "tcp", tc.dial)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var s net.Conn
			select {
			case s = <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("redirected connection never arrived")
			}
			defer s.Close()
			got, err := Lookup(s.(*net.TCPConn))
			if err != nil || got != want {
				t.Fatalf("Lookup = %v, %v; want %v", got, err, want)
			}

			// A connection straight to the listener was not redirected:
			// its original destination, if any, is the listener itself.
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			d, err := pod.DialContext(t.Context(), "tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			s2 := <-accepted
			defer s2.Close()
			got, err = Lookup(s2.(*net.TCPConn))
			local := s2.LocalAddr().(*net.TCPAddr).AddrPort()
			if err != ErrNotRedirected && (err != nil || got != netip.AddrPortFrom(local.Addr().Unmap(), local.Port())) {
				t.Fatalf("direct connection: Lookup = %v, %v; want the local address %v or ErrNotRedirected", got, err, local)
			}
		})
	}
}
