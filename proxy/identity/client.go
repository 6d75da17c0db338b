package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// Client obtains and renews the proxy's SVID. It is an x509svid.Source
// and an x509bundle.Source, safe for concurrent use by TLS handshakes.
type Client struct {
	cfg      Config
	id       spiffeid.ID
	serverID spiffeid.ID
	bundle   *x509bundle.Bundle
	creds    credentials.TransportCredentials

	svid spiffe.SVIDStore

	mu      sync.Mutex
	updated chan struct{} // closed and replaced on every new SVID

	renewals, failures atomic.Uint64
}

var (
	_ x509svid.Source   = (*Client)(nil)
	_ x509bundle.Source = (*Client)(nil)
)

// New checks cfg and reads the trust anchors. It does not contact the
// identity service; Run does.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = mrand.Float64
	}
	td, id, serverID, err := cfg.ids()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	bundle, err := x509bundle.Load(td, cfg.TrustAnchors)
	if err != nil {
		return nil, fmt.Errorf("identity: trust anchors: %w", err)
	}
	if bundle.Empty() {
		return nil, fmt.Errorf("identity: trust anchors: no certificate in %s", cfg.TrustAnchors)
	}
	tlsCfg := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(serverID))
	tlsCfg.MinVersion = tls.VersionTLS13
	return &Client{
		cfg:      cfg,
		id:       id,
		serverID: serverID,
		bundle:   bundle,
		creds:    credentials.NewTLS(tlsCfg),
		updated:  make(chan struct{}),
	}, nil
}

// ID is the SPIFFE ID this proxy requests.
func (c *Client) ID() spiffeid.ID { return c.id }

// GetX509SVID returns the current SVID: ErrNoSVID before the first one,
// ErrSVIDExpired once it has expired without a successor.
func (c *Client) GetX509SVID() (*x509svid.SVID, error) {
	s := c.svid.Load()
	if s == nil {
		return nil, ErrNoSVID
	}
	if na := s.Certificates[0].NotAfter; !c.cfg.Now().Before(na) {
		return nil, fmt.Errorf("%w at %s", ErrSVIDExpired, na.UTC().Format(time.RFC3339))
	}
	return s, nil
}

// GetX509BundleForTrustDomain returns the configured trust anchors for
// the proxy's trust domain.
func (c *Client) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != c.id.TrustDomain() {
		return nil, fmt.Errorf("%w %q", ErrUnknownTrustDomain, td.Name())
	}
	return c.bundle, nil
}

// Ready reports whether the client holds an SVID that has not expired.
func (c *Client) Ready() bool {
	_, err := c.GetX509SVID()
	return err == nil
}

// Expiry is the current SVID's NotAfter, or the zero time before the
// first.
func (c *Client) Expiry() time.Time {
	if s := c.svid.Load(); s != nil {
		return s.Certificates[0].NotAfter
	}
	return time.Time{}
}

// Updated returns a channel closed when the next SVID arrives; call it
// again for the one after.
func (c *Client) Updated() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updated
}

func (c *Client) set(s *x509svid.SVID) {
	c.svid.Set(s)
	c.renewals.Add(1)
	c.mu.Lock()
	close(c.updated)
	c.updated = make(chan struct{})
	c.mu.Unlock()
	if c.cfg.OnUpdate != nil {
		c.cfg.OnUpdate(s)
	}
}

// Run fetches the first SVID and renews it until ctx is done, then returns
// nil. Failures are retried with backoff, never returned: the current SVID
// stays in use meanwhile. Call it once.
func (c *Client) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	attempt := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s, err := c.fetch(ctx)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			attempt++
			c.failures.Add(1)
			wait = capRetry(retryAfter(attempt, c.cfg.RetryMin, c.cfg.RetryMax, c.cfg.Rand()), c.cfg.Now(), c.Expiry(), c.cfg.RetryMin)
			ev := c.cfg.Log.Warn().Err(err).Str("identity", c.id.String()).Str("server_id", c.serverID.String()).
				Int("attempt", attempt).Dur("retry_in", wait)
			if exp := c.Expiry(); !exp.IsZero() {
				ev = ev.Time("current_not_after", exp)
			}
			ev.Msg("certificate request failed")
		} else {
			attempt = 0
			c.set(s)
			na := s.Certificates[0].NotAfter
			wait = renewAfter(c.cfg.Now(), na, c.cfg.Rand())
			c.cfg.Log.Info().Str("identity", c.id.String()).Str("serial", s.Certificates[0].SerialNumber.Text(16)).
				Time("not_after", na).Dur("renew_in", wait).Msg("certificate received")
		}
		t.Reset(wait)
	}
}

// fetch makes a key and a CSR, asks the identity service to certify it
// with the current token, and verifies the answer.
func (c *Client) fetch(ctx context.Context) (*x509svid.SVID, error) {
	token, err := os.ReadFile(c.cfg.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: key: %w", err)
	}
	csr, err := NewCSR(key, c.id)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.cfg.Addr, grpc.WithTransportCredentials(c.creds))
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", c.cfg.Addr, err)
	}
	defer conn.Close()
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := identityv1.NewIdentityClient(conn).Certify(rctx, &identityv1.CertifyRequest{
		Identity:                  c.id.String(),
		Token:                     strings.TrimSpace(string(token)),
		CertificateSigningRequest: csr,
	})
	if err != nil {
		return nil, fmt.Errorf("identity: certify at %s: %w", c.cfg.Addr, err)
	}
	return c.verify(resp, key)
}

// verify turns a response into an SVID: the leaf and intermediates with
// key (go-spiffe checks the key matches the leaf), chaining to the
// configured anchors now, naming exactly the requested ID.
func (c *Client) verify(resp *identityv1.CertifyResponse, key *ecdsa.PrivateKey) (*x509svid.SVID, error) {
	certs := append([]byte(nil), resp.GetLeafCertificate()...)
	for _, der := range resp.GetIntermediateCertificates() {
		certs = append(certs, der...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity: key: %w", err)
	}
	s, err := x509svid.ParseRaw(certs, keyDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	id, _, err := x509svid.Verify(s.Certificates, c.bundle, x509svid.WithTime(c.cfg.Now()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if id != c.id {
		return nil, fmt.Errorf("%w: issued for %q, not %q", ErrBadResponse, id, c.id)
	}
	return s, nil
}

// NewCSR returns a DER certificate signing request for id signed by key:
// an empty subject and the one URI SAN id, nothing else.
func NewCSR(key *ecdsa.PrivateKey, id spiffeid.ID) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}, key)
	if err != nil {
		return nil, fmt.Errorf("identity: csr: %w", err)
	}
	return der, nil
}
