package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/internal/testbin"
)

var bins *testbin.Builder

func TestMain(m *testing.M) { testbin.Main(m, &bins) }

const proxyUID = 2102

// redirect runs meshlite-init inside pod: inbound TCP except the admin
// port to 4143, and outbound TCP of every uid but the proxy's, off
// loopback, to 4140, for IPv4 and IPv6.
func redirect(t *testing.T, pod *netenv.Pod, initBin string) {
	t.Helper()
	if out, err := pod.Command(t.Context(), 0, initBin).CombinedOutput(); err != nil {
		t.Fatalf("meshlite-init in %s: %v: %s", pod.Name, err, out)
	}
}

// startProxy runs the real binary in pod as the proxy's uid.
func startProxy(t *testing.T, pod *netenv.Pod, bin string) *netenv.Proc {
	t.Helper()
	p, err := pod.Start(t.Context(), netenv.ProcSpec{
		Name: "proxy", Path: bin, UID: proxyUID, GID: proxyUID,
		Args: []string{"--log-level", "debug"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	if err := pod.WaitDial(t.Context(), "tcp", "127.0.0.1:4191"); err != nil {
		t.Fatalf("proxy admin never came up: %v\n%s", err, p.Output())
	}
	return p
}

// TestTransparentPath: an app in pod "client" calls the app in pod
// "server" by address with curl; iptables in both pods send the connection
// through both proxies, which must see the original destination, count the
// request on each side, and deliver it to the server app on localhost.
func TestTransparentPath(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{})
	proxyBin := bins.MustBuild(t, "proxy/cmd/meshlite-proxy")
	client, err := env.AddPod(t.Context(), "client", netenv.PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server, err := env.AddPod(t.Context(), "server", netenv.PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	initBin := bins.MustBuild(t, "init/cmd/meshlite-init")
	for _, pod := range []*netenv.Pod{client, server} {
		redirect(t, pod, initBin)
	}

	// The server app listens on loopback only: it is reachable from
	// outside the pod solely through the inbound proxy.
	seen := make(chan string, 4)
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Host + " from " + r.RemoteAddr
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	})}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080"} {
		ln, err := server.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go app.Serve(ln)
	}
	t.Cleanup(func() { app.Close() })

	clientProxy := startProxy(t, client, proxyBin)
	serverProxy := startProxy(t, server, proxyBin)

	for _, tc := range []struct {
		name string
		dst  netip.Addr
	}{
		{"ipv4", server.Addr},
		{"ipv6", server.Addr6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := netip.AddrPortFrom(tc.dst, 8080)
			url := "http://" + dst.String() + "/hi"
			out, err := client.Command(t.Context(), 0, "curl", "-sS", "--max-time", "5", "-g", url).CombinedOutput()
			if err != nil || string(out) != "hello /hi" {
				t.Fatalf("curl %s: %v: %q\nclient proxy:\n%s\nserver proxy:\n%s", url, err, out, clientProxy.Output(), serverProxy.Output())
			}
			select {
			case s := <-seen:
				if !strings.HasPrefix(s, dst.String()+" from ") {
					t.Fatalf("app saw %q, want Host %s", s, dst)
				}
			case <-time.After(time.Second):
				t.Fatal("app saw nothing")
			}
			for _, p := range []struct {
				proc      *netenv.Proc
				direction string
			}{{clientProxy, "outbound"}, {serverProxy, "inbound"}} {
				if !accessLogHas(p.proc.Output(), p.direction, dst.String()) {
					t.Errorf("%s proxy logged no request to original destination %s:\n%s", p.direction, dst, p.proc.Output())
				}
			}
		})
	}

	// Both proxies count the requests, each in its direction; the host
	// reaches their admin ports over the bridge.
	for _, p := range []struct {
		pod       *netenv.Pod
		direction string
	}{{client, "outbound"}, {server, "inbound"}} {
		fams, err := promtext.ParseString(get(t, "http://"+netip.AddrPortFrom(p.pod.Addr, 4191).String()+"/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{"authority": netip.AddrPortFrom(server.Addr, 8080).String(), "direction": p.direction, "tls": "false"}
		if got := fams.Sum("request_total", labels); got != 1 {
			t.Errorf("%s request_total%v = %v, want 1", p.direction, labels, got)
		}
	}

	// The proxy's own listener, dialled directly, would loop: refused.
	c, err := client.DialContext(t.Context(), "tcp", "127.0.0.1:4140")
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the dial even returned
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("direct connection to the outbound listener: read %d, %v; want it closed at once", n, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// accessLogHas reports whether the proxy's output has an HTTP access-log
// line in direction for original destination dst.
func accessLogHas(output, direction, dst string) bool {
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev["log"] == "access" && ev["kind"] == "http" && ev["direction"] == direction && ev["dst"] == dst && ev["status"] == float64(200) {
			return true
		}
	}
	return false
}

func get(t *testing.T, url string) string {
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
