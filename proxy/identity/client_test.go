package identity_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/identity/app"
	"github.com/meshlite/meshlite/identity/identitytest"
	"github.com/meshlite/meshlite/proxy/identity"
)

// config is a client configuration for ns/sa against srv, with fast retries.
func config(t *testing.T, srv *identitytest.Server, ns, sa string) identity.Config {
	t.Helper()
	cfg := identity.Default()
	cfg.Addr = srv.Addr
	cfg.TrustAnchors = srv.AnchorsFile()
	cfg.TrustDomain = srv.TrustDomain.Name()
	cfg.Namespace, cfg.ServiceAccount = ns, sa
	cfg.TokenFile = srv.WriteJoinToken(t, ns, sa, time.Hour)
	cfg.RequestTimeout = 2 * time.Second
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 300*time.Millisecond
	return cfg
}

// run starts c.Run until the test ends.
func run(t *testing.T, c *identity.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func waitUpdate(t *testing.T, ch <-chan struct{}, within time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("no new SVID within %v", within)
	}
}

func TestClientObtainsSVID(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	c, err := identity.New(config(t, srv, "default", "web"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ready() {
		t.Fatal("ready before Run")
	}
	if _, err := c.GetX509SVID(); err == nil {
		t.Fatal("GetX509SVID before Run: no error")
	}
	updated := c.Updated()
	run(t, c)
	waitUpdate(t, updated, 5*time.Second)
	if !c.Ready() {
		t.Fatal("not ready after the first SVID")
	}
	s, err := c.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.ID.String(), "spiffe://example.org/ns/default/sa/web"; got != want {
		t.Fatalf("SVID ID %s, want %s", got, want)
	}
	// The SVID verifies against the client's own bundle source.
	if _, _, err := x509svid.Verify(s.Certificates, c); err != nil {
		t.Fatal(err)
	}
	if got := time.Until(c.Expiry()); got < 23*time.Hour || got > 24*time.Hour {
		t.Fatalf("expiry in %v, want about 24h", got)
	}
	if _, err := c.GetX509BundleForTrustDomain(srv.TrustDomain); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString("other.org")); err == nil {
		t.Fatal("bundle for another trust domain: no error")
	}
	if !strings.Contains(srv.Logs(), `"message":"certificate issued"`) {
		t.Fatalf("no issuance log line:\n%s", srv.Logs())
	}
}

// TestClientMTLS uses two clients as the two ends of go-spiffe mutual TLS,
// as the proxy's data path does.
func TestClientMTLS(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	web, err := identity.New(config(t, srv, "default", "web"))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := identity.New(config(t, srv, "default", "client"))
	if err != nil {
		t.Fatal(err)
	}
	u1, u2 := web.Updated(), cli.Updated()
	run(t, web)
	run(t, cli)
	waitUpdate(t, u1, 5*time.Second)
	waitUpdate(t, u2, 5*time.Second)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsconfig.MTLSServerConfig(web, web, tlsconfig.AuthorizeID(cli.ID())))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.Copy(conn, conn) //nolint:errcheck // echo until closed
			}()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), tlsconfig.MTLSClientConfig(cli, cli, tlsconfig.AuthorizeID(web.ID())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	// The client refuses a server that is not the identity it expects.
	_, err = tls.Dial("tcp", ln.Addr().String(), tlsconfig.MTLSClientConfig(cli, cli, tlsconfig.AuthorizeID(cli.ID())))
	if err == nil {
		t.Fatal("handshake with the wrong peer ID succeeded")
	}
}

func TestClientRenews(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{LeafLifetime: 2 * time.Second})
	var mu sync.Mutex
	var serials []string
	cfg := config(t, srv, "default", "web")
	cfg.OnUpdate = func(s *x509svid.SVID) {
		mu.Lock()
		serials = append(serials, s.Certificates[0].SerialNumber.String())
		mu.Unlock()
	}
	c, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	ch := c.Updated()
	run(t, c)
	var served []string
	for i := 0; i < 4; i++ {
		waitUpdate(t, ch, 5*time.Second)
		ch = c.Updated()
		// What a TLS handshake would be served changes with each SVID.
		cert, err := tlsconfig.GetCertificate(c)(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		served = append(served, string(cert.Certificate[0]))
		if i > 0 && served[i] == served[i-1] {
			t.Fatalf("renewal %d served the same certificate", i)
		}
	}
	mu.Lock()
	n := len(serials)
	mu.Unlock()
	if n < 4 {
		t.Fatalf("OnUpdate called %d times, want at least 4", n)
	}
	if got := metricValue(t, reg, "identity_cert_renewals_total"); got < 4 {
		t.Fatalf("identity_cert_renewals_total = %v, want ≥ 4", got)
	}
}

// metricValue is the value of the unlabelled metric name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// syncWriter is a log sink safe for the client's goroutine and the test's.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func zerologTo(w io.Writer) zerolog.Logger { return zerolog.New(w) }

