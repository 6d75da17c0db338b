package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/init/redirect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// runInProcess runs meshlite-init's run with args, as main would.
func runInProcess(t *testing.T, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), exitCode(err), err
}

// TestDryRunGolden pins --dry-run with the defaults and with every plan
// flag set; it needs no privileges and touches nothing.
func TestDryRunGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"dry-run-defaults.golden", []string{"--dry-run"}},
		{"dry-run-all-flags.golden", []string{"--dry-run", "--proxy-uid=1337", "--proxy-gid=1338",
			"--inbound-port=15006", "--outbound-port=15001", "--inbound-ports-to-ignore=15020-15021,15090",
			"--outbound-ports-to-ignore=22,25,1-10,100-200,300,301,302,303,304,305,306,307,308,309",
			"--subnets-to-ignore=10.0.0.0/8,fd00::/8", "--outbound-subnets-to-ignore=169.254.169.254,fd00:ec2::254",
			"--pod-service-addresses=10.96.0.20,fd6d:6c00:ffff::20"}},
		{"dry-run-ipv4.golden", []string{"--dry-run", "--ipv6=false", "--subnets-to-ignore=10.0.0.0/8,fd00::/8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code, err := runInProcess(t, tt.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, %v, stderr %q", code, err, errOut)
			}
			golden(t, tt.name, out)
		})
	}
}

func TestHelp(t *testing.T) {
	out, errOut, code, _ := runInProcess(t, "-h")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	golden(t, "usage.golden", errOut)
}

// TestBadUsage: exit code 2, and the message names the flag (or variable)
// and the bad value.
func TestBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"bad port", []string{"--inbound-ports-to-ignore=4191,99999"}, nil, []string{"inbound-ports-to-ignore", `"99999" is not a port`}},
		{"bad range", []string{"--outbound-ports-to-ignore=20-10"}, nil, []string{"outbound-ports-to-ignore", `"20-10"`}},
		{"bad cidr", []string{"--subnets-to-ignore=10.0.0.0/40"}, nil, []string{"subnets-to-ignore", `"10.0.0.0/40" is not a CIDR`}},
		{"bad outbound cidr", []string{"--outbound-subnets-to-ignore=10.0.0.x"}, nil, []string{"outbound-subnets-to-ignore", `"10.0.0.x"`}},
		{"bad address", []string{"--pod-service-addresses=web"}, nil, []string{"pod-service-addresses", `"web" is not an IP address`}},
		{"loopback address", []string{"--pod-service-addresses=127.0.0.1"}, nil, []string{"--pod-service-addresses: 127.0.0.1"}},
		{"port out of range", []string{"--outbound-port=0"}, nil, []string{"--outbound-port: 0 is not a port"}},
		{"uid", []string{"--proxy-uid=-3"}, nil, []string{"--proxy-uid: -3"}},
		{"uid word", []string{"--proxy-uid=proxy"}, nil, []string{"proxy-uid", `"proxy"`}},
		{"mode", []string{"--mode=nftables"}, nil, []string{"--mode", `"nftables"`}},
		{"lock wait", []string{"--lock-wait=0s"}, nil, []string{"--lock-wait: must be positive"}},
		{"two actions", []string{"--verify", "--remove"}, nil, []string{"exclude each other"}},
		{"argument", []string{"install"}, nil, []string{"unexpected arguments", "install"}},
		{"unknown flag", []string{"--proxy-user=2102"}, nil, []string{"proxy-user"}},
		{"bad env", nil, map[string]string{"MESHLITE_INIT_OUTBOUND_SUBNETS_TO_IGNORE": "10.0.0.0/8,nope"},
			[]string{"MESHLITE_INIT_OUTBOUND_SUBNETS_TO_IGNORE", `"nope"`}},
		{"bad env port", nil, map[string]string{"MESHLITE_INIT_INBOUND_PORT": "70000"}, []string{"--inbound-port: 70000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, _, code, err := runInProcess(t, append(tt.args, "--dry-run")...)
			if tt.name == "two actions" {
				_, _, code, err = runInProcess(t, tt.args...)
			}
			if code != exitUsage {
				t.Fatalf("exit %d (%v), want %d", code, err, exitUsage)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestEnv: every flag can come from MESHLITE_INIT_*; the command line wins.
func TestEnv(t *testing.T) {
	t.Setenv("MESHLITE_INIT_OUTBOUND_PORT", "15001")
	t.Setenv("MESHLITE_INIT_IPV6", "false")
	t.Setenv("MESHLITE_INIT_PROXY_UID", "1337")
	out, _, code, err := runInProcess(t, "--dry-run", "--proxy-uid=1000")
	if code != 0 {
		t.Fatal(err)
	}
	for _, want := range []string{"--to-ports 15001", "--uid-owner 1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ip6tables") || strings.Contains(out, "1337") {
		t.Errorf("environment ignored or overriding the flag:\n%s", out)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flag.ErrHelp, 0},
		{usageError{errors.New("x")}, 2},
		{fmt.Errorf("apply: %w", redirect.ErrPermission), 3},
		{fmt.Errorf("apply: %w", redirect.ErrLockBusy), 4},
		{&redirect.MismatchError{Differences: []string{"IPv4: missing: x"}}, 5},
		{redirect.ErrConflict, 1},
		{redirect.ErrNoIptables, 1},
		{errors.New("boom"), 1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
