package netenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leftovers lists what exists on the host named after env name: netns,
// links, /etc/netns dirs and the owner record.
func leftovers(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	netns, err := listNetns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	links, err := listLinks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := os.ReadDir(etcNetns)
	for _, n := range netns {
		if strings.HasPrefix(n, name) {
			out = append(out, "netns "+n)
		}
	}
	for _, l := range links {
		if strings.HasPrefix(l, name) {
			out = append(out, "link "+l)
		}
	}
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), name) {
			out = append(out, "dir "+filepath.Join(etcNetns, d.Name()))
		}
	}
	if _, err := os.Stat(recordPath(name)); err == nil {
		out = append(out, "record "+recordPath(name))
	}
	return out
}

// populate adds two pods, hosts files, a process and an open socket to env
// and checks they are all visible.
func populate(t *testing.T, env *Env) *Proc {
	t.Helper()
	for _, name := range []string{"x", "y"} {
		if _, err := env.AddPod(t.Context(), name, PodOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.SetHosts(nil); err != nil {
		t.Fatal(err)
	}
	proc, err := env.Pod("x").Start(context.Background(), ProcSpec{Path: "sleep", Args: []string{"300"}, UID: 1234, GID: 1234})
	if err != nil {
		t.Fatal(err)
	}
	l, err := env.Pod("y").Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if got := len(leftovers(t, env.Name())); got != 2+3+2+1 { // netns, links, dirs, record
		t.Fatalf("populated env has %d named objects: %v", got, leftovers(t, env.Name()))
	}
	return proc
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netenv: needs root")
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	env, err := New(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	proc := populate(t, env)
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, env.Name()); len(left) != 0 {
		t.Errorf("left after Close: %v", left)
	}
	select {
	case <-proc.Exited():
	default:
		t.Error("process still running after Close")
	}
	if err := env.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := env.AddPod(t.Context(), "z", PodOptions{}); err == nil {
		t.Error("AddPod after Close succeeded")
	}
}

func TestCleanupStale(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	const prefix = "mltst"
	ctx := t.Context()

	// A crashed run: an env never closed whose owner is a dead process.
	crashed, err := New(ctx, Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	proc := populate(t, crashed)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(crashed.Name(), owner{PID: dead.Process.Pid, PodCIDR: crashed.PodCIDR().String()}); err != nil {
		t.Fatal(err)
	}
	// A live env of the same prefix must survive.
	live := NewForTest(t, Options{Prefix: prefix})
	if _, err := live.AddPod(ctx, "keep", PodOptions{}); err != nil {
		t.Fatal(err)
	}
	// Orphans without an owner record (a crash before the record, or after
	// it was removed) go too.
	orphanEnv, err := freeName(prefix)
	if err != nil {
		t.Fatal(err)
	}
	orphan := orphanEnv + "-orphan"
	if _, err := ip(ctx, "netns", "add", orphan); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(etcNetns, orphan), 0o755); err != nil {
		t.Fatal(err)
	}

	fresh := NewForTest(t, Options{Prefix: prefix}) // cleans up first
	if fresh.PodCIDR() == live.PodCIDR() {
		t.Errorf("fresh env got the live env's subnet %s", fresh.PodCIDR())
	}
	if left := leftovers(t, crashed.Name()); len(left) != 0 {
		t.Errorf("left of the crashed env: %v", left)
	}
	if left := leftovers(t, orphanEnv); len(left) != 0 {
		t.Errorf("orphans left: %v", left)
	}
	select {
	case <-proc.Exited():
	case <-time.After(5 * time.Second):
		t.Error("process of the crashed env still running")
	}
	if got := len(leftovers(t, live.Name())); got != 1+2+1+1 {
		t.Errorf("live env damaged: %v", leftovers(t, live.Name()))
	}
	if err := CleanupStale(ctx, prefix); err != nil {
		t.Errorf("CleanupStale with nothing stale: %v", err)
	}
	if err := CleanupStale(ctx, "BAD-prefix"); err == nil {
		t.Error("CleanupStale accepted an invalid prefix")
	}
}
