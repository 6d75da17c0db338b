package netenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a TCP echo server run inside pods by Start:
// with helperEnv=echo it listens on helperAddrEnv and echoes.
const (
	helperEnv     = "NETENV_TEST_HELPER"
	helperAddrEnv = "NETENV_TEST_ADDR"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "echo" {
		if err := echoHelper(os.Getenv(helperAddrEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "echo helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// echoHelper serves TCP echo on addr until SIGTERM, printing "ready" once
// it listens.
func echoHelper(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	go func() { <-stop; l.Close() }()
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return nil
		}
		go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
	}
}

// startEcho runs the echo helper in pod p on port and waits until it
// listens.
func startEcho(t *testing.T, p *Pod, port int) *Proc {
	t.Helper()
	proc, err := p.Start(t.Context(), ProcSpec{
		Name: "echo", Path: os.Args[0],
		// Under -race the binary would sleep a second at exit.
		Env: []string{helperEnv + "=echo", fmt.Sprintf("%s=:%d", helperAddrEnv, port), "GORACE=atexit_sleep_ms=0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitOutput(t, proc, "ready")
	return proc
}

// waitOutput waits up to 10s for want to appear in proc's output.
func waitOutput(t *testing.T, proc *Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(proc.Output(), want) {
		select {
		case <-proc.Exited():
			t.Fatalf("%s exited (%v) before printing %q; output:\n%s", proc.Name, proc.Wait(), want, proc.Output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q; output:\n%s", proc.Name, want, proc.Output())
		}
	}
}

// echoServer accepts connections on l, reports each peer's address on
// peers and echoes; it stops when l is closed (at cleanup).
func echoServer(t *testing.T, l net.Listener) <-chan netip.Addr {
	peers := make(chan netip.Addr, 8)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
			wg.Go(func() { defer c.Close(); _, _ = io.Copy(c, c) })
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return peers
}

// roundTrip sends a line over c and checks it comes back.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := "hello from " + c.LocalAddr().String() + "\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
}

// twoPods makes an Env with pods a and b.
func twoPods(t *testing.T, opts Options) (*Env, *Pod, *Pod) {
	t.Helper()
	env := NewForTest(t, opts)
	a, err := env.AddPod(t.Context(), "a", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.AddPod(t.Context(), "b", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return env, a, b
}

func TestPodToPod(t *testing.T) {
	t.Parallel()
	env, a, b := twoPods(t, Options{})
	if !env.PodCIDR().Contains(a.Addr) || !env.PodCIDR6().Contains(a.Addr6) || a.Addr == b.Addr {
		t.Fatalf("addresses: env %s %s, a %s %s, b %s %s", env.PodCIDR(), env.PodCIDR6(), a.Addr, a.Addr6, b.Addr, b.Addr6)
	}
	addr := func(p *Pod, v6 bool) netip.Addr {
		if v6 {
			return p.Addr6
		}
		return p.Addr
	}
	for _, tt := range []struct {
		from, to *Pod
		v6       bool
	}{{a, b, false}, {b, a, false}, {a, b, true}, {b, a, true}} {
		t.Run(fmt.Sprintf("do/%s-to-%s/v6=%v", tt.from.Name, tt.to.Name, tt.v6), func(t *testing.T) {
			l, err := tt.to.Listen("tcp", netip.AddrPortFrom(addr(tt.to, tt.v6), 0).String())
			if err != nil {
				t.Fatal(err)
			}
			peers := echoServer(t, l)
			c, err := tt.from.DialContext(t.Context(), "tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c)
			if got := <-peers; got != addr(tt.from, tt.v6) {
				t.Errorf("server saw peer %s, want %s (over the bridge)", got, addr(tt.from, tt.v6))
			}
		})
	}
	t.Run("start", func(t *testing.T) {
		startEcho(t, a, 7001)
		startEcho(t, b, 7002)
		for _, tt := range []struct {
			from *Pod
			to   netip.AddrPort
		}{
			{a, netip.AddrPortFrom(b.Addr, 7002)}, {a, netip.AddrPortFrom(b.Addr6, 7002)},
			{b, netip.AddrPortFrom(a.Addr, 7001)}, {b, netip.AddrPortFrom(a.Addr6, 7001)},
		} {
			c, err := tt.from.DialContext(t.Context(), "tcp", tt.to.String())
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c)
		}
	})
	t.Run("isolated", func(t *testing.T) {
		// The echo of pod a is not reachable as 127.0.0.1 from pod b
		// or from the host: each pod has its own loopback.
		l, err := a.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		echoServer(t, l)
		if c, err := b.DialContext(t.Context(), "tcp", l.Addr().String()); err == nil {
			c.Close()
			t.Fatalf("pod b reached pod a's loopback listener %s", l.Addr())
		}
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
			t.Fatalf("host reached pod a's loopback listener %s", l.Addr())
		}
	})
}

func TestHostReachesPod(t *testing.T) {
	t.Parallel()
	env := NewForTest(t, Options{})
	p, err := env.AddPod(t.Context(), "web", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{p.Addr, p.Addr6} {
		l, err := p.Listen("tcp", netip.AddrPortFrom(a, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		peers := echoServer(t, l)
		var d net.Dialer
		c, err := d.DialContext(t.Context(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("host dial %s: %v", l.Addr(), err)
		}
		roundTrip(t, c)
		want := env.Gateway()
		if a.Is6() {
			want = env.Gateway6()
		}
		if got := <-peers; got != want {
			t.Errorf("pod saw host as %s, want the bridge address %s", got, want)
		}
	}
}

func TestHosts(t *testing.T) {
	t.Parallel()
	env, a, b := twoPods(t, Options{})
	svc := netip.MustParseAddr("10.96.0.10")
	if err := env.SetHosts(map[string]netip.Addr{"web.default.svc.cluster.local": svc, "backend": b.Addr}); err != nil {
		t.Fatal(err)
	}
	late, err := env.AddPod(t.Context(), "late", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("command", func(t *testing.T) {
		for _, p := range []*Pod{a, late} {
			out, err := p.Command(t.Context(), 0, "getent", "hosts", "web.default.svc.cluster.local").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), svc.String()+" ") {
				t.Errorf("pod %s: getent = %q, %v; want %s", p.Name, out, err, svc)
			}
		}
	})
	t.Run("start", func(t *testing.T) {
		proc, err := a.Start(t.Context(), ProcSpec{Path: "getent", Args: []string{"ahostsv4", "backend"}, UID: 1234, GID: 1234})
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Wait(); err != nil || !strings.Contains(proc.Output(), b.Addr.String()) {
			t.Errorf("getent backend = %q, %v; want %s", proc.Output(), err, b.Addr)
		}
	})
	t.Run("own name and localhost", func(t *testing.T) {
		out, err := b.Command(t.Context(), 0, "getent", "ahosts", "b").Output()
		if err != nil || !strings.Contains(string(out), b.Addr.String()) {
			t.Errorf("getent ahosts b = %q, %v", out, err)
		}
		out, err = b.Command(t.Context(), 0, "getent", "hosts", "localhost").Output()
		if err != nil || !strings.Contains(string(out), "127.0.0.1") && !strings.Contains(string(out), "::1") {
			t.Errorf("getent hosts localhost = %q, %v", out, err)
		}
	})
	t.Run("dial by name", func(t *testing.T) {
		l, err := b.Listen("tcp", ":7003")
		if err != nil {
			t.Fatal(err)
		}
		echoServer(t, l)
		if err := a.WaitDial(t.Context(), "tcp", "backend:7003"); err != nil {
			t.Fatal(err)
		}
		c, err := a.DialContext(t.Context(), "tcp", "backend:7003")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
	})
}

func TestProcUID(t *testing.T) {
	t.Parallel()
	env := NewForTest(t, Options{DisableIPv6: true})
	p, err := env.AddPod(t.Context(), "app", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		uid, gid int
		want     string
	}{{0, 0, "0 0 0"}, {1234, 1234, "1234 1234 1234"}, {2102, 0, "2102 0 0"}} {
		t.Run(fmt.Sprint(tt.uid), func(t *testing.T) {
			var tee strings.Builder
			proc, err := p.Start(t.Context(), ProcSpec{
				Path: "sh", Args: []string{"-c", `echo "$(id -u) $(id -g) $(id -G)"; exit 3`},
				UID: tt.uid, GID: tt.gid, Output: &tee,
			})
			if err != nil {
				t.Fatal(err)
			}
			<-proc.Exited()
			if got := strings.TrimSpace(proc.Output()); got != tt.want {
				t.Errorf("uid/gid/groups = %q, want %q", got, tt.want)
			}
			if proc.ExitCode() != 3 || proc.Wait() == nil {
				t.Errorf("exit code %d, err %v; want 3", proc.ExitCode(), proc.Wait())
			}
			if tee.String() != proc.Output() {
				t.Errorf("tee got %q, output %q", tee.String(), proc.Output())
			}
		})
	}
	out, err := p.Command(t.Context(), 1234, "id", "-u").Output()
	if err != nil || strings.TrimSpace(string(out)) != "1234" {
		t.Errorf("Command id -u = %q, %v", out, err)
	}
	t.Run("stop", func(t *testing.T) {
		// sh and its child sleep ignore SIGTERM (SIG_IGN is inherited):
		// Stop must SIGKILL the whole group after the grace.
		proc, err := p.Start(t.Context(), ProcSpec{Path: "sh", Args: []string{"-c", "trap '' TERM; sleep 60 & echo started; wait"}, UID: 1234, GID: 1234})
		if err != nil {
			t.Fatal(err)
		}
		waitOutput(t, proc, "started")
		start := time.Now()
		if err := proc.Stop(200 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Stop took %v", d)
		}
		if pids, err := netnsPIDs(t.Context(), p.NetNS); err != nil || len(pids) != 0 {
			t.Errorf("processes left in the pod: %v, %v", pids, err)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		proc, err := p.Start(ctx, ProcSpec{Path: "sh", Args: []string{"-c", "sleep 60 & echo started; wait"}})
		if err != nil {
			t.Fatal(err)
		}
		waitOutput(t, proc, "started")
		cancel()
		select {
		case <-proc.Exited():
		case <-time.After(5 * time.Second):
			t.Fatal("process still running 5s after its context was cancelled")
		}
		if pids, err := netnsPIDs(t.Context(), p.NetNS); err != nil || len(pids) != 0 {
			t.Errorf("processes left in the pod: %v, %v", pids, err)
		}
	})
}

func TestServiceAddressWithoutRedirect(t *testing.T) {
	t.Parallel()
	env, a, b := twoPods(t, Options{})
	for _, args := range [][]string{{"-4", "route", "show"}, {"-6", "route", "show"}} {
		out, err := a.Command(t.Context(), 0, "ip", args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "default") {
			t.Errorf("pod has a default route (ip %s):\n%s", strings.Join(args, " "), out)
		}
	}
	// The service range is routed on-link, an outside address is not
	// routed at all (ip route get sends nothing).
	out, err := a.Command(t.Context(), 0, "ip", "route", "get", "10.96.0.10").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev eth0") {
		t.Errorf("route to service address: %q, %v", out, err)
	}
	for _, dst := range []string{"198.51.100.1", "2001:db8::1"} {
		out, err := a.Command(t.Context(), 0, "ip", "route", "get", dst).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "unreachable") {
			t.Errorf("route to %s from pod: %q, %v; want unreachable", dst, out, err)
		}
	}
	svc := netip.AddrPortFrom(netip.MustParseAddr("10.96.0.10"), 80)
	t.Run("no answer", func(t *testing.T) {
		for _, dst := range []netip.AddrPort{svc, netip.AddrPortFrom(env.ServiceCIDR6().Addr().Next(), 80)} {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			c, err := a.DialContext(ctx, "tcp", dst.String())
			cancel()
			if err == nil {
				c.Close()
				t.Fatalf("connect to service address %s succeeded without redirect", dst)
			}
		}
	})
	t.Run("redirected by iptables", func(t *testing.T) {
		l, err := b.Listen("tcp", ":8080")
		if err != nil {
			t.Fatal(err)
		}
		echoServer(t, l)
		out, err := a.Command(t.Context(), 0, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", svc.Addr().String(),
			"--dport", "80", "-j", "DNAT", "--to-destination", b.Addr.String()+":8080").CombinedOutput()
		if err != nil {
			t.Fatalf("iptables: %v: %s", err, out)
		}
		c, err := a.DialContext(t.Context(), "tcp", svc.String())
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
	})
}

func TestIPv6Disabled(t *testing.T) {
	t.Parallel()
	env := NewForTest(t, Options{DisableIPv6: true})
	p, err := env.AddPod(t.Context(), "v4only", PodOptions{Sysctls: map[string]string{"net.ipv4.ip_local_port_range": "40000 40100"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Addr6.IsValid() || env.PodCIDR6().IsValid() || env.Gateway6().IsValid() {
		t.Errorf("IPv6 off but Addr6 %v, PodCIDR6 %v", p.Addr6, env.PodCIDR6())
	}
	out, err := p.Command(t.Context(), 0, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "global").Output()
	if err != nil || len(out) != 0 {
		t.Errorf("global IPv6 addresses on eth0: %q, %v", out, err)
	}
	out, err = p.Command(t.Context(), 0, "cat", "/proc/sys/net/ipv4/ip_local_port_range").Output()
	if err != nil || strings.Join(strings.Fields(string(out)), " ") != "40000 40100" {
		t.Errorf("sysctl in pod: %q, %v", out, err)
	}
	if host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); strings.Contains(string(host), "40000\t40100") {
		t.Errorf("sysctl leaked to the host: %q", host)
	}
}

func TestPodErrors(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	// A /30 holds one pod. Any fixed subnet may be taken by a test binary
	// running at the same time, so try a few.
	var env *Env
	for i := range 8 {
		e, err := New(t.Context(), Options{PodCIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(os.Getpid()), byte(4 * i)}), 30), DisableIPv6: true})
		if errors.Is(err, ErrSubnetInUse) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		env = e
		break
	}
	if env == nil {
		t.Fatal("no free /30 in 10.200.0.0/16")
	}
	if _, err := env.AddPod(t.Context(), "Bad_Name", PodOptions{}); err == nil {
		t.Error("AddPod accepted an invalid name")
	}
	if _, err := env.AddPod(t.Context(), "one", PodOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.AddPod(t.Context(), "one", PodOptions{}); !errors.Is(err, ErrPodExists) {
		t.Errorf("duplicate pod: %v", err)
	}
	if _, err := env.AddPod(t.Context(), "two", PodOptions{}); !errors.Is(err, ErrSubnetFull) {
		t.Errorf("pod beyond a /30: %v", err)
	}
	if _, err := New(t.Context(), Options{PodCIDR: env.PodCIDR(), DisableIPv6: true}); !errors.Is(err, ErrSubnetInUse) {
		t.Errorf("New with a subnet in use: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := env.Pod("one").WaitDial(ctx, "tcp", "127.0.0.1:1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitDial with nothing listening: %v", err)
	}
	// ip netns exec starts, then fails to exec the program.
	proc, err := env.Pod("one").Start(t.Context(), ProcSpec{Path: "/nonexistent/binary"})
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err == nil || proc.ExitCode() == 0 || !strings.Contains(proc.Output(), "/nonexistent/binary") {
		t.Errorf("missing binary: %v, exit %d, output %q", err, proc.ExitCode(), proc.Output())
	}
}

// TestPodReachesHostAfterMorePods: a pod that talked to the host keeps
// reaching it after other pods join the bridge. (A bridge without a MAC
// address of its own takes its ports' lowest, so new pods changed it
// under the first pod's ARP cache, and its packets to the host were lost
// for seconds.)
func TestPodReachesHostAfterMorePods(t *testing.T) {
	t.Parallel()
	env := NewForTest(t, Options{DisableIPv6: true})
	mac := func() string {
		b, err := os.ReadFile("/sys/class/net/" + env.Bridge() + "/address")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	first, err := env.AddPod(t.Context(), "first", PodOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", netip.AddrPortFrom(env.Gateway(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	echoServer(t, l)
	talk := func() {
		t.Helper()
		c, err := first.DialContext(t.Context(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("pod dial host %s: %v", l.Addr(), err)
		}
		roundTrip(t, c)
	}
	talk()
	before := mac()
	for _, name := range []string{"second", "third", "fourth"} {
		if _, err := env.AddPod(t.Context(), name, PodOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if after := mac(); after != before {
		t.Errorf("bridge MAC changed from %s to %s as pods were added", before, after)
	}
	talk()
}
