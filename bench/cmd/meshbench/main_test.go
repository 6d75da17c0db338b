package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/bench/workload"
)

var update = flag.Bool("update", false, "rewrite testdata/usage.golden")

func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	if err != flag.ErrHelp {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	got := stderr.String()
	if *update {
		if err := os.WriteFile("testdata/usage.golden", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/usage.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("usage differs from testdata/usage.golden (go test -update rewrites it):\n%s", got)
	}
}

func TestPlanFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(workload.Plan) bool
	}{
		{"full", nil, func(p workload.Plan) bool { return p.Name == "full" && p.Reps == 3 && p.Throughput && p.Fortio }},
		{"quick", []string{"-quick"}, func(p workload.Plan) bool {
			return p.Name == "quick" && p.Reps == 1 && p.Window == 10*time.Second && !p.Throughput && len(p.Topologies) == 4 && p.Topologies[2] == "meshlite-mtls"
		}},
		{"reduced", []string{"-reps", "1", "-window", "3s", "-warmup", "0s", "-workloads", "http1,churn", "-fortio", "false"},
			func(p workload.Plan) bool {
				for _, pt := range p.Points {
					if pt.Workload != "http1" && pt.Workload != "churn" {
						return false
					}
				}
				return p.Reps == 1 && p.Window == 3*time.Second && p.Warmup == 0 && !p.Fortio && p.Throughput && len(p.Points) == 7
			}},
		{"topologies", []string{"-topologies", "direct, meshlite"}, func(p workload.Plan) bool {
			return strings.Join(p.Topologies, ",") == "direct,meshlite"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseFlags(c.args, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if p := o.plan(); !c.check(p) {
				t.Errorf("plan %+v", p)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-quick", "-render"},
		{"-threads", "0"},
		{"-reps", "-1"},
		{"-fortio", "maybe"},
		{"-workloads", "http3"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q): want an error", args)
		}
	}
}
