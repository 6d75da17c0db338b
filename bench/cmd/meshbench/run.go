package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshlite/meshlite/bench/report"
	"github.com/meshlite/meshlite/bench/suite"
	"github.com/meshlite/meshlite/bench/workload"
)

// options are the command line flags.
type options struct {
	quick      bool
	render     bool
	binDir     string
	outDir     string
	results    string
	plot       string
	toolsDir   string
	threads    int
	reps       int
	window     time.Duration
	warmup     time.Duration
	topologies string
	workloads  string
	throughput string
	fortio     string
	cpuprofile string
	toolWindow time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("meshbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meshbench [-quick | -render] [flags]")
		fmt.Fprintln(stderr, "\nBenchmarks meshlite-proxy against no proxy and against peer proxies in network-namespace pods (root).\n\nflags:")
		fs.PrintDefaults()
	}
	fs.BoolVar(&o.quick, "quick", false, "quick run: direct, meshlite, meshlite-mtls and go-reverseproxy, HTTP/1 and h2c at 1000 RPS, one 10 s repetition; writes <out>/quick.md")
	fs.BoolVar(&o.render, "render", false, "only re-render the report and plot from <out>/results.json")
	fs.StringVar(&o.binDir, "bin-dir", "bin", "directory with meshlite-proxy, loadgen, benchbackend, benchpeer and meshlite-identity")
	fs.StringVar(&o.outDir, "out", "bench/out", "directory for raw results (not committed)")
	fs.StringVar(&o.results, "results", "bench/RESULTS.md", "report written by a full run")
	fs.StringVar(&o.plot, "plot", "bench/latency.png", "latency plot written by a full run")
	fs.StringVar(&o.toolsDir, "tools-dir", "", "directory with fortio (default: $MESHLITE_TOOLS_DIR, else ~/.cache/meshlite/bin)")
	fs.IntVar(&o.threads, "threads", 1, "worker threads of every proxy (GOMAXPROCS, nbthread, worker_processes)")
	fs.IntVar(&o.reps, "reps", 0, "repetitions of each latency point (0: the plan's, 3 full, 1 quick)")
	fs.DurationVar(&o.window, "window", 0, "measured window per latency point (0: the plan's, 5s full, 10s quick)")
	fs.DurationVar(&o.warmup, "warmup", -1, "warm-up per latency point (negative: the plan's, 1s full, 2s quick)")
	fs.StringVar(&o.topologies, "topologies", "", "comma-separated topologies (default: the plan's)")
	fs.StringVar(&o.workloads, "workloads", "", "comma-separated workloads whose latency points run (default: all of the plan's)")
	fs.StringVar(&o.throughput, "throughput", "", "true or false: run wrk, h2load and iperf3 (default: the plan's)")
	fs.StringVar(&o.fortio, "fortio", "", "true or false: run fortio (default: the plan's)")
	fs.DurationVar(&o.toolWindow, "tool-window", 0, "run length of wrk, h2load, iperf3 and fortio (0: the plan's, 8s and 10s)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "run meshlite as meshlite-proxy-prof and write its CPU profiles into this directory")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.toolsDir == "" {
		o.toolsDir = defaultToolsDir()
	}
	return o, o.validate()
}

func (o *options) validate() error {
	switch {
	case o.quick && o.render:
		return errors.New("-quick and -render exclude each other")
	case o.threads < 1:
		return errors.New("-threads must be at least 1")
	case o.reps < 0 || o.window < 0 || o.toolWindow < 0:
		return errors.New("-reps, -window and -tool-window must not be negative")
	case o.toolWindow > 0 && o.toolWindow < 2*time.Second:
		return errors.New("-tool-window must be at least 2s (h2load and iperf3 count whole seconds)")
	}
	for _, b := range []struct{ name, v string }{{"-throughput", o.throughput}, {"-fortio", o.fortio}} {
		if b.v != "" && b.v != "true" && b.v != "false" {
			return fmt.Errorf("%s %q: want true or false", b.name, b.v)
		}
	}
	for _, w := range splitList(o.workloads) {
		if _, ok := workload.Lookup(w); !ok {
			return fmt.Errorf("-workloads: unknown workload %q", w)
		}
	}
	return nil
}

