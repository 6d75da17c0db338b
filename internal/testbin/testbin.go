// Package testbin builds the project's binaries for tests that run them as
// real processes (in network-namespace pods, under h2spec, and so on). Each
// binary is built once per test process, into a directory removed when the
// process's tests end (see Main).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Builder builds main packages of this module into one directory, each at
// most once.
type Builder struct {
	dir  string
	mu   sync.Mutex
	done map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// New returns a builder writing into dir.
func New(dir string) *Builder {
	return &Builder{dir: dir, done: map[string]*build{}}
}

// Build compiles the main package pkg (an import path below the module, e.g.
// "proxy/cmd/meshlite-proxy") and returns the binary's path.
func (b *Builder) Build(pkg string) (string, error) {
	b.mu.Lock()
	bd, ok := b.done[pkg]
	if !ok {
		bd = &build{}
		b.done[pkg] = bd
	}
	b.mu.Unlock()
	bd.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			bd.err = err
			return
		}
		out := filepath.Join(b.dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			bd.err = fmt.Errorf("testbin: go build %s: %w\n%s", pkg, err, msg)
			return
		}
		bd.path = out
	})
	return bd.path, bd.err
}

// MustBuild is Build for tests: it fails t on error.
func (b *Builder) MustBuild(t testing.TB, pkg string) string {
	t.Helper()
	p, err := b.Build(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// moduleRoot finds the directory of this module's go.mod from this
// source file's location.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testbin: cannot locate source")
	}
	dir := filepath.Dir(file)
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/meshlite/meshlite") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testbin: go.mod of github.com/meshlite/meshlite not found above %s", file)
		}
		dir = parent
	}
}

// Main runs a package's tests with a Builder whose directory is removed
// afterwards. Use it from TestMain:
//
//	var bins *testbin.Builder
//	func TestMain(m *testing.M) { testbin.Main(m, &bins) }
func Main(m *testing.M, b **Builder) {
	dir, err := os.MkdirTemp("", "meshlite-testbin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		os.Exit(1)
	}
	// Binaries run as unprivileged uids inside pods must be able to read
	// and execute them.
	os.Chmod(dir, 0o755) //nolint:errcheck // best effort
	*b = New(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
