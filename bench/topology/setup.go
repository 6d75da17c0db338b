package topology

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/meshlite/meshlite/bench/peers"
	"github.com/meshlite/meshlite/internal/netenv"
)

// startTimeout bounds how long a proxy may take to listen.
const startTimeout = 15 * time.Second

// Listen ports of the static peers: the i-th application route listens on
// clientListenBase+i in the client pod and serverListenBase+i in the
// server pod.
const (
	clientListenBase = 4150
	serverListenBase = 4160
)

func gomaxprocs(n int) string { return "GOMAXPROCS=" + strconv.Itoa(n) }

// setupMeshlite runs meshlite-proxy in both pods behind the rules
// meshlite-init will install.
func setupMeshlite(ctx context.Context, pair Pair, d Deps) ([]Proxy, error) {
	return startMeshlite(ctx, pair, d, "meshlite", nil)
}

// startMeshlite runs meshlite-proxy in both pods, client first, behind the
// rules meshlite-init will install, each with --access-log=false and the
// flags extra returns for its side, and waits until each is ready. With
// Deps.ProfileDir, the profiles are <topo>-<side>.pprof.
func startMeshlite(ctx context.Context, pair Pair, d Deps, topo string, extra func(Side) []string) ([]Proxy, error) {
	var out []Proxy
	for _, s := range []struct {
		side Side
		pod  *netenv.Pod
	}{{ClientSide, pair.Client}, {ServerSide, pair.Server}} {
		if err := apply(ctx, s.pod, TransparentRules(ProxyUID, OutboundPort, InboundPort, AdminPort)); err != nil {
			return nil, err
		}
		path, args := d.Bins.Proxy, []string{"--access-log=false"}
		if extra != nil {
			args = append(args, extra(s.side)...)
		}
		if d.ProfileDir != "" {
			// A short grace, so the proxy exits (and writes the
			// profile) before Env.Close's SIGKILL.
			path = d.Bins.ProxyProf
			args = append(args, "--shutdown-grace=1s", "-cpuprofile", filepath.Join(d.ProfileDir, topo+"-"+string(s.side)+".pprof"))
		}
		proc, err := s.pod.Start(ctx, netenv.ProcSpec{
			Name: "meshlite-proxy-" + string(s.side), Path: path, Args: args,
			Env: []string{gomaxprocs(d.Threads)}, UID: ProxyUID, GID: ProxyUID,
		})
		if err != nil {
			return nil, fmt.Errorf("topology: %s: %w", topo, err)
		}
		// With an identity, /ready waits for the proxy's certificate.
		admin := netip.AddrPortFrom(s.pod.Addr, AdminPort).String()
		if err := waitReady(ctx, proc, "http://"+admin+"/ready"); err != nil {
			return nil, err
		}
		out = append(out, Proxy{Side: s.side, Proc: proc, MetricsURL: "http://" + admin + "/metrics"})
	}
	return out, nil
}

// setupGoPeer runs benchpeer of the given kind in both pods, transparent.
func setupGoPeer(kind string) func(context.Context, Pair, Deps) ([]Proxy, error) {
	return func(ctx context.Context, pair Pair, d Deps) ([]Proxy, error) {
		var out []Proxy
		for _, s := range []struct {
			side   Side
			pod    *netenv.Pod
			flag   string
			listen string
		}{
			{ClientSide, pair.Client, "out", "127.0.0.1:" + port(OutboundPort)},
			{ServerSide, pair.Server, "in", "0.0.0.0:" + port(InboundPort)},
		} {
			if err := apply(ctx, s.pod, TransparentRules(ProxyUID, OutboundPort, InboundPort, AdminPort)); err != nil {
				return nil, err
			}
			proc, err := s.pod.Start(ctx, netenv.ProcSpec{
				Name: kind + "-" + string(s.side), Path: d.Bins.Peer,
				Args: []string{"-kind", kind, "-side", s.flag, "-listen", s.listen},
				Env:  []string{gomaxprocs(d.Threads)}, UID: ProxyUID, GID: ProxyUID,
			})
			if err != nil {
				return nil, fmt.Errorf("topology: %s: %w", kind, err)
			}
			if err := waitListening(ctx, proc, "127.0.0.1:"+port(listenPortOf(s.side))); err != nil {
				return nil, err
			}
			out = append(out, Proxy{Side: s.side, Proc: proc})
		}
		return out, nil
	}
}

func listenPortOf(s Side) uint16 {
	if s == ClientSide {
		return OutboundPort
	}
	return InboundPort
}

// StaticRoutes are the routes of a static peer on side s, for a server
// pod at server.
func StaticRoutes(s Side, server netip.Addr, ports Ports) []peers.Route {
	var out []peers.Route
	for i, r := range ports.routes() {
		rt := peers.Route{Name: r.name, Kind: r.kind}
		if s == ClientSide {
			rt.Listen = clientListenBase + uint16(i)
			rt.Upstream = netip.AddrPortFrom(server, r.port)
		} else {
			rt.Listen = serverListenBase + uint16(i)
			rt.Upstream = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), r.port)
		}
		out = append(out, rt)
	}
	return out
}

