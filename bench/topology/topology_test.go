package topology

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/bench/peers"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/testbin"
)

var bins *testbin.Builder

func TestMain(m *testing.M) { testbin.Main(m, &bins) }

// TestTopologiesCarryTraffic builds every topology in real pods and sends
// one request of each protocol it carries through it (as meshbench does
// before measuring), then reads the proxies' memory as the bench will.
// Needs root; HAProxy and nginx topologies skip when those are missing.
func TestTopologiesCarryTraffic(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{Prefix: "mlbt", DisableIPv6: true})
	b := Bins{
		Proxy:    bins.MustBuild(t, "proxy/cmd/meshlite-proxy"),
		Peer:     bins.MustBuild(t, "bench/cmd/benchpeer"),
		Identity: bins.MustBuild(t, "identity/cmd/meshlite-identity"),
		HAProxy:  lookSbin("haproxy"), Nginx: lookSbin("nginx"),
	}
	backend := bins.MustBuild(t, "bench/cmd/benchbackend")
	certs, err := peers.NewCerts(time.Now(), peers.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	for i, tp := range All() {
		t.Run(tp.Name, func(t *testing.T) {
			for _, need := range tp.Needs {
				if lookSbin(need) == "" {
					t.Skipf("%s not installed (make bench installs it)", need)
				}
			}
			ctx := t.Context()
			pair := Pair{}
			var err error
			if pair.Client, err = env.AddPod(ctx, podName(i, "c"), netenv.PodOptions{}); err != nil {
				t.Fatal(err)
			}
			if pair.Server, err = env.AddPod(ctx, podName(i, "s"), netenv.PodOptions{}); err != nil {
				t.Fatal(err)
			}
			if tp.Control {
				if pair.Control, err = env.AddPod(ctx, podName(i, "ctl"), netenv.PodOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := StartApps(ctx, pair.Server, backend, "", DefaultPorts); err != nil {
				t.Fatal(err)
			}
			proxies, err := tp.Setup(ctx, pair, Deps{Bins: b, Dir: worldDir(t), Threads: 1, Ports: DefaultPorts, Certs: certs})
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(ctx, tp, pair, DefaultPorts); err != nil {
				t.Fatal(err)
			}
			if tp.Verify != nil {
				if err := tp.Verify(ctx, proxies); err != nil {
					t.Fatal(err)
				}
			}
			if tp.Name == "meshlite" {
				// The plaintext pair must fail meshlite-mtls's check.
				if err := verifyMTLS(ctx, proxies); err == nil {
					t.Error("verifyMTLS passed the plaintext meshlite pair")
				}
			}
			if want := map[bool]int{true: 0, false: 2}[tp.Name == "direct"]; len(proxies) != want {
				t.Fatalf("%d proxies, want %d", len(proxies), want)
			}
			for _, p := range proxies {
				u, err := measure.Idle(p.Proc.PID())
				if err != nil || u.RSSSteady <= 0 {
					t.Errorf("%s proxy: RSS %d, %v", p.Side, u.RSSSteady, err)
				}
				if p.MetricsURL != "" {
					if _, err := measure.Scrape(ctx, p.MetricsURL, measure.GCMetric); err != nil {
						t.Errorf("%s proxy metrics: %v", p.Side, err)
					}
				}
			}
		})
	}
}

// podName keeps pod names short and distinct per subtest.
func podName(i int, side string) string { return "t" + string(rune('a'+i)) + "-" + side }

func lookSbin(name string) string {
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// worldDir is a temporary directory the proxies' uid can reach (t.TempDir
// is private to root).
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "meshlite-bench-topology-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
