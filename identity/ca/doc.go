// Package ca is meshlite's certificate authority core: creating a trust
// anchor (root) and an issuer (intermediate), loading and checking an
// issuer against the anchors, validating a proxy's certificate signing
// request, and signing short-lived SPIFFE X.509-SVID leaves. It does no
// networking and reads the clock only through the times it is given, so
// the identity service, meshctl and tests share it.
//
// A trust domain's files, as `meshctl identity create` writes them into one
// directory (keys are mode 0600):
//
//	anchor.crt   the trust anchor (self-signed root); give it to every proxy
//	anchor.key   the anchor's key; needed only to make a new issuer
//	issuer.crt   the issuer (intermediate), signed by the anchor
//	issuer.key   the issuer's key; the identity service signs leaves with it
//
// Typical use in the service:
//
//	r, err := ca.NewReloader(td, ca.DefaultPaths(dir), time.Now)
//	...
//	req, err := ca.ValidateCSR(der, id)        // *CSRError says why not
//	issued, err := r.Current().Sign(req.PublicKey, id, ca.SignOptions{Now: now, Lifetime: 24 * time.Hour})
package ca
