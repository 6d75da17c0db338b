package kubetest

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
)

// logTail is how much of each process's log a failed test prints.
const logTail = 32 << 10

// Start starts a cluster for test t (ctx bounds the start-up only) and
// stops it when t ends, printing the tail of every process's log first if
// t failed. When the binaries are not built it skips t, except under
// CI=true, where it fails t naming `make kube-tools`. Start one cluster per test package (a test with
// subtests, or Shared): the API server takes seconds to start.
func Start(ctx context.Context, t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Launch(ctx, opts)
	if err != nil {
		failOrSkip(t, err)
		return nil // not reached with a real testing.TB
	}
	t.Cleanup(func() {
		if t.Failed() {
			logTo(t, c)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("kubetest: stop: %v", err)
		}
	})
	return c
}

// failOrSkip ends t for a Launch error: a skip when the binaries are
// missing outside CI, a failure otherwise.
func failOrSkip(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrToolsMissing) && os.Getenv("CI") != "true" {
		t.Skipf("%v\nskipping: build them once with `make kube-tools` (about 10 minutes)", err)
	}
	if errors.Is(err, ErrToolsMissing) {
		t.Fatalf("%v\nCI needs them: run `make kube-tools` before the tests", err)
	}
	t.Fatal(err)
}

func logTo(t testing.TB, c *Cluster) {
	t.Helper()
	var b strings.Builder
	c.WriteLogs(&b, logTail)
	t.Logf("kubetest: logs of the cluster at %s:\n%s", c.URL(), b.String())
}

// Shared is one cluster for all the tests of a package, started by the
// first test that asks for it and stopped by Run after the last:
//
//	var kube = kubetest.NewShared(kubetest.Options{ControllerManager: true})
//
//	func TestMain(m *testing.M) { os.Exit(kube.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := kube.Get(t) // skips or fails t like Start
//		...
//	}
//
// Tests sharing a cluster should each work in their own namespace.
type Shared struct {
	opts Options

	once sync.Once
	c    *Cluster
	err  error
}

// NewShared returns a Shared that starts a cluster with opts on first use.
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Get returns the shared cluster, starting it on the first call. It skips
// or fails t as Start does, and prints the cluster's logs if t fails.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() { s.c, s.err = Launch(context.Background(), s.opts) })
	if s.err != nil {
		failOrSkip(t, s.err)
		return nil // not reached with a real testing.TB
	}
	t.Cleanup(func() {
		if t.Failed() {
			logTo(t, s.c)
		}
	})
	return s.c
}

// Run runs the package's tests and then stops the cluster if one was
// started. It returns m.Run's exit code, for os.Exit.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the cluster if one was started, and keeps later Gets from
// starting one.
func (s *Shared) Stop() error {
	s.once.Do(func() { s.err = ErrStopped })
	if s.c == nil {
		return nil
	}
	return s.c.Stop()
}
