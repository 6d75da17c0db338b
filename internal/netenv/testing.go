package netenv

import (
	"os"
	"os/exec"
	"testing"
)

// NewForTest is New for tests: it skips the test, with the reason, when
// the process is not root or iproute2's `ip` is missing, fails it when New
// fails, and registers Close with t.Cleanup (a Close error fails the test).
func NewForTest(t testing.TB, opts Options) *Env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netenv: needs root to create network namespaces, veths and a bridge (run go test as root)")
	}
	if _, err := exec.LookPath(ipBin); err != nil {
		t.Skipf("netenv: iproute2 %q not found in PATH (apt-get install iproute2): %v", ipBin, err)
	}
	e, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}
