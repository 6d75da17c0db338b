// Package identity is the proxy's side of meshlite identity: it obtains
// the proxy's SPIFFE X.509-SVID from the identity service and keeps it
// fresh.
//
// The proxy makes its own ECDSA P-256 key in memory (it never leaves the
// process), sends a certificate signing request whose only SAN is its
// SPIFFE ID spiffe://<td>/ns/<ns>/sa/<sa> with a token proving that
// identity (a projected Kubernetes ServiceAccount token or a meshlite join
// token, read from a file at every request), verifies the answer — the
// leaf chains to the configured trust anchors (go-spiffe's
// x509svid.Verify), names the requested ID and holds the key — and keeps
// it. The identity service itself is accepted only if its certificate
// chains to the anchors and names the expected identity service ID.
//
// A Client is an x509svid.Source and an x509bundle.Source, so TLS
// configurations come from go-spiffe:
//
//	c, err := identity.New(cfg)
//	go c.Run(ctx)  // first fetch, then renewals, until ctx is done
//	<-c.Updated()  // or poll c.Ready()
//	server := tlsconfig.MTLSServerConfig(c, c, tlsconfig.AuthorizeMemberOf(c.ID().TrustDomain()))
//	client := tlsconfig.MTLSClientConfig(c, c, tlsconfig.AuthorizeID(peerID))
//
// The SVID is swapped atomically on renewal, at about 70 % of its
// remaining lifetime (±10 % jitter). When the identity service cannot be
// reached, the client retries with capped exponential backoff and jitter
// while the current SVID stays in use until it expires.
package identity
