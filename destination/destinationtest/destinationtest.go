package destinationtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meshlite/meshlite/destination/app"
	"github.com/meshlite/meshlite/internal/syncbuf"
)

// Options shape the service; zero values take the defaults in comments.
type Options struct {
	// Dir is the configuration directory; a new temporary one when "".
	Dir string
	// StateFile keeps registrations; a new temporary path when "".
	StateFile    string
	LeaseTTL     time.Duration // 15s
	PollInterval time.Duration // 50ms
	// Configure, if set, may change the configuration last (for
	// example to use the Kubernetes registry, or mTLS).
	Configure func(*app.Config)
}

// Server is a running destination service.
type Server struct {
	Dir       string
	StateFile string
	// Addr is the gRPC address (127.0.0.1:port); it stays the same
	// across Stop and Restart.
	Addr string

	cfg  app.Config
	logs *syncbuf.Buffer

	mu     sync.Mutex
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// Start starts the service; it is stopped when the test ends, and its
// log is printed if the test failed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{Dir: o.Dir, StateFile: o.StateFile, logs: &syncbuf.Buffer{}}
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	if s.StateFile == "" {
		s.StateFile = filepath.Join(t.TempDir(), "destination.db")
	}
	s.cfg = app.Default()
	s.cfg.Addr, s.cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	s.cfg.ConfigDir, s.cfg.StateFile = s.Dir, s.StateFile
	s.cfg.Insecure = true
	s.cfg.PollInterval = 50 * time.Millisecond
	if o.PollInterval > 0 {
		s.cfg.PollInterval = o.PollInterval
	}
	if o.LeaseTTL > 0 {
		s.cfg.LeaseTTL = o.LeaseTTL
	}
	s.cfg.LogLevel = "debug"
	s.cfg.ShutdownGrace = time.Second
	if o.Configure != nil {
		o.Configure(&s.cfg)
	}
	if err := s.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	s.cfg.Addr = s.Addr
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("destinationtest: log of the destination service:\n%s", tail(s.logs.String(), 64<<10))
		}
	})
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	a, err := app.New(s.cfg, app.Options{Log: s.logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	s.mu.Lock()
	s.app, s.cancel, s.done = a, cancel, done
	s.Addr = a.Addr().String()
	s.mu.Unlock()
}

// Stop stops the service and waits for it; stopping twice is harmless.
func (s *Server) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Restart starts a stopped (or running) service again on the same
// address with the same directory and state file.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// App is the running service.
func (s *Server) App() *app.App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.app
}

// Logs returns what the service has logged so far (JSON lines).
func (s *Server) Logs() string { return s.logs.String() }

// WriteFile replaces the configuration file name atomically.
func (s *Server) WriteFile(t testing.TB, name, content string) {
	t.Helper()
	tmp := filepath.Join(s.Dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// RemoveFile removes the configuration file name.
func (s *Server) RemoveFile(t testing.TB, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(s.Dir, name)); err != nil {
		t.Fatal(err)
	}
}

// Metric returns the value of the gauge or counter name whose labels
// include labelPairs ("name", "value", ...), or -1 when there is none.
func (s *Server) Metric(t testing.TB, name string, labelPairs ...string) float64 {
	t.Helper()
	fams, err := s.App().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labelPairs) {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || (l.GetName() == pairs[i] && l.GetValue() == pairs[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

// Eventually polls cond every 10ms until it holds, failing t after within.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
