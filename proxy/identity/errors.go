package identity

import "errors"

var (
	// ErrNoSVID is returned by GetX509SVID before the first SVID arrives.
	ErrNoSVID = errors.New("identity: no SVID yet")
	// ErrSVIDExpired is returned by GetX509SVID once the SVID held has
	// expired and no new one has arrived.
	ErrSVIDExpired = errors.New("identity: SVID expired")
	// ErrUnknownTrustDomain is returned for a bundle of another trust domain.
	ErrUnknownTrustDomain = errors.New("identity: no trust bundle for trust domain")
	// ErrBadResponse is wrapped when the identity service's answer is not
	// a valid SVID for this proxy.
	ErrBadResponse = errors.New("identity: bad certificate from the identity service")
)