// portMaps sends each application port to its route's listener.
func portMaps(routes []peers.Route) []PortMap {
	out := make([]PortMap, len(routes))
	for i, r := range routes {
		out[i] = PortMap{Dport: r.Upstream.Port(), ToPort: r.Listen}
	}
	return out
}

// setupStatic runs HAProxy or nginx as a pair with mutual TLS.
func setupStatic(kind string) func(context.Context, Pair, Deps) ([]Proxy, error) {
	return func(ctx context.Context, pair Pair, d Deps) ([]Proxy, error) {
		if d.Certs == nil {
			return nil, fmt.Errorf("topology: %s: no certificates", kind)
		}
		var out []Proxy
		for _, s := range []struct {
			side Side
			pod  *netenv.Pod
		}{{ServerSide, pair.Server}, {ClientSide, pair.Client}} {
			dir := filepath.Join(d.Dir, string(s.side))
			routes := StaticRoutes(s.side, pair.Server.Addr, d.Ports)
			spec, err := staticSpec(kind, dir, peers.Params{Side: peers.Side(s.side), Threads: d.Threads, Dir: dir, Routes: routes}, d)
			if err != nil {
				return nil, err
			}
			rules := InboundPortRules(portMaps(routes))
			if s.side == ClientSide {
				// The client peer's upstream is the server pod's address
				// and the application port: its rules map that port.
				rules = OutboundPortRules(ProxyUID, portMaps(routes))
			}
			if err := apply(ctx, s.pod, rules); err != nil {
				return nil, err
			}
			spec.Name, spec.UID, spec.GID = kind+"-"+string(s.side), ProxyUID, ProxyUID
			proc, err := s.pod.Start(ctx, spec)
			if err != nil {
				return nil, fmt.Errorf("topology: %s: %w", kind, err)
			}
			var addrs []string
			for _, r := range routes {
				addrs = append(addrs, "127.0.0.1:"+port(r.Listen))
			}
			if err := waitListening(ctx, proc, addrs...); err != nil {
				return nil, err
			}
			out = append(out, Proxy{Side: s.side, Proc: proc})
		}
		return out, nil
	}
}

// staticSpec writes the certificates and the configuration into dir and
// returns the command that runs the peer.
func staticSpec(kind, dir string, p peers.Params, d Deps) (netenv.ProcSpec, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return netenv.ProcSpec{}, fmt.Errorf("topology: %w", err)
	}
	if err := d.Certs.WriteFiles(dir); err != nil {
		return netenv.ProcSpec{}, err
	}
	var (
		cfg  []byte
		err  error
		spec netenv.ProcSpec
	)
	switch kind {
	case "haproxy":
		cfg, err = peers.HAProxy(p)
		path := filepath.Join(dir, "haproxy.cfg")
		spec = netenv.ProcSpec{Path: d.Bins.HAProxy, Args: []string{"-db", "-f", path}, Dir: dir}
	case "nginx":
		cfg, err = peers.Nginx(p)
		path := filepath.Join(dir, "nginx.conf")
		spec = netenv.ProcSpec{Path: d.Bins.Nginx, Args: []string{"-p", dir, "-e", "stderr", "-c", path}, Dir: dir}
	default:
		return spec, fmt.Errorf("topology: unknown peer %q", kind)
	}
	if err != nil {
		return spec, err
	}
	name := map[string]string{"haproxy": "haproxy.cfg", "nginx": "nginx.conf"}[kind]
	if err := os.WriteFile(filepath.Join(dir, name), cfg, 0o644); err != nil {
		return spec, fmt.Errorf("topology: %w", err)
	}
	return spec, chownTree(dir, ProxyUID)
}

// chownTree gives dir and everything in it to uid (the peers write their
// pid and temporary files there).
func chownTree(dir string, uid int) error {
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
	if err != nil {
		return fmt.Errorf("topology: chown %s: %w", dir, err)
	}
	return nil
}

// waitListening waits until every addr accepts a connection inside the
// process's pod, or fails early with the process's output if it exits.
func waitListening(ctx context.Context, proc *netenv.Proc, addrs ...string) error {
	return waitFor(ctx, proc, func(ctx context.Context) error {
		for _, a := range addrs {
			if err := proc.Pod().WaitDial(ctx, "tcp", a); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitReady polls url from the host until it answers 200.
func waitReady(ctx context.Context, proc *netenv.Proc, url string) error {
	return waitFor(ctx, proc, func(ctx context.Context) error {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", url, ctx.Err())
			case <-tick.C:
			}
		}
	})
}

// waitFor runs wait with a start timeout, cut short when proc exits.
func waitFor(ctx context.Context, proc *netenv.Proc, wait func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	go func() {
		select {
		case <-proc.Exited():
			cancel()
		case <-ctx.Done():
		}
	}()
	err := wait(ctx)
	select {
	case <-proc.Exited():
		err = errors.Join(err, fmt.Errorf("exited: %w", proc.Wait()))
	default:
	}
	if err != nil {
		return fmt.Errorf("topology: %s in pod %s did not come up: %w\n%s", proc.Name, proc.Pod().Name, err, proc.Output())
	}
	return nil
}
