package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/meshlite/meshlite/bench/loadgen"
	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/bench/report"
	"github.com/meshlite/meshlite/bench/topology"
	"github.com/meshlite/meshlite/bench/workload"
)

// runSlack is added to a run's expected length for its timeout.
const runSlack = 30 * time.Second

// runPlan runs the latency points round by round, then the closed-loop
// and fortio runs.
func (r *runner) runPlan(ctx context.Context) error {
	pl := r.o.Plan
	for range pl.Reps {
		for _, p := range pl.Points {
			w, _ := workload.Lookup(p.Workload)
			for _, s := range r.sites {
				if s.ready && s.topo.Carries(w.Proto) {
					r.total++
				}
			}
		}
	}
	for rep := 1; rep <= pl.Reps; rep++ {
		for _, p := range pl.Points {
			w, ok := workload.Lookup(p.Workload)
			if !ok {
				return fmt.Errorf("meshbench: unknown workload %q", p.Workload)
			}
			for _, s := range r.sites {
				if !s.ready || !s.topo.Carries(w.Proto) {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				r.done++
				if err := r.latency(ctx, s, w, p, rep); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.fail("%s on %s, rep %d: %v", p.Key(), s.topo.Name, rep, err)
				}
			}
		}
	}
	if pl.Throughput {
		for _, s := range r.sites {
			if !s.ready {
				continue
			}
			if err := r.throughput(ctx, s); err != nil {
				return err
			}
		}
	}
	if pl.Fortio {
		for _, s := range r.sites {
			if !s.ready || !s.topo.Carries(topology.HTTP1) {
				continue
			}
			if err := r.fortio(ctx, s); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.fail("fortio on %s: %v", s.topo.Name, err)
			}
		}
	}
	return nil
}

// monitors watches a site's proxies over one run.
type monitors struct {
	sides []string
	ms    []*measure.Monitor
}

func (r *runner) watch(ctx context.Context, s *site) (*monitors, error) {
	m := &monitors{}
	for _, p := range s.proxies {
		mon, err := measure.Start(ctx, measure.Target{PGID: p.Proc.PID(), MetricsURL: p.MetricsURL})
		if err != nil {
			m.stop(ctx)
			return nil, fmt.Errorf("%s proxy: %w (exited? output:\n%s)", p.Side, err, p.Proc.Output())
		}
		m.sides = append(m.sides, string(p.Side))
		m.ms = append(m.ms, mon)
	}
	return m, nil
}

func (m *monitors) stop(ctx context.Context) []report.ProxyUsage {
	var out []report.ProxyUsage
	for i, mon := range m.ms {
		out = append(out, report.ProxyUsage{Side: m.sides[i], Usage: mon.Stop(ctx)})
	}
	return out
}

// inPod runs a tool in the site's client pod as root (so iptables
// redirects it like an application) and returns its stdout; stderr is
// part of the error.
func (r *runner) inPod(ctx context.Context, s *site, timeout time.Duration, prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := s.pair.Client.Command(ctx, 0, prog, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s%s", filepath.Base(prog), err, stderr.String(), tail(stdout.Bytes()))
	}
	return stdout.Bytes(), nil
}

// tail returns the end of a tool's stdout for an error message.
func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (r *runner) save(name string, b []byte) (string, error) {
	path := filepath.Join(r.rawDir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("meshbench: %w", err)
	}
	return path, nil
}

// latency runs one fixed-rate point on one topology.
func (r *runner) latency(ctx context.Context, s *site, w workload.Workload, p workload.Point, rep int) error {
	pl := r.o.Plan
	window := pl.WindowFor(p)
	args := workload.LoadgenArgs(w, p, s.pair.Server.Addr, r.ports, window, pl.Warmup)
	load1 := Load1(readFile("/proc/loadavg"))
	mon, err := r.watch(ctx, s)
	if err != nil {
		return err
	}
	out, runErr := r.inPod(ctx, s, window+pl.Warmup+runSlack, r.bins["loadgen"], args...)
	usage := mon.stop(ctx)
	if runErr != nil {
		return runErr
	}
	raw, err := r.save(fmt.Sprintf("%s-%s-rep%d.json", p.Key(), s.topo.Name, rep), out)
	if err != nil {
		return err
	}
	var res loadgen.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("loadgen output: %w", err)
	}
	run := report.LatencyRun{
		Topology: s.topo.Name, Point: p, Rep: rep, WindowS: window.Seconds(),
		Latency:  percentiles(res.Latency),
		Achieved: res.Achieved, Requests: res.Requests, Errors: res.Errors, ErrorKinds: res.ErrorKinds,
		Unsent:  res.Unsent,
		Handled: float64(res.Requests) + p.Rate*pl.Warmup.Seconds(),
		Load1:   load1, Proxies: usage, Raw: raw,
	}
	for i, d := range res.Percentiles(loadgen.PlotPercentiles) {
		run.Curve = append(run.Curve, report.CurvePoint{P: loadgen.PlotPercentiles[i], US: us(d)})
	}
	r.res.Latency = append(r.res.Latency, run)
	r.logf("[%d/%d] rep %d %-22s %-16s p50 %s p99 %s ms, %.0f RPS, %d errors (load %.1f)", r.done, r.total, rep, p.Key(), s.topo.Name,
		fmtMS(run.Latency.P50), fmtMS(run.Latency.P99), run.Achieved, run.Errors, load1)
	return nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func fmtMS(us float64) string { return fmt.Sprintf("%.3f", us/1000) }