// plan applies the flags to the chosen plan.
func (o *options) plan() workload.Plan {
	pl := workload.Full()
	if o.quick {
		pl = workload.Quick()
	}
	if o.reps > 0 {
		pl.Reps = o.reps
	}
	if o.window > 0 {
		pl.Window = o.window
	}
	if o.warmup >= 0 {
		pl.Warmup = o.warmup
	}
	if t := splitList(o.topologies); len(t) > 0 {
		pl.Topologies = t
	}
	if ws := splitList(o.workloads); len(ws) > 0 {
		var pts []workload.Point
		for _, p := range pl.Points {
			for _, w := range ws {
				if p.Workload == w {
					pts = append(pts, p)
				}
			}
		}
		pl.Points = pts
	}
	if o.throughput != "" {
		pl.Throughput = o.throughput == "true"
	}
	if o.toolWindow > 0 {
		pl.ThroughputWindow, pl.FortioWindow = o.toolWindow, o.toolWindow
	}
	if o.fortio != "" {
		pl.Fortio = o.fortio == "true"
	}
	return pl
}

// defaultToolsDir is where make tools puts pinned tools.
func defaultToolsDir() string {
	if d := os.Getenv("MESHLITE_TOOLS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "meshlite", "bin")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.render {
		res, err := load(filepath.Join(o.outDir, "results.json"))
		if err != nil {
			return err
		}
		return writeFull(res, o, stdout)
	}
	pl := o.plan()
	res, err := suite.Run(ctx, suite.Options{
		Plan: pl, BinDir: o.binDir, OutDir: o.outDir, ToolsDir: o.toolsDir, Threads: o.threads,
		Command: commandLine(o.quick), Log: stderr, CPUProfileDir: o.cpuprofile,
	})
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted (%w); pods and processes torn down, nothing written", ctx.Err())
	}
	if res == nil {
		return err
	}
	name := "results.json"
	if o.quick {
		name = "quick.json"
	}
	if serr := save(filepath.Join(o.outDir, name), res); serr != nil {
		return errors.Join(err, serr)
	}
	fmt.Fprintf(stdout, "written: %s (raw runs under %s)\n", filepath.Join(o.outDir, name), filepath.Join(o.outDir, "raw"))
	var werr error
	if o.quick {
		werr = writeQuick(res, o, stdout)
	} else {
		werr = writeFull(res, o, stdout)
	}
	if err == nil && len(res.Failures) > 0 {
		err = fmt.Errorf("%d run(s) failed (listed in the report)", len(res.Failures))
	}
	return errors.Join(err, werr)
}

// commandLine is how the run was started, for the report.
func commandLine(quick bool) string {
	if quick {
		return "make bench-quick"
	}
	return "make bench"
}

func save(path string, res *report.Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func load(path string) (*report.Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res report.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &res, nil
}

// writeQuick prints the quick table and writes it to <out>/quick.md, with
// its plot beside it.
func writeQuick(res *report.Results, o *options, stdout io.Writer) error {
	md := report.Quick(res)
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	path := filepath.Join(o.outDir, "quick.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten: %s, %s\n", path, filepath.Join(o.outDir, "quick.json"))
	return report.WritePlot(res, report.TargetPoint, filepath.Join(o.outDir, "quick.png"))
}

// writeFull writes RESULTS.md and the plot and prints the targets.
func writeFull(res *report.Results, o *options, stdout io.Writer) error {
	if err := os.WriteFile(o.results, []byte(report.Markdown(res)), 0o644); err != nil {
		return err
	}
	perr := report.WritePlot(res, report.TargetPoint, o.plot)
	groups := report.Aggregate(res.Latency, topologyNames(res))
	fmt.Fprintln(stdout, "\ntargets:")
	for _, t := range report.Targets(res, groups) {
		fmt.Fprintf(stdout, "  %-4s  %s: %s (goal %s)\n", t.Status, t.Name, t.Got, t.Goal)
	}
	fmt.Fprintf(stdout, "written: %s, %s\n", o.results, o.plot)
	return perr
}

func topologyNames(res *report.Results) []string {
	var out []string
	for _, t := range res.Topologies {
		out = append(out, t.Name)
	}
	return out
}
