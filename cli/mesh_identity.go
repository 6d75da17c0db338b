package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/proxy/identity"
)

// identityTLS is the TLS configuration for the identity service: it must
// present spiffe://<td>/ns/meshlite/sa/identity, chained to the anchors.
func (m *mesh) identityTLS() *tls.Config {
	tc := tlsconfig.TLSClientConfig(m.bundle, tlsconfig.AuthorizeID(spiffe.IdentityServiceID(m.td)))
	tc.MinVersion = tls.VersionTLS13
	return tc
}

// reachIdentity completes a TLS handshake with the identity service.
func (m *mesh) reachIdentity(ctx context.Context) error {
	if len(m.anchors) == 0 {
		return errors.New("no trust anchors to check the identity service with: give --trust-anchors or --identity-dir")
	}
	tc := m.identityTLS()
	tc.NextProtos = []string{"h2"}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: tc}
	c, err := d.DialContext(ctx, "tcp", m.o.identityAddr)
	if err != nil {
		return fmt.Errorf("identity %s: %w", m.o.identityAddr, err)
	}
	return c.Close()
}

// certify asks the identity service for a certificate for meshctl, with
// a join token minted from the identity directory, and returns the
// answer.
func (m *mesh) certify(ctx context.Context) (*healthcheck.Issuance, error) {
	tok, err := m.mintToken()
	if err != nil {
		return nil, err
	}
	id, err := m.meshctlID()
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := identity.NewCSR(key, id)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(m.o.identityAddr, grpc.WithTransportCredentials(credentials.NewTLS(m.identityTLS())))
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", m.o.identityAddr, err)
	}
	defer conn.Close()
	resp, err := identityv1.NewIdentityClient(conn).Certify(ctx, &identityv1.CertifyRequest{
		Identity: id.String(), Token: tok, CertificateSigningRequest: csr,
	})
	if err != nil {
		return nil, fmt.Errorf("identity %s: certify %s: %w", m.o.identityAddr, id, err)
	}
	is := &healthcheck.Issuance{}
	if is.Leaf, err = x509.ParseCertificate(resp.GetLeafCertificate()); err != nil {
		return nil, fmt.Errorf("identity %s: the leaf certificate: %w", m.o.identityAddr, err)
	}
	for _, der := range resp.GetIntermediateCertificates() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("identity %s: an intermediate certificate: %w", m.o.identityAddr, err)
		}
		is.Intermediates = append(is.Intermediates, c)
	}
	for _, der := range resp.GetTrustAnchors() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("identity %s: a trust anchor: %w", m.o.identityAddr, err)
		}
		is.TrustAnchors = append(is.TrustAnchors, c)
	}
	return is, nil
}

// verifyChain verifies a chain (leaf first) against the local anchors.
func (m *mesh) verifyChain(chain []*x509.Certificate) error {
	_, _, err := x509svid.Verify(chain, m.bundle)
	return err
}