// TestClientOutage: with the identity service gone for longer than a
// renewal period, the client keeps its SVID until it expires, then is not
// ready; when the service returns on the same address, it recovers.
func TestClientOutage(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{LeafLifetime: 5 * time.Second})
	c, err := identity.New(config(t, srv, "default", "web"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	ch := c.Updated()
	run(t, c)
	waitUpdate(t, ch, 5*time.Second)
	ch = c.Updated()
	before, err := c.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// NotAfter has whole seconds: 4 to 5 s from issuance; the renewal is
	// due at 70 % ± 10 % of that.
	expiry := before.Certificates[0].NotAfter

	// Once a renewal has failed, and until expiry, the old SVID is served.
	for metricValue(t, reg, "identity_cert_renewal_failures_total") < 1 {
		if time.Now().After(expiry) {
			t.Fatal("no failed renewal before the SVID expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	now, err := c.GetX509SVID()
	if time.Now().Before(expiry) && (err != nil || now != before) {
		t.Fatalf("SVID not kept after a failed renewal: %v", err)
	}
	if !c.Ready() && time.Now().Before(expiry) {
		t.Fatal("not ready while the SVID is valid")
	}
	// After expiry it is not ready and serves nothing.
	time.Sleep(time.Until(expiry.Add(100 * time.Millisecond)))
	if c.Ready() {
		t.Fatal("ready with an expired SVID")
	}
	if _, err := c.GetX509SVID(); !errors.Is(err, identity.ErrSVIDExpired) {
		t.Fatalf("expired SVID: %v, want ErrSVIDExpired", err)
	}
	if got := metricValue(t, reg, "identity_cert_ready"); got != 0 {
		t.Fatalf("identity_cert_ready = %v", got)
	}

	// The service comes back on the same address: a new SVID.
	srv.Restart(t)
	waitUpdate(t, ch, 5*time.Second)
	if !c.Ready() {
		t.Fatal("not ready after the service came back")
	}
	after, err := c.GetX509SVID()
	if err != nil || after.Certificates[0].SerialNumber.Cmp(before.Certificates[0].SerialNumber) == 0 {
		t.Fatalf("no new SVID after recovery: %v", err)
	}
}

// TestClientRefusesWrongServerID: an identity service presenting another
// SPIFFE ID than the one configured gets no request.
func TestClientRefusesWrongServerID(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{Configure: func(c *app.Config) {
		c.ServiceNamespace, c.ServiceAccount = "evil", "identity"
	}})
	cfg := config(t, srv, "default", "web")
	var logs syncWriter
	cfg.Log = zerologTo(&logs)
	c, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	time.Sleep(500 * time.Millisecond)
	if c.Ready() {
		t.Fatal("client accepted an SVID from an identity service with the wrong ID")
	}
	if !strings.Contains(logs.String(), "spiffe://example.org/ns/meshlite/sa/identity") {
		t.Fatalf("log does not say which ID was expected:\n%s", logs.String())
	}
	if strings.Contains(srv.Logs(), "certificate issued") {
		t.Fatal("the impostor service issued a certificate")
	}

	// Configured to expect that ID, the same client setup works.
	cfg.ServerID = "spiffe://example.org/ns/evil/sa/identity"
	cfg.Log = zerologTo(io.Discard)
	c2, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := c2.Updated()
	run(t, c2)
	waitUpdate(t, ch, 5*time.Second)
}

// TestClientRefusesOtherAnchors: a service whose certificate does not
// chain to the configured anchors is refused.
func TestClientRefusesOtherAnchors(t *testing.T) {
	srv := identitytest.Start(t, identitytest.Options{})
	other := identitytest.Start(t, identitytest.Options{})
	cfg := config(t, srv, "default", "web")
	cfg.Addr = other.Addr
	c, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	time.Sleep(500 * time.Millisecond)
	if c.Ready() {
		t.Fatal("client trusted a service of other anchors")
	}
}

func TestNewValidates(t *testing.T) {
	for name, mod := range map[string]func(*identity.Config){
		"no addr":         func(c *identity.Config) { c.Addr = "" },
		"no anchors":      func(c *identity.Config) { c.TrustAnchors = "" },
		"missing anchors": func(c *identity.Config) { c.TrustAnchors = "/nonexistent" },
		"bad namespace":   func(c *identity.Config) { c.Namespace = "Default" },
		"no sa":           func(c *identity.Config) { c.ServiceAccount = "" },
		"bad server id":   func(c *identity.Config) { c.ServerID = "http://x" },
		"bad td":          func(c *identity.Config) { c.TrustDomain = "EXAMPLE/org" },
		"retry order":     func(c *identity.Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := identity.Default()
			cfg.Addr, cfg.TrustAnchors = "127.0.0.1:1", "testdata/none"
			cfg.Namespace, cfg.ServiceAccount = "default", "web"
			mod(&cfg)
			if _, err := identity.New(cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
