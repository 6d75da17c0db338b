package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/internal/syncbuf"
	"github.com/meshlite/meshlite/proxy/identity"
	"github.com/meshlite/meshlite/proxy/mtls"
)

// meshctlAccount is the service account of meshctl's own identity, in the
// control plane's namespace: proxies let it use /tap over mutual TLS.
const (
	meshctlNamespace = "meshlite"
	meshctlAccount   = "meshctl"
	defaultAdminPort = 4191
)

// meshOptions are the flags every command that reaches the mesh shares:
// where the proxies and the control plane are, and who meshctl is.
type meshOptions struct {
	proxies             []string
	adminPort           int
	destination         string
	destinationInsecure bool
	namespace           string
	identityAddr        string
	identityDir         string
	certFile, keyFile   string
	anchorsFile         string
	trustDomain         string
	timeout             time.Duration
}

func (o *meshOptions) addFlags(f *pflag.FlagSet) {
	if o.adminPort == 0 {
		o.adminPort = defaultAdminPort
	}
	if o.timeout == 0 {
		o.timeout = 10 * time.Second
	}
	f.StringSliceVar(&o.proxies, "proxy", nil, "admin address of a proxy, `host:port` (repeatable, or comma-separated)")
	f.IntVar(&o.adminPort, "admin-port", o.adminPort, "admin port of the proxies listed by the destination service")
	f.StringVar(&o.destination, "destination", "", "destination service `host:port`: its registered workloads are the proxies")
	f.BoolVar(&o.destinationInsecure, "destination-insecure", false, "reach the destination service in plaintext (one started with --insecure)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "only the workloads of this namespace (default: all)")
	f.StringVar(&o.identityAddr, "identity-addr", "", "identity service `host:port`, for meshctl's own certificate and the identity checks")
	f.StringVar(&o.identityDir, "identity-dir", "", "directory of `meshctl identity create` (anchor.crt, join.key): meshctl proves spiffe://<td>/ns/meshlite/sa/meshctl with a join token it mints")
	f.StringVar(&o.certFile, "cert", "", "meshctl's certificate (PEM), instead of one from the identity service")
	f.StringVar(&o.keyFile, "key", "", "the key of --cert (PEM, PKCS #8)")
	f.StringVar(&o.anchorsFile, "trust-anchors", "", "PEM trust anchors (default: <identity-dir>/anchor.crt)")
	f.StringVar(&o.trustDomain, "trust-domain", "", "trust domain (default: the trust anchor's, else cluster.local)")
	f.DurationVar(&o.timeout, "timeout", o.timeout, "bound on reaching each component")
}

func (o *meshOptions) validate() error {
	var errs []error
	for _, p := range o.proxies {
		if _, err := o.adminAddr(p); err != nil {
			errs = append(errs, err)
		}
	}
	if o.adminPort < 1 || o.adminPort > 65535 {
		errs = append(errs, fmt.Errorf("--admin-port %d: out of range", o.adminPort))
	}
	for name, v := range map[string]string{"--destination": o.destination, "--identity-addr": o.identityAddr} {
		if v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: not host:port", name, v))
		}
	}
	if (o.certFile == "") != (o.keyFile == "") {
		errs = append(errs, errors.New("--cert and --key go together"))
	}
	if o.certFile != "" && o.identityDir != "" {
		errs = append(errs, errors.New("--cert and --identity-dir exclude each other"))
	}
	if o.identityDir != "" && o.identityAddr == "" {
		errs = append(errs, errors.New("--identity-dir needs --identity-addr (where to get meshctl's certificate)"))
	}
	if o.trustDomain != "" {
		if _, err := spiffeid.TrustDomainFromString(o.trustDomain); err != nil {
			errs = append(errs, fmt.Errorf("--trust-domain: %w", err))
		}
	}
	if o.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout must be positive, got %v", o.timeout))
	}
	return errors.Join(errs...)
}

// validateProxies is validate for the commands that read the proxies: one
// of --destination or --proxy must say where they are.
func (o *meshOptions) validateProxies() error {
	var errs []error
	if o.destination == "" && len(o.proxies) == 0 {
		errs = append(errs, errors.New("no proxies: give --destination or --proxy"))
	}
	return errors.Join(append(errs, o.validate())...)
}

// openProxies opens the mesh and lists its proxies. When the destination
// service cannot list them, the --proxy ones are used, with a warning on
// s.Err; none at all is an error. The caller closes the mesh.
func openProxies(ctx context.Context, o *meshOptions, s Streams) (*mesh, []healthcheck.Proxy, error) {
	m, err := openMesh(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	proxies, err := m.proxies(ctx)
	if len(proxies) == 0 {
		m.Close()
		return nil, nil, errors.Join(errors.New("no proxies found"), err)
	}
	if err != nil {
		fmt.Fprintf(s.Err, "warning: %v; using the proxies given with --proxy\n", err)
	}
	return m, proxies, nil
}

// adminAddr completes a --proxy value with the admin port.
func (o *meshOptions) adminAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if net.ParseIP(strings.Trim(s, "[]")) == nil && strings.ContainsAny(s, ":/ ") {
		return "", fmt.Errorf("--proxy %q: not host:port", s)
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), strconv.Itoa(o.adminPort)), nil
}

// anchorsPath is the trust anchors' file, "" when none is given.
func (o *meshOptions) anchorsPath() string {
	if o.anchorsFile != "" {
		return o.anchorsFile
	}
	if o.identityDir != "" {
		return filepath.Join(o.identityDir, ca.AnchorCertFile)
	}
	return ""
}

