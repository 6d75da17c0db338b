// Package netenv builds Kubernetes-like pods on one machine out of network
// namespaces, so the proxy, its iptables redirection and real applications
// can be tested together (by go test, as root) and shown (by make demo).
//
// An Env is a bridge in the root namespace plus any number of pods. Each
// pod is a named netns "<prefix>-<id>-<pod>" whose eth0 is one end of a veth
// pair on the bridge. Default address plan, for the Env's free slot s
// (0..255):
//
//	pods      10.201.s.0/24      bridge (host side) .1, pods .2, .3, ...
//	pods v6   fd6d:6c00:s::/64   bridge ::1, pods ::2, ::3, ... (no DAD)
//	services  10.96.0.0/16, fd6d:6c00:ffff::/112, routed only inside pods
//
// Pods have no default route: traffic never leaves the machine. They reach
// each other and the host over the bridge, and route the service ranges
// on-link via eth0, so a connect to a service address is routed (and can be
// redirected by iptables in the pod) but gets no answer otherwise. The host
// reaches pods through the bridge's address.
//
// Everything an Env creates is named "<prefix>-<id>-..." and its owner
// process is recorded under /run/meshlite-netenv, so envs of parallel test
// processes do not collide and leftovers of crashed runs are recognised:
// New removes those of its prefix (see CleanupStale).
//
// Code runs in a pod three ways: Pod.Start for long-running processes (as
// any uid, output captured, stopped by Proc.Stop or Env.Close),
// Pod.Command for one-shot commands, and Pod.Do, Pod.Listen and
// Pod.DialContext for sockets of the test process itself.
//
//	func TestEcho(t *testing.T) {
//		env := netenv.NewForTest(t, netenv.Options{}) // skips unless root
//		srv, _ := env.AddPod(t.Context(), "server", netenv.PodOptions{})
//		cli, _ := env.AddPod(t.Context(), "client", netenv.PodOptions{})
//		env.SetHosts(map[string]netip.Addr{"echo.default.svc": srv.Addr})
//
//		ln, _ := srv.Listen("tcp", ":7")
//		go serveEcho(ln)
//		conn, _ := cli.DialContext(t.Context(), "tcp", "echo.default.svc:7")
//		// ...
//
//		out, _ := cli.Command(t.Context(), 0, "getent", "hosts", "echo.default.svc").Output()
//		p, _ := cli.Start(t.Context(), netenv.ProcSpec{Path: "sleep", Args: []string{"60"}, UID: 2102, GID: 2102})
//		defer p.Stop(time.Second)
//	}
package netenv