func percentiles(s loadgen.Summary) report.Percentiles {
	return report.Percentiles{P50: us(s.P50), P90: us(s.P90), P99: us(s.P99), P999: us(s.P999), Max: us(s.Max)}
}

// throughput runs wrk, h2load and iperf3 on one topology, as it carries
// them.
func (r *runner) throughput(ctx context.Context, s *site) error {
	pl := r.o.Plan
	d := pl.ThroughputWindow
	type job struct {
		tool           string
		proto          topology.Proto
		conns, streams int
		args           []string
		parse          func([]byte) (workload.Throughput, error)
	}
	srv := s.pair.Server.Addr
	jobs := []job{
		{"wrk", topology.HTTP1, 64, 1, workload.WrkArgs(workload.URL(srv, r.ports, topology.HTTP1), 64, d),
			func(b []byte) (workload.Throughput, error) { return workload.ParseWrk(string(b)) }},
		{"h2load", topology.H2C, 4, 16, workload.H2loadArgs(workload.URL(srv, r.ports, topology.H2C), 4, 16, d, time.Second),
			func(b []byte) (workload.Throughput, error) { return workload.ParseH2load(string(b)) }},
		{"iperf3", topology.TCP, 1, 1, workload.IperfArgs(srv, r.ports.Bulk, d), workload.ParseIperf},
	}
	for _, j := range jobs {
		if !s.topo.Carries(j.proto) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		mon, err := r.watch(ctx, s)
		if err != nil {
			r.fail("%s on %s: %v", j.tool, s.topo.Name, err)
			continue
		}
		out, runErr := r.inPod(ctx, s, d+runSlack, r.tools[j.tool], j.args...)
		usage := mon.stop(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		raw, err := r.save(fmt.Sprintf("%s-%s.out", j.tool, s.topo.Name), out)
		if err == nil {
			err = runErr
		}
		var t workload.Throughput
		if err == nil {
			t, err = j.parse(out)
		}
		if err != nil {
			r.fail("%s on %s: %v", j.tool, s.topo.Name, err)
			continue
		}
		r.res.Throughput = append(r.res.Throughput, report.ThroughputRun{Topology: s.topo.Name, Throughput: t,
			Conns: j.conns, Streams: j.streams, Proxies: usage, Raw: raw})
		unit, v := "req/s", t.Rate
		if j.tool == "iperf3" {
			unit, v = "Gbit/s", t.Rate/1e9
		}
		r.logf("%-7s %-16s %.2f %s, %d errors", j.tool, s.topo.Name, v, unit, t.Errors)
	}
	return nil
}

// fortioQPS and fortioConns are Istio's published load.
const (
	fortioQPS   = 1000
	fortioConns = 16
)

// fortio runs fortio once on one topology.
func (r *runner) fortio(ctx context.Context, s *site) error {
	d := r.o.Plan.FortioWindow
	raw, err := filepath.Abs(filepath.Join(r.rawDir, "fortio-"+s.topo.Name+".json"))
	if err != nil {
		return err
	}
	args := workload.FortioArgs(workload.URL(s.pair.Server.Addr, r.ports, topology.HTTP1), fortioQPS, fortioConns, d, raw)
	mon, err := r.watch(ctx, s)
	if err != nil {
		return err
	}
	_, runErr := r.inPod(ctx, s, d+runSlack, r.tools["fortio"], args...)
	usage := mon.stop(ctx)
	if runErr != nil {
		return runErr
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return errors.Join(errors.New("fortio wrote no JSON"), err)
	}
	f, err := workload.ParseFortio(b)
	if err != nil {
		return err
	}
	r.res.Fortio = append(r.res.Fortio, report.FortioRun{Topology: s.topo.Name, Fortio: f, QPS: fortioQPS, Conns: fortioConns,
		Proxies: usage, Raw: raw})
	r.logf("fortio  %-16s p50 %s p99 %s ms, %.0f QPS, %d errors", s.topo.Name, fmtMS(f.P50), fmtMS(f.P99), f.ActualQPS, f.Errors)
	return nil
}
