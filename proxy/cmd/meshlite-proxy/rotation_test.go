package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
)

// meshPair starts a mesh with short-lived leaves and two workloads, the
// server's applications serving.
func meshPair(t *testing.T, leaf time.Duration) (*meshenv.Mesh, *meshenv.Member, *meshenv.Member) {
	t.Helper()
	env := netenv.NewForTest(t, netenv.Options{})
	mesh, err := meshenv.Start(t.Context(), env, meshenv.Options{BinDir: binDir(t), TrustDomain: "example.org", LeafLifetime: leaf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	server, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "server"})
	if err != nil {
		t.Fatal(err)
	}
	serveApps(t, server.Pod)
	client, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "client",
		ProxyArgs: []string{"--meshed-endpoints", meshenv.MeshedFlag(server)}})
	if err != nil {
		t.Fatal(err)
	}
	return mesh, client, server
}

// load sends a steady stream from the client pod to the server pod: HTTP
// requests on a kept-alive connection, and a new TCP connection (so a new
// mutual TLS handshake between the proxies) every 50 ms.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	lastErr    error
	stop       context.CancelFunc
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, client, server *meshenv.Member) *load {
	ctx, cancel := context.WithCancel(t.Context())
	l := &load{stop: cancel}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return client.Pod.DialContext(ctx, "tcp", addr)
		},
	}}
	url := "http://" + netip.AddrPortFrom(server.Pod.Addr, 8080).String() + "/load"
	echo := netip.AddrPortFrom(server.Pod.Addr, 7000).String()
	run := func(every time.Duration, one func() error) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if err := one(); err != nil && ctx.Err() == nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.lastErr = err
					l.mu.Unlock()
				} else if err == nil {
					l.ok.Add(1)
				}
			}
		}()
	}
	run(10*time.Millisecond, func() error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("GET /load spiffe://")) {
			return fmt.Errorf("HTTP %d %q", resp.StatusCode, body)
		}
		return nil
	})
	run(50*time.Millisecond, func() error {
		c, err := client.Pod.DialContext(ctx, "tcp", echo)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("rotate")); err != nil {
			return err
		}
		b := make([]byte, 6)
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("TCP echo: %w", err)
		}
		return nil
	})
	return l
}

func (l *load) finish(t *testing.T) (ok, failed int64) {
	l.stop()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastErr != nil {
		t.Logf("last failure: %v", l.lastErr)
	}
	return l.ok.Load(), l.failed.Load()
}

func metric(t *testing.T, m *meshenv.Member, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := promtext.ParseString(get(t, m.AdminURL()+"/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	return fams.Sum(name, labels)
}

// TestRotationUnderLoad: leaves of 3 s are renewed several times while
// traffic flows, and the issuer is replaced once; no request fails.
func TestRotationUnderLoad(t *testing.T) {
	mesh, client, server := meshPair(t, 3*time.Second)
	l := startLoad(t, client, server)
	time.Sleep(4 * time.Second)
	if err := ca.RotateIssuer(mesh.Dir, mesh.TD, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	ok, failed := l.finish(t)
	if failed != 0 || ok < 200 {
		t.Fatalf("%d requests and connections succeeded, %d failed; want none failed", ok, failed)
	}
	for _, m := range []*meshenv.Member{client, server} {
		if n := metric(t, m, "identity_cert_renewals_total", nil); n < 3 {
			t.Errorf("%s renewed its certificate %v times, want ≥ 3", m.Pod.Name, n)
		}
	}
	if !bytes.Contains([]byte(mesh.Identity.Output()), []byte("issuer")) {
		t.Errorf("identity service logged no issuer reload:\n%s", mesh.Identity.Output())
	}
	t.Logf("%d requests and connections, none failed", ok)
}

// TestIdentityOutage: with the identity service down for longer than a
// renewal period, traffic keeps flowing on the current certificates; when
// the service returns, the proxies renew.
func TestIdentityOutage(t *testing.T) {
	const leaf = 10 * time.Second
	mesh, client, server := meshPair(t, leaf)
	// Both proxies got their first leaves moments ago (the server's first):
	// stop the service now, and keep the outage past the server's renewal
	// point (70 %, ±10 %) but short of its expiry.
	issued := issuedAt(t, server, leaf)
	if err := mesh.StopIdentity(); err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, client, server)
	time.Sleep(time.Until(issued.Add(leaf * 85 / 100)))
	ok, failed := l.finish(t)
	if failed != 0 || ok < 100 {
		t.Fatalf("while identity was down: %d succeeded, %d failed; want none failed", ok, failed)
	}
	if n := metric(t, server, "identity_cert_renewal_failures_total", nil); n < 1 {
		t.Errorf("server proxy saw %v failed renewals while identity was down, want ≥ 1", n)
	}
	renewals := map[*meshenv.Member]float64{}
	for _, m := range []*meshenv.Member{client, server} {
		renewals[m] = metric(t, m, "identity_cert_renewals_total", nil)
	}
	if err := mesh.StartIdentity(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Both renew soon after: near its expiry a proxy retries every
	// --identity-retry-min (1 s), whatever its backoff had grown to.
	back := time.Now()
	for m, before := range renewals {
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, m, "identity_cert_renewals_total", nil) == before && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if metric(t, m, "identity_cert_renewals_total", nil) == before {
			t.Fatalf("%s proxy did not renew within 10 s of the identity service's return:\n%s", m.Pod.Name, m.Proxy.Output())
		}
	}
	t.Logf("both proxies renewed within %v of the identity service's return", time.Since(back).Round(100*time.Millisecond))
	l = startLoad(t, client, server)
	time.Sleep(time.Second)
	if ok, failed := l.finish(t); failed != 0 || ok == 0 {
		t.Fatalf("after recovery: %d succeeded, %d failed", ok, failed)
	}
}

// issuedAt is when the member's current certificate was issued: its expiry,
// read from the proxy's metrics, less the leaf lifetime.
func issuedAt(t *testing.T, m *meshenv.Member, leaf time.Duration) time.Time {
	t.Helper()
	exp := metric(t, m, "identity_cert_expiry_timestamp_seconds", nil)
	if exp == 0 {
		t.Fatal("no certificate expiry in the proxy's metrics")
	}
	return time.Unix(int64(exp), 0).Add(-leaf)
}
