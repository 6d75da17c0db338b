package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/testbin"
)

var bins *testbin.Builder

func TestMain(m *testing.M) { testbin.Main(m, &bins) }

// proxyUID is the proxy's uid, the default of --proxy-uid.
const proxyUID = 2102

// initBin builds meshlite-init once per test process.
func initBin(t *testing.T) string {
	t.Helper()
	return bins.MustBuild(t, "init/cmd/meshlite-init")
}

// result is what a meshlite-init run in a pod printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "stderr:\n" + r.stderr
}

// runInit runs the meshlite-init binary in pod as root, with env added to
// the environment.
func runInit(t *testing.T, pod *netenv.Pod, env []string, args ...string) result {
	t.Helper()
	return runCmd(t, pod.Command(t.Context(), 0, initBin(t), args...), env)
}

func runCmd(t *testing.T, cmd *exec.Cmd, env []string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// Only what the test sets: no MESHLITE_INIT_* of the caller's.
	cmd.Env = slices.DeleteFunc(cmd.Environ(), func(kv string) bool { return strings.HasPrefix(kv, EnvPrefix) })
	cmd.Env = append(cmd.Env, env...)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", cmd, err)
	}
	return result{out.String(), errOut.String(), code}
}

// mustInit runs meshlite-init in pod and fails the test unless it exits 0.
func mustInit(t *testing.T, pod *netenv.Pod, args ...string) result {
	t.Helper()
	r := runInit(t, pod, nil, args...)
	if r.code != 0 {
		t.Fatalf("meshlite-init %s in pod %s: %s", strings.Join(args, " "), pod.Name, r)
	}
	return r
}

// ipt runs an iptables command (e.g. "iptables-nft") in pod as root.
func ipt(t *testing.T, pod *netenv.Pod, bin string, args ...string) string {
	t.Helper()
	out, err := pod.Command(t.Context(), 0, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in pod %s: %v: %s", bin, strings.Join(args, " "), pod.Name, err, out)
	}
	return string(out)
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// save returns <bin>-save's output in pod without comment lines and with
// counters zeroed, for comparisons.
func save(t *testing.T, pod *netenv.Pod, bin string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.SplitAfter(ipt(t, pod, bin+"-save"), "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(counters.ReplaceAllString(l, "[0:0]"))
		}
	}
	return b.String()
}

// saveAll is save for iptables and ip6tables of one mode.
func saveAll(t *testing.T, pod *netenv.Pod, mode string) string {
	t.Helper()
	return save(t, pod, "iptables-"+mode) + save(t, pod, "ip6tables-"+mode)
}

// newPods makes an Env with the named pods.
func newPods(t *testing.T, names ...string) []*netenv.Pod {
	t.Helper()
	env := netenv.NewForTest(t, netenv.Options{})
	var pods []*netenv.Pod
	for _, n := range names {
		p, err := env.AddPod(t.Context(), n, netenv.PodOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
	}
	return pods
}

// curl fetches url from pod as uid:gid and returns the body, or "ERROR: ..."
// when it fails.
func curl(ctx context.Context, t *testing.T, pod *netenv.Pod, uid, gid int, url string) string {
	t.Helper()
	p, err := pod.Start(ctx, netenv.ProcSpec{Path: "curl", Args: []string{"-sS", "--max-time", "3", "-g", url}, UID: uid, GID: gid})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		return "ERROR: " + err.Error() + ": " + p.Output()
	}
	return p.Output()
}
