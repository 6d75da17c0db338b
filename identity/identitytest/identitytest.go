// Package identitytest runs a real meshlite identity service inside a
// test: a fresh trust domain on disk (as `meshctl identity create` writes
// it), the service listening on 127.0.0.1, and join tokens for any
// workload. Proxies' and other packages' tests use it to get real SVIDs.
//
//	srv := identitytest.Start(t, identitytest.Options{})
//	cfg := identity.Default()           // proxy/identity
//	cfg.Addr, cfg.TrustAnchors = srv.Addr, srv.AnchorsFile()
//	cfg.TokenFile = srv.WriteJoinToken(t, "default", "web", time.Hour)
package identitytest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/internal/syncbuf"
)

// Options shape the service; zero values take the defaults in comments.
type Options struct {
	TrustDomain    string        // example.org
	LeafLifetime   time.Duration // 24h
	ReloadInterval time.Duration // 100ms
	// Configure, if set, may change the service's configuration last.
	Configure func(*app.Config)
	// Now is the service's clock; time.Now when nil.
	Now func() time.Time
}

// Server is a running identity service and its trust domain's files.
type Server struct {
	// Dir holds anchor.crt, anchor.key, issuer.crt, issuer.key, join.key
	// and join.pub.
	Dir         string
	TrustDomain spiffeid.TrustDomain
	// Addr is the gRPC address (127.0.0.1:port); it stays the same
	// across Stop and Restart.
	Addr string
	// AdminAddr is the admin server's address of the current run.
	AdminAddr string

	cfg  app.Config
	opts Options
	logs *syncbuf.Buffer

	mu     sync.Mutex
	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// NewDir writes a fresh trust domain for td into a temporary directory
// and returns it.
func NewDir(t testing.TB, td spiffeid.TrustDomain) string {
	t.Helper()
	dir := t.TempDir()
	if err := ca.Create(dir, ca.CreateOptions{TrustDomain: td}); err != nil {
		t.Fatal(err)
	}
	if err := attest.CreateJoinKey(dir, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Start creates a trust domain and starts the service on 127.0.0.1; it is
// stopped when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.TrustDomain == "" {
		o.TrustDomain = "example.org"
	}
	if o.ReloadInterval == 0 {
		o.ReloadInterval = 100 * time.Millisecond
	}
	td, err := spiffeid.TrustDomainFromString(o.TrustDomain)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: NewDir(t, td), TrustDomain: td, opts: o, logs: &syncbuf.Buffer{}}
	s.cfg = app.Default()
	s.cfg.Addr, s.cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	s.cfg.TrustDomain = o.TrustDomain
	s.cfg.Dir = s.Dir
	s.cfg.ReloadInterval = o.ReloadInterval
	s.cfg.LogLevel = "debug"
	s.cfg.ShutdownGrace = time.Second
	if o.LeafLifetime != 0 {
		s.cfg.LeafLifetime = o.LeafLifetime
	}
	if o.Configure != nil {
		o.Configure(&s.cfg)
	}
	if err := s.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	s.cfg.Addr = s.Addr
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	a, err := app.New(s.cfg, app.Options{Log: s.logs, Now: s.opts.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	s.mu.Lock()
	s.app, s.cancel, s.done = a, cancel, done
	s.Addr, s.AdminAddr = a.Addr().String(), a.AdminAddr().String()
	s.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !a.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("identitytest: service not ready after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// Restart starts a stopped service again on the same address.
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

// ID is the service's own SPIFFE ID.
func (s *Server) ID() spiffeid.ID { return s.App().ID() }

// Logs returns what the service has logged so far (JSON lines).
func (s *Server) Logs() string { return s.logs.String() }

// AnchorsFile is the path of the trust anchors (anchor.crt).
func (s *Server) AnchorsFile() string { return filepath.Join(s.Dir, ca.AnchorCertFile) }

// WorkloadID is spiffe://<td>/ns/<ns>/sa/<sa>.
func (s *Server) WorkloadID(t testing.TB, ns, sa string) spiffeid.ID {
	t.Helper()
	id, err := spiffe.WorkloadID(s.TrustDomain, ns, sa)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// JoinToken mints a join token for ns/sa valid for ttl.
func (s *Server) JoinToken(t testing.TB, ns, sa string, ttl time.Duration) string {
	t.Helper()
	key, err := attest.LoadJoinKey(filepath.Join(s.Dir, attest.JoinKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := attest.MintJoinToken(key, s.WorkloadID(t, ns, sa), ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// WriteJoinToken writes a join token for ns/sa into a new file and
// returns its path.
func (s *Server) WriteJoinToken(t testing.TB, ns, sa string, ttl time.Duration) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(s.JoinToken(t, ns, sa, ttl)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// RotateIssuer writes a new issuer signed by the same anchor; the
// service picks it up at its next reload.
func (s *Server) RotateIssuer(t testing.TB) {
	t.Helper()
	if err := ca.RotateIssuer(s.Dir, s.TrustDomain, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
}
