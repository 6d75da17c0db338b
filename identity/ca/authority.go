package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/internal/spiffe"
)

// Authority signs leaves for one trust domain with one issuer. It is
// immutable and safe for concurrent use; a new issuer is a new Authority.
type Authority struct {
	td       spiffeid.TrustDomain
	chain    []*x509.Certificate // issuer first
	key      crypto.Signer
	anchors  *x509bundle.Bundle
	notAfter time.Time // earliest NotAfter of the chain
}

// NewAuthority checks that chain (issuer first, then any intermediates up
// to, not including, an anchor) and key make a working issuer for td whose
// leaves verify against anchors at time now, and returns it. The check
// signs a throwaway leaf and verifies it the way proxies will (go-spiffe's
// x509svid.Verify), so a mismatched key, a broken chain, another trust
// domain's issuer or an expired one are all refused, wrapping
// ErrInvalidIssuer.
func NewAuthority(td spiffeid.TrustDomain, anchors, chain []*x509.Certificate, key crypto.Signer, now time.Time) (*Authority, error) {
	switch {
	case td.IsZero():
		return nil, fmt.Errorf("%w: empty trust domain", ErrInvalidIssuer)
	case len(anchors) == 0:
		return nil, fmt.Errorf("%w: no trust anchor", ErrInvalidIssuer)
	case len(chain) == 0:
		return nil, fmt.Errorf("%w: no issuer certificate", ErrInvalidIssuer)
	case key == nil:
		return nil, fmt.Errorf("%w: no issuer key", ErrInvalidIssuer)
	}
	issuer := chain[0]
	if !issuer.IsCA || issuer.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: issuer certificate %q is not a CA with keyCertSign", ErrInvalidIssuer, issuer.Subject)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(issuer.PublicKey) {
		return nil, fmt.Errorf("%w: issuer key does not match issuer certificate %q", ErrInvalidIssuer, issuer.Subject)
	}
	for _, u := range issuer.URIs {
		if id, err := spiffeid.FromURI(u); err != nil || id != td.ID() {
			return nil, fmt.Errorf("%w: issuer certificate names %q, not trust domain %q", ErrInvalidIssuer, u, td.Name())
		}
	}
	a := &Authority{
		td:       td,
		chain:    chain,
		key:      key,
		anchors:  x509bundle.FromX509Authorities(td, anchors),
		notAfter: issuer.NotAfter,
	}
	for _, c := range chain[1:] {
		if c.NotAfter.Before(a.notAfter) {
			a.notAfter = c.NotAfter
		}
	}
	if err := a.selfTest(now); err != nil {
		return nil, err
	}
	return a, nil
}

// selfTest signs a leaf for a throwaway key and verifies it against the
// anchors at now.
func (a *Authority) selfTest(now time.Time) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ca: self-test key: %w", err)
	}
	id, err := spiffeid.FromSegments(a.td, "meshlite", "self-test")
	if err != nil {
		return fmt.Errorf("ca: self-test: %w", err)
	}
	issued, err := a.Sign(k.Public(), id, SignOptions{Now: now, Lifetime: time.Minute})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidIssuer, err)
	}
	if _, _, err := x509svid.Verify(issued.Chain(), a.anchors, x509svid.WithTime(now)); err != nil {
		return fmt.Errorf("%w: a leaf it signs does not verify against the trust anchors: %w", ErrInvalidIssuer, err)
	}
	return nil
}

// ParseAuthority is NewAuthority on PEM contents: anchors and issuer
// certificates (CERTIFICATE blocks) and the issuer's PKCS #8 key.
func ParseAuthority(td spiffeid.TrustDomain, anchorsPEM, certPEM, keyPEM []byte, now time.Time) (*Authority, error) {
	anchors, err := spiffe.ParseCertificates(anchorsPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: trust anchors: %w", ErrInvalidIssuer, err)
	}
	chain, err := spiffe.ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer certificate: %w", ErrInvalidIssuer, err)
	}
	key, err := spiffe.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key: %w", ErrInvalidIssuer, err)
	}
	return NewAuthority(td, anchors, chain, key, now)
}

