package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/meshlite/meshlite/bench/loadgen"
)

// options are the command line flags.
type options struct {
	proto       string
	url         string
	addr        string
	headers     headerFlag
	rate        float64
	conns       int
	streams     int
	maxInFlight int
	duration    time.Duration
	warmup      time.Duration
	drain       time.Duration
	size        int
	churn       bool
	grpcService string
	output      string
}

// headerFlag collects repeated -H "Name: value" flags.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q: want \"Name: value\"", s)
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// parseFlags parses args; usage and errors go to stderr.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen -proto http1|h2c|grpc|tcp (-url URL | -addr HOST:PORT) [flags]")
		fmt.Fprintln(stderr, "\nSends requests on a fixed schedule (open loop) and prints latency percentiles")
		fmt.Fprintln(stderr, "measured from each request's scheduled send time.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.proto, "proto", "http1", "protocol: http1, h2c, grpc or tcp")
	fs.StringVar(&o.url, "url", "", "URL to GET (http1, h2c)")
	fs.StringVar(&o.addr, "addr", "", "server address host:port (grpc, tcp)")
	fs.Var(&o.headers, "H", "request `header` \"Name: value\" (http1, h2c; repeatable)")
	fs.Float64Var(&o.rate, "rate", 1000, "requests per second; 0 runs closed loop at maximum throughput")
	fs.IntVar(&o.conns, "c", 16, "connections")
	fs.IntVar(&o.streams, "streams", 1, "concurrent requests per connection (h2c, grpc)")
	fs.IntVar(&o.maxInFlight, "max-inflight", 0, "most requests in flight; 0 means connections × streams")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded window before the measured one")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "how long late requests may finish after the window")
	fs.IntVar(&o.size, "size", 64, "bytes per ping-pong (tcp)")
	fs.BoolVar(&o.churn, "churn", false, "new connection per request, Connection: close (http1)")
	fs.StringVar(&o.grpcService, "grpc-service", "", "service name for the gRPC health check (grpc)")
	fs.StringVar(&o.output, "o", "table", "output: table or json")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.validate()
}

func (o *options) validate() error {
	switch o.proto {
	case "http1", "h2c":
		if o.url == "" {
			return fmt.Errorf("-proto %s needs -url", o.proto)
		}
	case "grpc", "tcp":
		if o.addr == "" {
			return fmt.Errorf("-proto %s needs -addr", o.proto)
		}
	default:
		return fmt.Errorf("-proto %q: want http1, h2c, grpc or tcp", o.proto)
	}
	switch {
	case o.churn && o.proto != "http1":
		return fmt.Errorf("-churn needs -proto http1")
	case o.output != "table" && o.output != "json":
		return fmt.Errorf("-o %q: want table or json", o.output)
	case o.conns < 1 || o.streams < 1 || o.size < 1:
		return fmt.Errorf("-c, -streams and -size must be at least 1")
	case o.rate < 0 || o.duration <= 0 || o.warmup < 0 || o.drain < 0 || o.maxInFlight < 0:
		return fmt.Errorf("-rate, -warmup, -drain and -max-inflight must not be negative, -duration must be positive")
	}
	return nil
}

// target opens the connections for o.proto.
func (o *options) target(ctx context.Context) (loadgen.Target, error) {
	switch o.proto {
	case "http1":
		return loadgen.NewHTTP1(ctx, loadgen.HTTP1Config{URL: o.url, Header: o.headers.h, Conns: o.conns, Churn: o.churn})
	case "h2c":
		return loadgen.NewHTTP2(ctx, loadgen.HTTP2Config{URL: o.url, Header: o.headers.h, Conns: o.conns, Streams: o.streams})
	case "grpc":
		return loadgen.NewGRPC(ctx, loadgen.GRPCConfig{Addr: o.addr, Conns: o.conns, Streams: o.streams,
			Invoke: loadgen.HealthCheck(o.grpcService)})
	}
	return loadgen.NewTCP(ctx, loadgen.TCPConfig{Addr: o.addr, Conns: o.conns, Size: o.size})
}

// run is the whole command: parse, connect, run, print. An interrupted run
// still prints what it measured, then returns the interruption.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	t, err := o.target(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	res, runErr := loadgen.Run(ctx, t, loadgen.Options{
		Rate: o.rate, Duration: o.duration, Warmup: o.warmup, Drain: o.drain, MaxInFlight: o.maxInFlight,
	})
	if res == nil {
		return runErr
	}
	if o.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteTable(stdout)
	}
	if runErr != nil {
		return runErr
	}
	return err
}
