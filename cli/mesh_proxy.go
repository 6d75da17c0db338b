package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"

	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/proxy/tap"
)

// plainTransport reaches the proxies' plaintext admin endpoints (/ready,
// /metrics), never through an HTTP proxy.
var plainTransport = &http.Transport{
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	MaxIdleConnsPerHost: 2,
	IdleConnTimeout:     30 * time.Second,
}

// adminGet GETs path on a proxy's admin port in plaintext, within
// --timeout, and returns the body of a 200 answer.
func (m *mesh) adminGet(ctx context.Context, admin, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: plainTransport}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// ready asks a proxy's /ready.
func (m *mesh) ready(ctx context.Context, p healthcheck.Proxy) error {
	_, err := m.adminGet(ctx, p.Admin, "/ready")
	return err
}

// metrics reads a proxy's /metrics.
func (m *mesh) metrics(ctx context.Context, admin string) (promtext.Families, error) {
	body, err := m.adminGet(ctx, admin, "/metrics")
	if err != nil {
		return nil, err
	}
	return promtext.Parse(strings.NewReader(string(body)))
}

// version is the version a proxy's metrics report: the version label of
// a *_build_info metric; "" without one.
func (m *mesh) version(ctx context.Context, p healthcheck.Proxy) (string, error) {
	f, err := m.metrics(ctx, p.Admin)
	if err != nil {
		return "", err
	}
	return buildVersion(f), nil
}

// buildVersion finds the version label of a *_build_info metric (Go's own
// go_build_info names the toolchain's module, not meshlite: skipped).
func buildVersion(f promtext.Families) string {
	for name, mf := range f {
		if !strings.HasSuffix(name, "build_info") || name == "go_build_info" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if v := promtext.Label(mt, "version"); v != "" {
				return v
			}
		}
	}
	return ""
}

// certificate returns the chain a proxy presents on its admin port (which
// speaks TLS to clients that start with a ClientHello). The chain is
// read during the handshake, before anything is verified: the checks
// verify it.
func (m *mesh) certificate(ctx context.Context, p healthcheck.Proxy) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, m.o.timeout)
	defer cancel()
	var chain []*x509.Certificate
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified by the checks, against the trust anchors
		VerifyConnection: func(cs tls.ConnectionState) error {
			chain = cs.PeerCertificates
			return nil
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return m.clientCertificate(ctx), nil
		},
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: tc}
	c, err := d.DialContext(ctx, "tcp", p.Admin)
	if c != nil {
		c.Close()
	}
	if len(chain) > 0 {
		return chain, nil
	}
	if err == nil {
		err = errors.New("no certificate presented")
	}
	return nil, fmt.Errorf("no certificate on the admin port (a proxy without an identity?): %w", err)
}

// clientCertificate is meshctl's certificate for TLS, or an empty one.
func (m *mesh) clientCertificate(ctx context.Context) *tls.Certificate {
	src, err := m.identity(ctx)
	if err != nil || src == nil {
		return &tls.Certificate{}
	}
	svid, err := src.GetX509SVID()
	if err != nil {
		return &tls.Certificate{}
	}
	c := &tls.Certificate{PrivateKey: svid.PrivateKey, Leaf: svid.Certificates[0]}
	for _, cert := range svid.Certificates {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c
}

// tapClient is the HTTP client for a proxy's /tap: mutual TLS with
// meshctl's identity (the proxy must present an identity of the trust
// domain), or plaintext for a proxy on loopback or without an identity
// for meshctl.
func (m *mesh) tapClient(ctx context.Context, admin string) (*http.Client, string, error) {
	host, _, _ := net.SplitHostPort(admin)
	a, err := netip.ParseAddr(host)
	loopback := err == nil && a.IsLoopback() || host == "localhost"
	src, err := m.identity(ctx)
	if err != nil {
		return nil, "", err
	}
	if loopback || src == nil {
		return &http.Client{Transport: plainTransport}, "http://" + admin + "/tap", nil
	}
	tc := tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeMemberOf(m.td))
	tc.MinVersion = tls.VersionTLS13
	tr := &http.Transport{Proxy: nil, TLSClientConfig: tc, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	return &http.Client{Transport: tr}, "https://" + admin + "/tap", nil
}

// tapStream streams a proxy's tap events to out until ctx is done or the
// stream fails; connected is called once the proxy accepted the watch.
func (m *mesh) tapStream(ctx context.Context, admin string, out chan<- tap.Event, connected func()) error {
	client, url, err := m.tapClient(ctx, admin)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("tap %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("tap %s: %s: %s", admin, resp.Status, strings.TrimSpace(string(body)))
	}
	connected()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e tap.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		select {
		case out <- e:
		case <-ctx.Done():
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tap %s: %w", admin, err)
	}
	return fmt.Errorf("tap %s: the proxy ended the stream", admin)
}
