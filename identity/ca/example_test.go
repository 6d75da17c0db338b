package ca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/identity/ca"
)

// An anchor and an issuer sign a leaf for a proxy's CSR; the leaf
// verifies with go-spiffe against the anchor.
func Example() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	now := time.Now()
	anchor, anchorKey, _ := ca.NewAnchor(td, ca.DefaultAnchorLifetime, now)
	issuer, issuerKey, _ := ca.NewIssuer(td, anchor, anchorKey, ca.DefaultIssuerLifetime, now)
	auth, err := ca.NewAuthority(td, []*x509.Certificate{anchor}, []*x509.Certificate{issuer}, issuerKey, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The proxy's side: a key and a CSR for its ID.
	id := spiffeid.RequireFromString("spiffe://example.org/ns/default/sa/web")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}}, key)

	req, err := ca.ValidateCSR(der, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	issued, err := auth.Sign(req.PublicKey, id, ca.SignOptions{Now: now, Lifetime: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _, err := x509svid.Verify(issued.Chain(), auth.Anchors())
	fmt.Println(got, err)
	// Output: spiffe://example.org/ns/default/sa/web <nil>
}
