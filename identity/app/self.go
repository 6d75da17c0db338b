package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// renewFraction of a certificate's remaining lifetime passes before it is
// renewed.
const renewFraction = 0.7

// selfSVID is the service's own SVID, issued by its own authority; the
// gRPC server presents it. Only the maintenance goroutine (and New, before
// it starts) calls renew.
type selfSVID struct {
	id      spiffeid.ID
	store   spiffe.SVIDStore
	renewAt time.Time
}

// renew issues a new SVID with a fresh key from a and puts it in force.
func (s *selfSVID) renew(a *ca.Authority, now time.Time, lifetime time.Duration) (*x509svid.SVID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: own key: %w", err)
	}
	issued, err := a.Sign(key.Public(), s.id, ca.SignOptions{Now: now, Lifetime: lifetime})
	if err != nil {
		return nil, fmt.Errorf("identity: own certificate: %w", err)
	}
	svid := &x509svid.SVID{ID: s.id, Certificates: issued.Chain(), PrivateKey: key}
	s.store.Set(svid)
	s.renewAt = now.Add(time.Duration(renewFraction * float64(issued.Leaf.NotAfter.Sub(now))))
	return svid, nil
}
