package topology

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// The meshlite-mtls topology's identities: trust domain, the proxies'
// namespace and service accounts (spiffe://<td>/ns/<ns>/sa/<side>), and
// where the identity service listens in the control pod.
const (
	trustDomain       = "cluster.local"
	meshNamespace     = "bench"
	identityPort      = meshenv.IdentityPort
	identityAdminPort = 9990
	// tokenTTL outlives any run; the certificates (24 h, the identity
	// service's default) too, so none is renewed while measuring.
	tokenTTL = 24 * time.Hour
)

// proxyID is the SPIFFE ID of the meshlite-mtls proxy on side s.
func proxyID(s Side) (spiffeid.ID, error) {
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return spiffeid.ID{}, err
	}
	return spiffe.WorkloadID(td, meshNamespace, string(s))
}

// mtlsProxyArgs are the identity flags of the meshlite-mtls proxy on side
// s: its identity from the service at identity, verified with the anchors
// file, proven with the join token in tokenFile; the client proxy also
// gets the server pod's address and SPIFFE ID as its one meshed endpoint,
// so that everything it sends there goes over mutual TLS.
func mtlsProxyArgs(s Side, identity netip.AddrPort, anchors, tokenFile string, server *netenv.Pod) ([]string, error) {
	args := []string{
		"--identity-addr", identity.String(),
		"--identity-trust-anchors", anchors,
		"--identity-trust-domain", trustDomain,
		"--identity-namespace", meshNamespace,
		"--identity-service-account", string(s),
		"--identity-token-file", tokenFile,
	}
	if s == ClientSide {
		id, err := proxyID(ServerSide)
		if err != nil {
			return nil, err
		}
		args = append(args, "--meshed-endpoints", meshenv.MeshedFlag(&meshenv.Member{Pod: server, ID: id}))
	}
	return args, nil
}

// setupMeshliteMTLS makes a trust domain for the run (anchor, issuer and
// join key in <Dir>/identity, as `meshctl identity create` and
// internal/meshenv do), runs meshlite-identity in the control pod with the
// join attestor, mints a join token per proxy, and runs the meshlite pair
// as setupMeshlite does plus the identity flags. It returns once both
// proxies are ready, which they are only once they hold a certificate.
// The identity service is not returned: it is not measured.
func setupMeshliteMTLS(ctx context.Context, pair Pair, d Deps) ([]Proxy, error) {
	if pair.Control == nil {
		return nil, errors.New("topology: meshlite-mtls: no control pod for the identity service")
	}
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return nil, fmt.Errorf("topology: meshlite-mtls: %w", err)
	}
	dir := filepath.Join(d.Dir, "identity")
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("topology: meshlite-mtls: %w", err)
	}
	if err := meshenv.CreateTrustDomain(dir, td); err != nil {
		return nil, fmt.Errorf("topology: meshlite-mtls: %w", err)
	}
	id, err := pair.Control.Start(ctx, netenv.ProcSpec{
		Name: "meshlite-identity", Path: d.Bins.Identity,
		Args: []string{"--dir", dir, "--trust-domain", trustDomain, "--attest", "join",
			"--addr", fmt.Sprintf(":%d", identityPort), "--admin-addr", fmt.Sprintf(":%d", identityAdminPort)},
		Env: []string{gomaxprocs(1)},
	})
	if err != nil {
		return nil, fmt.Errorf("topology: meshlite-mtls: identity: %w", err)
	}
	if d.Started != nil {
		d.Started(id)
	}
	if err := waitReady(ctx, id, "http://"+netip.AddrPortFrom(pair.Control.Addr, identityAdminPort).String()+"/ready"); err != nil {
		return nil, err
	}
	identity := netip.AddrPortFrom(pair.Control.Addr, identityPort)
	args := map[Side][]string{}
	for _, s := range []Side{ClientSide, ServerSide} {
		token, err := writeJoinToken(dir, s)
		if err != nil {
			return nil, err
		}
		if args[s], err = mtlsProxyArgs(s, identity, filepath.Join(dir, ca.AnchorCertFile), token, pair.Server); err != nil {
			return nil, fmt.Errorf("topology: meshlite-mtls: %w", err)
		}
	}
	return startMeshlite(ctx, pair, d, "meshlite-mtls", func(s Side) []string { return args[s] })
}

// writeJoinToken mints the join token of side s's proxy into
// <dir>/<side>.token, readable only by ProxyUID.
func writeJoinToken(dir string, s Side) (string, error) {
	id, err := proxyID(s)
	if err != nil {
		return "", fmt.Errorf("topology: meshlite-mtls: %w", err)
	}
	path, err := meshenv.WriteJoinToken(dir, string(s), id, tokenTTL)
	if err != nil {
		return "", fmt.Errorf("topology: meshlite-mtls: %w", err)
	}
	return path, nil
}

// Metrics of meshlite-proxy that say which hops were mutual TLS.
const (
	responseMetric = "response_total"
	tcpOpenMetric  = "tcp_open_total"
)

// verifyMTLS checks, from the proxies' metrics after Check's requests,
// that the path between the pods was mutual TLS all along: the client
// proxy got responses over mutual TLS (response_total{direction="outbound",
// tls="true"} > 0) and none in plaintext, and every connection the server
// proxy accepted was mutual TLS (tcp_open_total{direction="inbound",
// tls="false"} = 0) — including the opaque TCP check's, which
// response_total does not count.
func verifyMTLS(ctx context.Context, proxies []Proxy) error {
	var client, server *Proxy
	for i := range proxies {
		switch proxies[i].Side {
		case ClientSide:
			client = &proxies[i]
		case ServerSide:
			server = &proxies[i]
		}
	}
	if client == nil || server == nil || client.MetricsURL == "" || server.MetricsURL == "" {
		return errors.New("topology: meshlite-mtls: want a client and a server proxy with metrics")
	}
	checks := []struct {
		p      *Proxy
		metric string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{client, responseMetric, []string{`direction="outbound"`, `tls="true"`}, func(v float64) bool { return v > 0 }, "> 0"},
		{client, responseMetric, []string{`direction="outbound"`, `tls="false"`}, func(v float64) bool { return v == 0 }, "0"},
		{server, tcpOpenMetric, []string{`direction="inbound"`, `tls="true"`}, func(v float64) bool { return v > 0 }, "> 0"},
		{server, tcpOpenMetric, []string{`direction="inbound"`, `tls="false"`}, func(v float64) bool { return v == 0 }, "0"},
	}
	for _, c := range checks {
		v, err := measure.Scrape(ctx, c.p.MetricsURL, c.metric, c.labels...)
		if err != nil {
			return fmt.Errorf("topology: meshlite-mtls: %s proxy: %w", c.p.Side, err)
		}
		if !c.ok(v) {
			return fmt.Errorf("topology: meshlite-mtls: not mutual TLS between the pods: %s proxy's %s{%s} is %g, want %s",
				c.p.Side, c.metric, strings.Join(c.labels, ","), v, c.want)
		}
	}
	return nil
}
