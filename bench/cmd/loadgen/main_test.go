package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlite/meshlite/bench/loadgen"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func ok(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Bench") != "1" {
		http.Error(w, "missing header", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// servers starts one local server per protocol and returns the flags that
// point at each.
func servers(t *testing.T) map[string][]string {
	h1 := httptest.NewServer(http.HandlerFunc(ok))
	t.Cleanup(h1.Close)

	h2 := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	h2.Config.Protocols = new(http.Protocols)
	h2.Config.Protocols.SetUnencryptedHTTP2(true)
	h2.Start()
	t.Cleanup(h2.Close)

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go func() { _ = gs.Serve(gl) }()
	t.Cleanup(gs.Stop)

	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = el.Close() })
	go func() {
		for {
			c, err := el.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()

	return map[string][]string{
		"http1":       {"-proto", "http1", "-url", h1.URL, "-H", "X-Bench: 1"},
		"http1 churn": {"-proto", "http1", "-url", h1.URL, "-H", "X-Bench: 1", "-churn"},
		"h2c":         {"-proto", "h2c", "-url", h2.URL, "-H", "X-Bench: 1", "-streams", "2"},
		"grpc":        {"-proto", "grpc", "-addr", gl.Addr().String()},
		"tcp":         {"-proto", "tcp", "-addr", el.Addr().String(), "-size", "32"},
	}
}

func TestRunProtocols(t *testing.T) {
	for name, args := range servers(t) {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args = append(args, "-rate", "200", "-c", "2", "-duration", "200ms", "-warmup", "50ms", "-o", "json")
			if err := run(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			var res loadgen.Result
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("output is not a Result: %v\n%s", err, stdout.String())
			}
			if res.Requests != 40 || res.Errors != 0 || res.Latency.P99 <= 0 {
				t.Errorf("requests %d errors %v p99 %v\n%s", res.Requests, res.ErrorKinds, res.Latency.P99, stdout.String())
			}
		})
	}
}

func TestRunTable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	var stdout bytes.Buffer
	args := []string{"-url", srv.URL, "-H", "X-Bench: 1", "-rate", "0", "-c", "2", "-duration", "100ms", "-warmup", "0s"}
	if err := run(context.Background(), args, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"closed loop", "p99.9", "latency", "0 errors"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestRunInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var stdout bytes.Buffer
	err := run(ctx, []string{"-url", srv.URL, "-duration", "1m", "-warmup", "0s", "-c", "1", "-rate", "100"}, &stdout, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(stdout.String(), "latency") {
		t.Errorf("err %v, output:\n%s", err, stdout.String())
	}
}

func TestRunBadArgs(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown proto": {"-proto", "quic", "-url", "http://x/"},
		"http1 no url":  {"-proto", "http1"},
		"tcp no addr":   {"-proto", "tcp"},
		"bad output":    {"-url", "http://x/", "-o", "yaml"},
		"bad header":    {"-url", "http://x/", "-H", "nocolon"},
		"churn on grpc": {"-proto", "grpc", "-addr", "x:1", "-churn"},
		"zero conns":    {"-url", "http://x/", "-c", "0"},
		"no duration":   {"-url", "http://x/", "-duration", "0s"},
		"stray arg":     {"-url", "http://x/", "extra"},
		"refused":       {"-url", "http://127.0.0.1:1/", "-duration", "1s"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestUsage compares -h output with testdata/usage.golden (go test -update).
func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	golden := filepath.Join("testdata", "usage.golden")
	if *update {
		if err := os.WriteFile(golden, stderr.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stderr.Bytes(), want) {
		t.Errorf("usage differs from %s (go test -update):\n%s", golden, stderr.String())
	}
}
