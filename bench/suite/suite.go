package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/bench/peers"
	"github.com/meshlite/meshlite/bench/report"
	"github.com/meshlite/meshlite/bench/topology"
	"github.com/meshlite/meshlite/bench/workload"
	"github.com/meshlite/meshlite/internal/netenv"
)

// Options configures Run.
type Options struct {
	// Plan is what to measure.
	Plan workload.Plan
	// BinDir holds meshlite-proxy, loadgen, benchbackend and benchpeer.
	BinDir string
	// OutDir receives the raw output of every run (under raw/<plan>/)
	// and the peers' configurations (under run/).
	OutDir string
	// ToolsDir holds fortio.
	ToolsDir string
	// Threads is every proxy's worker threads. Default 1, like meshlite-proxy's --cores.
	Threads int
	// CPUProfileDir, when set, runs meshlite as meshlite-proxy-prof and
	// collects its CPU profiles there (<topology>-client.pprof and
	// <topology>-server.pprof: meshlite-client.pprof,
	// meshlite-mtls-server.pprof...). Default "" (off).
	CPUProfileDir string
	// Command is how the run was started, for the report.
	Command string
	// Log receives progress lines. Default: discarded.
	Log io.Writer
}

// podSysctls widen the ephemeral ports and allow TIME_WAIT reuse, so the
// churn workload's thousands of connections do not run out of ports.
var podSysctls = map[string]string{
	"net.ipv4.ip_local_port_range": "10000 65000",
	"net.ipv4.tcp_tw_reuse":        "1",
}

// site is one topology, set up.
type site struct {
	topo    topology.Topology
	pair    topology.Pair
	apps    []*netenv.Proc // backend, iperf3, control plane: not measured
	proxies []topology.Proxy
	ready   bool // set up and checked
}

// runner is the state of one Run.
type runner struct {
	o       Options
	bins    map[string]string
	tools   map[string]string
	rawDir  string
	ports   topology.Ports
	res     *report.Results
	sites   []*site
	total   int // runs planned
	done    int
	started time.Time
}

