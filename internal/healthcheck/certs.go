package healthcheck

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"time"
)

// name is how a certificate is named in messages: its first URI SAN, or
// its subject, and its serial number.
func name(c *x509.Certificate) string {
	n := c.Subject.String()
	if len(c.URIs) > 0 {
		n = c.URIs[0].String()
	}
	if n == "" {
		n = "(no name)"
	}
	return fmt.Sprintf("%q (serial %s)", n, c.SerialNumber.Text(16))
}

// stamp formats t for messages.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// human renders a duration in days and hours (or less).
func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(math.Floor(d.Hours()/24)))
	case d >= time.Hour:
		return fmt.Sprintf("%.0f hours", math.Floor(d.Hours()))
	default:
		return d.Round(time.Second).String()
	}
}

// validNow checks that every certificate is within its validity period
// at now.
func validNow(what string, certs []*x509.Certificate, now time.Time) error {
	if len(certs) == 0 {
		return fmt.Errorf("no %s certificate", what)
	}
	var errs []error
	for _, c := range certs {
		switch {
		case now.Before(c.NotBefore):
			errs = append(errs, fmt.Errorf("%s %s is not valid before %s", what, name(c), stamp(c.NotBefore)))
		case !now.Before(c.NotAfter):
			errs = append(errs, fmt.Errorf("%s %s expired at %s", what, name(c), stamp(c.NotAfter)))
		}
	}
	return errors.Join(errs...)
}

// validFor checks that every certificate stays valid for at least min
// after now.
func validFor(what string, certs []*x509.Certificate, now time.Time, min time.Duration) error {
	if len(certs) == 0 {
		return fmt.Errorf("no %s certificate", what)
	}
	var errs []error
	for _, c := range certs {
		if left := c.NotAfter.Sub(now); left < min {
			errs = append(errs, fmt.Errorf("%s %s expires in %s, at %s (less than %s)", what, name(c), human(max(left, 0)),
				stamp(c.NotAfter), human(min)))
		}
	}
	return errors.Join(errs...)
}

// chains checks that chain (issuer first, then further intermediates)
// leads to one of anchors at now, and that the issuer may sign
// certificates.
func chains(chain, anchors []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("no issuer certificate")
	}
	if len(anchors) == 0 {
		return errors.New("no trust anchor to check the issuer against")
	}
	issuer := chain[0]
	if !issuer.IsCA || issuer.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("issuer %s is not a CA allowed to sign certificates", name(issuer))
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("issuer %s does not chain to the trust anchors: %w", name(issuer), err)
	}
	return nil
}
