package ca

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Reloader holds the current Authority and replaces it when the files it
// was loaded from change. Reload is called periodically by its owner (the
// identity service polls every few seconds); Current is safe to call
// concurrently with it.
type Reloader struct {
	td    spiffeid.TrustDomain
	paths Paths
	now   func() time.Time

	cur atomic.Pointer[Authority]

	mu   sync.Mutex // serialises Reload
	seen contents   // the last contents looked at, accepted or not
}

// NewReloader loads the authority from p, checked at now(); a problem is
// an error (the service does not start without a working issuer).
func NewReloader(td spiffeid.TrustDomain, p Paths, now func() time.Time) (*Reloader, error) {
	c, err := readPaths(p)
	if err != nil {
		return nil, err
	}
	a, err := ParseAuthority(td, c.anchors, c.cert, c.key, now())
	if err != nil {
		return nil, err
	}
	r := &Reloader{td: td, paths: p, now: now, seen: c}
	r.cur.Store(a)
	return r, nil
}

// Current is the authority in force.
func (r *Reloader) Current() *Authority { return r.cur.Load() }

// Reload reads the files again. When their contents differ from the last
// look and make a valid authority, it is put in force and changed is true.
// When they are invalid (or unreadable), the current authority stays and
// err says why; the same invalid contents are not reported twice, so a
// caller may log every error it gets.
func (r *Reloader) Reload() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := readPaths(r.paths)
	if err != nil {
		if r.seen.equal(contents{}) {
			return false, nil
		}
		r.seen = contents{}
		return false, err
	}
	if c.equal(r.seen) {
		return false, nil
	}
	r.seen = c
	a, err := ParseAuthority(r.td, c.anchors, c.cert, c.key, r.now())
	if err != nil {
		return false, err
	}
	r.cur.Store(a)
	return true, nil
}