// Run executes o.Plan and returns its results. The pods are torn down
// before it returns. Runs that fail are listed in Results.Failures and the
// rest go on; a failure to build the environment, or ctx ending, is
// returned as an error.
func Run(ctx context.Context, o Options) (res *report.Results, err error) {
	if o.Threads <= 0 {
		o.Threads = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	topos, err := topology.Select(o.Plan.Topologies)
	if err != nil {
		return nil, err
	}
	r := &runner{o: o, ports: topology.DefaultPorts, started: time.Now()}
	runDir, err := r.prepare(ctx, topos)
	if err != nil {
		return nil, err
	}
	r.logf("plan %s: %d topologies (%s), estimated %v plus set-up", o.Plan.Name, len(topos),
		strings.Join(topology.Names(topos), ", "), o.Plan.Estimate(carriers(topos)).Round(time.Second))

	env, err := netenv.New(ctx, netenv.Options{Prefix: "mlbch", DisableIPv6: true})
	if err != nil {
		return nil, fmt.Errorf("meshbench: %w", err)
	}
	defer func() {
		r.logf("tearing down pods and processes")
		if cerr := env.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		r.saveLogs(runDir)
	}()
	if err := r.setupAll(ctx, env, topos, runDir); err != nil {
		return r.res, err
	}
	if err := r.runPlan(ctx); err != nil {
		return r.res, err
	}
	r.res.Meta.DurationS = time.Since(r.started).Seconds()
	return r.res, nil
}

// prepare finds the binaries and tools, empties the output directories
// and starts the Results. It returns the directory for the peers' files.
func (r *runner) prepare(ctx context.Context, topos []topology.Topology) (runDir string, err error) {
	o := r.o
	bins := binaries
	if o.CPUProfileDir != "" {
		bins = append(slices.Clone(bins), "meshlite-proxy-prof")
		if err := os.MkdirAll(o.CPUProfileDir, 0o755); err != nil {
			return "", fmt.Errorf("meshbench: %w", err)
		}
		if err := os.Chown(o.CPUProfileDir, topology.ProxyUID, topology.ProxyUID); err != nil {
			return "", fmt.Errorf("meshbench: %w", err)
		}
	}
	if r.bins, err = findBins(o.BinDir, bins); err != nil {
		return "", err
	}
	if r.tools, err = preflight(needs(o.Plan, topos), o.ToolsDir); err != nil {
		return "", err
	}
	outDir, err := filepath.Abs(o.OutDir) // the peers want absolute paths
	if err != nil {
		return "", fmt.Errorf("meshbench: %w", err)
	}
	r.rawDir = filepath.Join(outDir, "raw", o.Plan.Name)
	runDir = filepath.Join(outDir, "run")
	for _, d := range []string{r.rawDir, runDir} {
		if err := os.RemoveAll(d); err != nil {
			return "", fmt.Errorf("meshbench: %w", err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("meshbench: %w", err)
		}
	}
	r.res = &report.Results{Meta: r.meta(ctx)}
	for _, t := range topos {
		info := report.TopologyInfo{Name: t.Name, Summary: t.Summary, Capture: t.Capture}
		for _, p := range t.Protos {
			info.Protos = append(info.Protos, string(p))
		}
		r.res.Topologies = append(r.res.Topologies, info)
	}
	return runDir, nil
}

// setupAll sets up every topology; one that fails is recorded and left
// out, unless none is left.
func (r *runner) setupAll(ctx context.Context, env *netenv.Env, topos []topology.Topology, runDir string) error {
	certs, err := peers.NewCerts(time.Now(), peers.ServerName)
	if err != nil {
		return err
	}
	for _, t := range topos {
		s, err := r.setup(ctx, env, t, certs, filepath.Join(runDir, t.Name))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail("set up %s: %v", t.Name, err)
			continue
		}
		s.ready = true
	}
	if !slices.ContainsFunc(r.sites, func(s *site) bool { return s.ready }) {
		return errors.New("meshbench: no topology could be set up")
	}
	return nil
}

// needs lists the external programs the plan runs.
func needs(pl workload.Plan, topos []topology.Topology) []string {
	progs := []string{"ip", "iptables", "setpriv"}
	for _, t := range topos {
		progs = append(progs, t.Needs...)
	}
	if pl.Throughput {
		progs = append(progs, "wrk", "h2load", "iperf3")
	}
	if pl.Fortio {
		progs = append(progs, "fortio")
	}
	slices.Sort(progs)
	return slices.Compact(progs)
}

// carriers counts the topologies carrying each protocol.
func carriers(topos []topology.Topology) func(topology.Proto) int {
	return func(p topology.Proto) int {
		n := 0
		for _, t := range topos {
			if t.Carries(p) {
				n++
			}
		}
		return n
	}
}

func (r *runner) meta(ctx context.Context) report.Meta {
	pl := r.o.Plan
	progs := map[string]string{}
	for _, name := range []string{"haproxy", "nginx", "wrk", "h2load", "iperf3", "fortio"} {
		if p, ok := r.tools[name]; ok {
			progs[name] = p
		}
	}
	return report.Meta{
		Date: time.Now().UTC(), Plan: pl.Name, Command: r.o.Command,
		CPU: CPUModel(readFile("/proc/cpuinfo")), Cores: runtime.NumCPU(),
		Memory: MemTotal(readFile("/proc/meminfo")), Kernel: kernel(),
		GoVersion: runtime.Version(), Commit: commit(ctx), Versions: versions(ctx, progs),
		Reps: pl.Reps, WindowS: pl.Window.Seconds(), WarmupS: pl.Warmup.Seconds(), MinSamples: pl.MinSamples,
		Threads: r.o.Threads,
	}
}

// setup builds one topology's pods, backend and proxies, checks the path
// and records the proxies' idle memory.
func (r *runner) setup(ctx context.Context, env *netenv.Env, t topology.Topology, certs *peers.Certs, dir string) (*site, error) {
	client, err := env.AddPod(ctx, t.Name+"-c", netenv.PodOptions{Sysctls: podSysctls})
	if err != nil {
		return nil, err
	}
	server, err := env.AddPod(ctx, t.Name+"-s", netenv.PodOptions{Sysctls: podSysctls})
	if err != nil {
		return nil, err
	}
	iperf := ""
	if r.o.Plan.Throughput && t.Carries(topology.TCP) {
		iperf = r.tools["iperf3"]
	}
	s := &site{topo: t, pair: topology.Pair{Client: client, Server: server}}
	r.sites = append(r.sites, s) // for saveLogs, even if set-up fails
	if t.Control {
		if s.pair.Control, err = env.AddPod(ctx, t.Name+"-ctl", netenv.PodOptions{}); err != nil {
			return nil, err
		}
	}
	if s.apps, err = topology.StartApps(ctx, server, r.bins["benchbackend"], iperf, r.ports); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s.proxies, err = t.Setup(ctx, s.pair, topology.Deps{
		Bins: topology.Bins{Proxy: r.bins["meshlite-proxy"], ProxyProf: r.bins["meshlite-proxy-prof"],
			Peer: r.bins["benchpeer"], Identity: r.bins["meshlite-identity"], HAProxy: r.tools["haproxy"], Nginx: r.tools["nginx"]},
		Dir: dir, Threads: r.o.Threads, Ports: r.ports, Certs: certs, ProfileDir: profileDir(r.o.CPUProfileDir),
		Started: func(p *netenv.Proc) { s.apps = append(s.apps, p) },
	})
	if err != nil {
		return nil, err
	}
	if err := topology.Check(ctx, t, s.pair, r.ports); err != nil {
		return nil, err
	}
	if t.Verify != nil {
		if err := t.Verify(ctx, s.proxies); err != nil {
			return nil, err
		}
		r.logf("%-16s path verified from the proxies' metrics", t.Name)
	}
	for _, p := range s.proxies {
		u, err := measure.Idle(p.Proc.PID())
		if err != nil {
			return nil, err
		}
		r.res.Idle = append(r.res.Idle, report.IdleRSS{Topology: t.Name, Side: string(p.Side), RSS: u.RSSSteady, Peak: u.RSSPeak, Anon: u.AnonSteady})
	}
	r.logf("%-16s up: client %s, server %s; %d proxies", t.Name, client.Addr, server.Addr, len(s.proxies))
	return s, nil
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.o.Log, "%s meshbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// fail records a failed run and logs it.
func (r *runner) fail(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	short, _, _ := strings.Cut(msg, "\n")
	if len(short) > 300 {
		short = short[:300] + "…"
	}
	r.res.Failures = append(r.res.Failures, short)
	r.logf("FAILED: %s", msg)
}

// profileDir makes the profile directory absolute (the proxy runs with
// another working directory).
func profileDir(d string) string {
	if d == "" {
		return ""
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// saveLogs writes what every process of every site printed to
// <run>/<topology>/<name>.log, for post-mortems.
func (r *runner) saveLogs(runDir string) {
	for _, s := range r.sites {
		dir := filepath.Join(runDir, s.topo.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			continue
		}
		procs := slices.Clone(s.apps)
		for _, p := range s.proxies {
			procs = append(procs, p.Proc)
		}
		for _, p := range procs {
			_ = os.WriteFile(filepath.Join(dir, p.Name+".log"), []byte(p.Output()), 0o644)
		}
	}
}
