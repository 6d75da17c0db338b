package spiffe

import (
	"errors"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// ErrNoSVID is returned by an SVIDStore that holds no SVID yet.
var ErrNoSVID = errors.New("spiffe: no X.509-SVID yet")

// SVIDStore holds an X.509-SVID that is replaced as a whole on renewal.
// It implements x509svid.Source; TLS handshakes running concurrently with
// Set see either the old or the new SVID, never a mix. The zero value
// holds nothing.
type SVIDStore struct {
	v atomic.Pointer[x509svid.SVID]
}

var _ x509svid.Source = (*SVIDStore)(nil)

// Set replaces the held SVID. The SVID must not be modified afterwards.
func (s *SVIDStore) Set(svid *x509svid.SVID) { s.v.Store(svid) }

// Load returns the held SVID, or nil.
func (s *SVIDStore) Load() *x509svid.SVID { return s.v.Load() }

// GetX509SVID returns the held SVID, or ErrNoSVID.
func (s *SVIDStore) GetX509SVID() (*x509svid.SVID, error) {
	if v := s.v.Load(); v != nil {
		return v, nil
	}
	return nil, ErrNoSVID
}
