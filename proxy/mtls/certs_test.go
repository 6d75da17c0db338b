package mtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// testCA is a trust domain's root and issuer, for tests.
type testCA struct {
	td        spiffeid.TrustDomain
	root      *x509.Certificate
	rootKey   crypto.Signer
	issuer    *x509.Certificate
	issuerKey crypto.Signer
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t *testing.T, td string) *testCA {
	t.Helper()
	ca := &testCA{td: spiffeid.RequireTrustDomainFromString(td)}
	rk, ik := newKey(t), newKey(t)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: td + " root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{ca.td.ID().URL()},
	}
	ca.root = sign(t, rootTmpl, rootTmpl, rk.Public(), rk)
	ca.rootKey = rk
	issTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: td + " issuer"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{ca.td.ID().URL()},
	}
	ca.issuer = sign(t, issTmpl, ca.root, ik.Public(), rk)
	ca.issuerKey = ik
	return ca
}

// leafOpts tweak a leaf for the refusal tests.
type leafOpts struct {
	notBefore, notAfter time.Time
	isCA                bool
	extraURI            string
	selfSigned          bool
}

// svid issues an SVID for path in the CA's trust domain.
func (ca *testCA) svid(t *testing.T, path string, o leafOpts) *x509svid.SVID {
	t.Helper()
	id := spiffeid.RequireFromPath(ca.td, path)
	key := newKey(t)
	now := time.Now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Minute)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(time.Hour)
	}
	tmpl := &x509.Certificate{
		NotBefore: o.notBefore, NotAfter: o.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs:        []*url.URL{id.URL()},
		IsCA:        o.isCA, BasicConstraintsValid: true,
	}
	if o.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if o.extraURI != "" {
		u, _ := url.Parse(o.extraURI)
		tmpl.URIs = append(tmpl.URIs, u)
	}
	if o.selfSigned {
		leaf := sign(t, tmpl, tmpl, key.Public(), key)
		return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{leaf}, PrivateKey: key}
	}
	leaf := sign(t, tmpl, ca.issuer, key.Public(), ca.issuerKey)
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{leaf, ca.issuer}, PrivateKey: key}
}

func (ca *testCA) bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, []*x509.Certificate{ca.root})
}

// source pairs an SVID with the bundles it trusts.
type source struct {
	*x509svid.SVID
	*x509bundle.Set
}

func newSource(svid *x509svid.SVID, bundles ...*x509bundle.Bundle) Source {
	return source{SVID: svid, Set: x509bundle.NewSet(bundles...)}
}