// LoadAuthority is ParseAuthority on the files at p.
func LoadAuthority(td spiffeid.TrustDomain, p Paths, now time.Time) (*Authority, error) {
	c, err := readPaths(p)
	if err != nil {
		return nil, err
	}
	return ParseAuthority(td, c.anchors, c.cert, c.key, now)
}

// TrustDomain is the authority's trust domain.
func (a *Authority) TrustDomain() spiffeid.TrustDomain { return a.td }

// Issuer is the certificate that signs leaves.
func (a *Authority) Issuer() *x509.Certificate { return a.chain[0] }

// Anchors are the trust anchors.
func (a *Authority) Anchors() *x509bundle.Bundle { return a.anchors }

// NotAfter is when the issuer (or an intermediate above it) expires; no
// leaf outlives it.
func (a *Authority) NotAfter() time.Time { return a.notAfter }

// SignOptions shape one leaf.
type SignOptions struct {
	Now      time.Time     // required
	Lifetime time.Duration // required; clipped to the authority's NotAfter
	// Rand is the source of the serial number; crypto/rand.Reader when nil.
	Rand io.Reader
}

// Issued is a signed leaf with what a verifier needs.
type Issued struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate // issuer first
	Anchors       []*x509.Certificate
}

// Chain is the leaf followed by the intermediates.
func (i *Issued) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{i.Leaf}, i.Intermediates...)
}

// Sign issues a leaf X.509-SVID for id and the public key pub. The leaf:
// not a CA, key usage digitalSignature only, extended key usage server and
// client authentication, the one URI SAN id, an empty subject, a random
// 128-bit serial, valid from Now-Backdate to Now+Lifetime or the
// authority's NotAfter, whichever is first. id must be in the authority's
// trust domain. Past NotAfter (or before the issuer is valid) the error
// wraps ErrIssuerUnavailable.
func (a *Authority) Sign(pub crypto.PublicKey, id spiffeid.ID, o SignOptions) (*Issued, error) {
	if id.TrustDomain() != a.td {
		return nil, fmt.Errorf("ca: %q is not in trust domain %q", id, a.td.Name())
	}
	if o.Lifetime <= 0 {
		return nil, fmt.Errorf("ca: lifetime must be positive, got %v", o.Lifetime)
	}
	if !o.Now.Before(a.notAfter) {
		return nil, fmt.Errorf("%w: issuer expired at %s", ErrIssuerUnavailable, a.notAfter.UTC().Format(time.RFC3339))
	}
	if o.Now.Before(a.chain[0].NotBefore) {
		return nil, fmt.Errorf("%w: issuer not valid before %s", ErrIssuerUnavailable, a.chain[0].NotBefore.UTC().Format(time.RFC3339))
	}
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	serial, err := randomSerial(r)
	if err != nil {
		return nil, err
	}
	notAfter := o.Now.Add(o.Lifetime)
	if notAfter.After(a.notAfter) {
		notAfter = a.notAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             o.Now.Add(-Backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		URIs:                  []*url.URL{id.URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.chain[0], pub, a.key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign %s: %w", id, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse signed leaf: %w", err)
	}
	return &Issued{Leaf: leaf, Intermediates: slices.Clone(a.chain), Anchors: a.anchors.X509Authorities()}, nil
}

// contents are the bytes of an authority's three files.
type contents struct{ anchors, cert, key []byte }

func (c contents) equal(o contents) bool {
	return string(c.anchors) == string(o.anchors) && string(c.cert) == string(o.cert) && string(c.key) == string(o.key)
}

func readPaths(p Paths) (contents, error) {
	var c contents
	var err error
	if c.anchors, err = os.ReadFile(p.Anchors); err != nil {
		return c, fmt.Errorf("ca: trust anchors: %w", err)
	}
	if c.cert, err = os.ReadFile(p.IssuerCert); err != nil {
		return c, fmt.Errorf("ca: issuer certificate: %w", err)
	}
	if c.key, err = os.ReadFile(p.IssuerKey); err != nil {
		return c, fmt.Errorf("ca: issuer key: %w", err)
	}
	return c, nil
}
