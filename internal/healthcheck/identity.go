package healthcheck

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Expiry thresholds of the trust anchors and the issuer: a certificate
// expiring within FailWithin fails the check, within WarnWithin it is a
// warning.
const (
	WarnWithin = 60 * 24 * time.Hour
	FailWithin = 7 * 24 * time.Hour
)

// CategoryIdentity is the identity service's category.
const CategoryIdentity = "identity"

// Issuance is what the identity service answered a certificate request
// with.
type Issuance struct {
	// Leaf is the issued certificate; Intermediates follow it, the
	// issuer first.
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	// TrustAnchors are the anchors the service says it chains to.
	TrustAnchors []*x509.Certificate
}

// IdentityEnv is what the identity checks reach.
type IdentityEnv struct {
	// Addr is the identity service's host:port; "" when not given.
	Addr string
	// Reach connects to the identity service over TLS and checks the
	// SPIFFE ID it presents.
	Reach func(ctx context.Context) error
	// Certify asks the identity service for a certificate; nil when there
	// is no way to prove an identity (no join key), so that issuance is
	// not tested.
	Certify func(ctx context.Context) (*Issuance, error)
	// Verify checks that an issued chain (leaf first) verifies against
	// the local trust anchors, as proxies will verify it.
	Verify func(chain []*x509.Certificate) error
	// Anchors are the local trust anchors, those proxies verify with.
	Anchors []*x509.Certificate
	// Issuer is the issuer chain read from the identity directory, when
	// given: checked when Certify cannot show the issuer in force.
	Issuer []*x509.Certificate
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

const hintRotateIssuer = "make a new issuer under the same anchor: meshctl identity create --out DIR --issuer-only (meshlite-identity picks it up by itself)"

// Identity returns the identity service's checks: reachable, issuing,
// and its trust anchors and issuer valid, chained and not about to expire.
func Identity(env IdentityEnv) Category {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	var issued *Issuance
	issuer := func() ([]*x509.Certificate, error) {
		switch {
		case issued != nil && len(issued.Intermediates) > 0:
			return issued.Intermediates, nil
		case len(env.Issuer) > 0:
			return env.Issuer, nil
		}
		return nil, Skip("the issuer in force is not known: give --identity-dir")
	}
	anchors := func() ([]*x509.Certificate, error) {
		if len(env.Anchors) > 0 {
			return env.Anchors, nil
		}
		if issued != nil && len(issued.TrustAnchors) > 0 {
			return issued.TrustAnchors, nil
		}
		return nil, errors.New("no trust anchors: give --trust-anchors or --identity-dir")
	}
	return Category{Name: CategoryIdentity, Checkers: []Checker{
		{
			Description: "identity service is reachable",
			Hint:        "start meshlite-identity, or check --identity-addr and the trust anchors",
			Fatal:       true,
			Check: func(ctx context.Context) error {
				if env.Addr == "" {
					return Warn(errors.New("not checked: no --identity-addr given"))
				}
				return env.Reach(ctx)
			},
		},
		{
			Description: "identity service issues certificates",
			Hint:        "meshlite-identity logs each refused request (\"certificate refused\") with the reason",
			Fatal:       true,
			Check: func(ctx context.Context) error {
				if env.Certify == nil {
					return Warn(errors.New("not checked: meshctl cannot prove an identity (give --identity-dir, which holds join.key)"))
				}
				is, err := env.Certify(ctx)
				if err != nil {
					return err
				}
				issued = is
				if env.Verify != nil {
					chain := append([]*x509.Certificate{is.Leaf}, is.Intermediates...)
					if err := env.Verify(chain); err != nil {
						return fmt.Errorf("the certificate issued does not verify against the local trust anchors: %w", err)
					}
				}
				return nil
			},
		},
		{
			Description: "trust anchors are within their validity period",
			Hint:        "make a new trust domain: meshctl identity create, then restart the control plane and the proxies with the new anchor",
			Check: func(context.Context) error {
				a, err := anchors()
				if err != nil {
					return err
				}
				return validNow("trust anchor", a, now())
			},
		},
		expiryChecker("trust anchors are valid for at least 7 days", "trust anchor", anchors, now, 0, FailWithin, false,
			"rotate the trust anchor: add a new anchor to anchor.crt next to the old one, issue a new issuer under it, then retire the old one"),
		expiryChecker("trust anchors are valid for at least 60 days", "trust anchor", anchors, now, FailWithin, WarnWithin, true,
			"plan the trust anchor's rotation before it expires"),
		{
			Description: "issuer certificate is within its validity period",
			Hint:        hintRotateIssuer,
			Check: func(context.Context) error {
				chain, err := issuer()
				if err != nil {
					return err
				}
				return validNow("issuer", chain, now())
			},
		},
		{
			Description: "issuer certificate chains to the trust anchors",
			Hint:        "the issuer must be signed by an anchor in anchor.crt: " + hintRotateIssuer,
			Check: func(context.Context) error {
				chain, err := issuer()
				if err != nil {
					return err
				}
				a, err := anchors()
				if err != nil {
					return err
				}
				return chains(chain, a, now())
			},
		},
		expiryChecker("issuer certificate is valid for at least 7 days", "issuer", issuer, now, 0, FailWithin, false, hintRotateIssuer),
		expiryChecker("issuer certificate is valid for at least 60 days", "issuer", issuer, now, FailWithin, WarnWithin, true, hintRotateIssuer),
	}}
}

// expiryChecker checks that the certificates valid now with more than
// from left also have at least until left; those with less than from are
// another checker's concern.
func expiryChecker(desc, what string, certs func() ([]*x509.Certificate, error), now func() time.Time,
	from, until time.Duration, warning bool, hint string) Checker {
	return Checker{
		Description: desc,
		Hint:        hint,
		Warning:     warning,
		Check: func(context.Context) error {
			cs, err := certs()
			if err != nil {
				return err
			}
			t := now()
			var concerned []*x509.Certificate
			for _, c := range cs {
				if left := c.NotAfter.Sub(t); !t.Before(c.NotBefore) && left > 0 && left >= from {
					concerned = append(concerned, c)
				}
			}
			if len(concerned) == 0 && len(cs) > 0 {
				return Skip("a stricter check failed")
			}
			err = validFor(what, concerned, t, until)
			if err == nil && len(concerned) < len(cs) {
				// The others failed a stricter check: this one cannot pass.
				return Skip("a stricter check failed")
			}
			return err
		},
	}
}
