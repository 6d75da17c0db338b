package main

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
)

// TestCores: the proxy runs Go code on --cores threads (default 1), and
// the GOMAXPROCS variable wins over the flag; a negative value is a usage
// error (exit 2) naming the flag. Read from the running binary's own
// go_sched_gomaxprocs_threads metric.
func TestCores(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{DisableIPv6: true})
	bin := bins.MustBuild(t, "proxy/cmd/meshlite-proxy")
	for i, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{nil, nil, "1"},
		{[]string{"--cores", "2"}, nil, "2"},
		{[]string{"--cores", "2"}, []string{"GOMAXPROCS=3"}, "3"},
		{nil, []string{"MESHLITE_PROXY_CORES=2"}, "2"},
	} {
		pod, err := env.AddPod(t.Context(), "c"+string(rune('a'+i)), netenv.PodOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := pod.Start(t.Context(), netenv.ProcSpec{Name: "proxy", Path: bin, Args: c.args, Env: c.env})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(5 * time.Second) })
		if err := pod.WaitDial(t.Context(), "tcp", "127.0.0.1:4191"); err != nil {
			t.Fatalf("%v %v: admin never came up: %v\n%s", c.args, c.env, err, p.Output())
		}
		if got := gomaxprocsMetric(t, netip.AddrPortFrom(pod.Addr, 4191)); got != c.want {
			t.Errorf("%v %v: go_sched_gomaxprocs_threads %s, want %s", c.args, c.env, got, c.want)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--cores", "-1").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "cores: must not be negative, got -1") {
		t.Errorf("--cores -1: %v, want exit 2 naming the flag; output:\n%s", err, out)
	}
}

func gomaxprocsMetric(t *testing.T, admin netip.AddrPort) string {
	t.Helper()
	for l := range strings.SplitSeq(get(t, "http://"+admin.String()+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(l, "go_sched_gomaxprocs_threads "); ok {
			return v
		}
	}
	t.Fatalf("no go_sched_gomaxprocs_threads at %s", admin)
	return ""
}