// mesh is a session with the mesh: meshctl's identity, the trust anchors
// and clients for the control plane and the proxies.
type mesh struct {
	o       *meshOptions
	td      spiffeid.TrustDomain
	anchors []*x509.Certificate
	bundle  *x509bundle.Bundle

	// source is meshctl's identity; nil without one.
	source mtls.Source
	client *identity.Client // when the identity comes from the identity service
	logBuf *syncbuf.Buffer
	stop   context.CancelFunc
	done   chan struct{}
	tmpDir string
	dest   *destClient
}

// openMesh reads the trust anchors and, with --identity-dir, starts
// getting meshctl's certificate in the background.
func openMesh(ctx context.Context, o *meshOptions) (*mesh, error) {
	m := &mesh{o: o}
	if p := o.anchorsPath(); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("trust anchors: %w", err)
		}
		if m.anchors, err = spiffe.ParseCertificates(data); err != nil {
			return nil, fmt.Errorf("trust anchors %s: %w", p, err)
		}
	}
	td, err := o.domain(m.anchors)
	if err != nil {
		return nil, err
	}
	m.td = td
	m.bundle = x509bundle.FromX509Authorities(td, m.anchors)
	switch {
	case o.certFile != "":
		svid, err := x509svid.Load(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert, --key: %w", err)
		}
		if len(m.anchors) == 0 {
			return nil, errors.New("--cert needs --trust-anchors")
		}
		m.source = staticSource{svid, m.bundle}
	case o.identityDir != "":
		if err := m.startIdentity(ctx); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// domain is --trust-domain, else the first anchor's, else cluster.local.
func (o *meshOptions) domain(anchors []*x509.Certificate) (spiffeid.TrustDomain, error) {
	if o.trustDomain != "" {
		return spiffeid.TrustDomainFromString(o.trustDomain)
	}
	for _, a := range anchors {
		if len(a.URIs) == 1 {
			if td, err := spiffeid.TrustDomainFromURI(a.URIs[0]); err == nil {
				return td, nil
			}
		}
	}
	return spiffeid.RequireTrustDomainFromString("cluster.local"), nil
}

// meshctlID is meshctl's SPIFFE ID.
func (m *mesh) meshctlID() (spiffeid.ID, error) {
	return spiffe.WorkloadID(m.td, meshctlNamespace, meshctlAccount)
}

// mintToken mints a short join token for meshctl's identity with the
// identity directory's join key.
func (m *mesh) mintToken() (string, error) {
	key, err := attest.LoadJoinKey(filepath.Join(m.o.identityDir, attest.JoinKeyFile))
	if err != nil {
		return "", err
	}
	id, err := m.meshctlID()
	if err != nil {
		return "", err
	}
	return attest.MintJoinToken(key, id, 10*time.Minute, time.Now())
}

// startIdentity runs an identity client for meshctl's own certificate.
func (m *mesh) startIdentity(ctx context.Context) error {
	if len(m.anchors) == 0 {
		return fmt.Errorf("--identity-dir: no trust anchors in %s", m.o.anchorsPath())
	}
	tok, err := m.mintToken()
	if err != nil {
		return err
	}
	if m.tmpDir, err = os.MkdirTemp("", "meshctl-"); err != nil {
		return err
	}
	tokenFile := filepath.Join(m.tmpDir, "token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		return err
	}
	anchorsFile := m.o.anchorsPath()
	cfg := identity.Default()
	cfg.Addr, cfg.TrustAnchors, cfg.TrustDomain = m.o.identityAddr, anchorsFile, m.td.Name()
	cfg.Namespace, cfg.ServiceAccount, cfg.TokenFile = meshctlNamespace, meshctlAccount, tokenFile
	cfg.RequestTimeout, cfg.RetryMin, cfg.RetryMax = m.o.timeout, 200*time.Millisecond, 2*time.Second
	m.logBuf = &syncbuf.Buffer{}
	cfg.Log = zerolog.New(m.logBuf)
	c, err := identity.New(cfg)
	if err != nil {
		return err
	}
	m.client, m.source = c, c
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		c.Run(ctx) //nolint:errcheck // returns nil when stopped
	}()
	return nil
}

// identity returns meshctl's identity once it holds a certificate (nil,
// nil without one), or why it has none after --timeout.
func (m *mesh) identity(ctx context.Context) (mtls.Source, error) {
	if m.client == nil {
		return m.source, nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.o.timeout)
	defer cancel()
	for !m.client.Ready() {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("meshctl has no certificate from the identity service at %s: %s", m.o.identityAddr, m.identityError())
		case <-m.client.Updated():
		}
	}
	return m.client, nil
}

// identityError is the identity client's last complaint.
func (m *mesh) identityError() string {
	lines := strings.Split(strings.TrimSpace(m.logBuf.String()), "\n")
	for k := len(lines) - 1; k >= 0; k-- {
		var entry struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(lines[k]), &entry) == nil && entry.Error != "" {
			return entry.Error
		}
	}
	return "no answer yet"
}

// Close stops the identity client and removes the token.
func (m *mesh) Close() {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	if m.dest != nil {
		m.dest.Close()
	}
	if m.tmpDir != "" {
		os.RemoveAll(m.tmpDir)
	}
}

// staticSource is an identity from files.
type staticSource struct {
	svid   *x509svid.SVID
	bundle *x509bundle.Bundle
}

func (s staticSource) GetX509SVID() (*x509svid.SVID, error) { return s.svid, nil }
func (s staticSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return s.bundle.GetX509BundleForTrustDomain(td)
}
