package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

// DefaultTTL is the lease TTL when the configuration gives none.
const DefaultTTL = 15 * time.Second

// ErrNotFound is returned for a lease ID that is not held.
var ErrNotFound = errors.New("lease: not found")

// bucket holds lease ID → JSON record.
var bucket = []byte("leases")

// Workload is what registered.
type Workload struct {
	Name           string            `json:"name"`
	Namespace      string            `json:"namespace"`
	ServiceAccount string            `json:"serviceAccount,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Addr           netip.Addr        `json:"addr"`
	Ports          []uint16          `json:"ports,omitempty"`
	PortNames      map[string]uint16 `json:"portNames,omitempty"`
	// Identity is the SPIFFE ID its proxy presents, "" when unmeshed.
	Identity string `json:"identity,omitempty"`
	MeshPort uint16 `json:"meshPort,omitempty"`
	// Weight of its endpoints for weighted balancing; 0 means 1.
	Weight uint32 `json:"weight,omitempty"`
}

// Key is "namespace/name/address", what makes two registrations the
// same workload.
func (w *Workload) Key() string { return w.Namespace + "/" + w.Name + "/" + w.Addr.String() }

func (w *Workload) equal(o *Workload) bool {
	return w.Key() == o.Key() && w.ServiceAccount == o.ServiceAccount && maps.Equal(w.Labels, o.Labels) &&
		slices.Equal(w.Ports, o.Ports) && maps.Equal(w.PortNames, o.PortNames) &&
		w.Identity == o.Identity && w.MeshPort == o.MeshPort && w.Weight == o.Weight
}

// Lease is a registration.
type Lease struct {
	ID       string
	Workload *Workload // never modified once held
	TTL      time.Duration
	Deadline time.Time
}

type record struct {
	Workload *Workload    `json:"workload"`
	TTL      jsonDuration `json:"ttl"`
}

type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = jsonDuration(v)
	return err
}

// Config configures a Store.
type Config struct {
	// Path is the bbolt file; "" keeps registrations in memory only.
	Path string // ""
	// TTL is the longest lease granted, and the one granted when a
	// workload asks for none.
	TTL time.Duration // DefaultTTL
	// OnChange is called after the set of workloads changed (a new or
	// changed registration, a deregistration, an expiry), outside the
	// store's lock.
	OnChange func()
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registrations, when set, is kept at the number of leases held;
	// Expiries counts leases that expired.
	Registrations prometheus.Gauge
	Expiries      prometheus.Counter
}

// Store holds the leases.
type Store struct {
	cfg  Config
	db   *bolt.DB
	kick chan struct{}

	mu     sync.Mutex
	leases map[string]*Lease // by ID
	byKey  map[string]string // workload key → ID
}

// Open opens (creating it if needed) the store. Leases found in the file
// get a fresh TTL from now.
func Open(cfg Config) (*Store, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	s := &Store{cfg: cfg, kick: make(chan struct{}, 1), leases: map[string]*Lease{}, byKey: map[string]string{}}
	if cfg.Path == "" {
		s.gauge()
		return s, nil
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("lease: open %s: %w", cfg.Path, err)
	}
	s.db = db
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	s.gauge()
	return s, nil
}

// load reads every record; unreadable ones are dropped from the file.
func (s *Store) load() error {
	now := s.cfg.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		var bad [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil || r.Workload == nil || r.TTL <= 0 {
				bad = append(bad, slices.Clone(k))
				return nil
			}
			ttl := min(time.Duration(r.TTL), s.cfg.TTL)
			l := &Lease{ID: string(k), Workload: r.Workload, TTL: ttl, Deadline: now.Add(ttl)}
			s.leases[l.ID] = l
			s.byKey[l.Workload.Key()] = l.ID
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("lease: load %s: %w", s.cfg.Path, err)
	}
	return nil
}

// Close closes the file.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// Grant is the TTL granted for one asked: TTL when asked is 0 or more.
func (s *Store) Grant(asked time.Duration) time.Duration {
	if asked <= 0 || asked > s.cfg.TTL {
		return s.cfg.TTL
	}
	return asked
}

// Register adds w, or renews the lease of the workload with w's key
// (taking w's new fields). ttl is asked for; see Grant.
func (s *Store) Register(w *Workload, ttl time.Duration) (Lease, error) {
	ttl = s.Grant(ttl)
	s.mu.Lock()
	id, existing := s.byKey[w.Key()]
	var old *Lease
	if existing {
		old = s.leases[id]
	} else {
		id = newID()
	}
	changed := old == nil || !old.Workload.equal(w) || old.TTL != ttl
	if changed {
		if err := s.put(id, w, ttl); err != nil {
			s.mu.Unlock()
			return Lease{}, err
		}
	}
	l := &Lease{ID: id, Workload: w, TTL: ttl, Deadline: s.cfg.Now().Add(ttl)}
	if !changed {
		l.Workload = old.Workload
	}
	s.leases[id], s.byKey[w.Key()] = l, id
	s.mu.Unlock()
	s.wake()
	if changed {
		s.gauge()
		s.cfg.OnChange()
	}
	return *l, nil
}

// Get returns the lease id.
func (s *Store) Get(id string) (Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[id]
	if !ok {
		return Lease{}, false
	}
	return *l, true
}

// Deregister removes lease id at once.
func (s *Store) Deregister(id string) (Lease, error) {
	s.mu.Lock()
	l, ok := s.leases[id]
	if !ok {
		s.mu.Unlock()
		return Lease{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := s.del([]string{id}); err != nil {
		s.mu.Unlock()
		return Lease{}, err
	}
	delete(s.leases, id)
	delete(s.byKey, l.Workload.Key())
	s.mu.Unlock()
	s.gauge()
	s.cfg.OnChange()
	return *l, nil
}

// Workloads returns every registered workload, sorted by key.
func (s *Store) Workloads() []*Workload {
	s.mu.Lock()
	out := make([]*Workload, 0, len(s.leases))
	for _, l := range s.leases {
		out = append(out, l.Workload)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Workload) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// Len is the number of leases held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leases)
}

// Run expires leases past their deadline until ctx is done.
func (s *Store) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.expire()
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(next.Sub(s.cfg.Now()))
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
		}
	}
}

// expire removes the leases past their deadline and returns the next
// deadline (zero when none is held).
func (s *Store) expire() time.Time {
	now := s.cfg.Now()
	s.mu.Lock()
	var gone []string
	var next time.Time
	for id, l := range s.leases {
		if !l.Deadline.After(now) {
			gone = append(gone, id)
			continue
		}
		if next.IsZero() || l.Deadline.Before(next) {
			next = l.Deadline
		}
	}
	if len(gone) > 0 {
		// A failed delete leaves the record for the next start, when the
		// lease gets a fresh window and expires again unless renewed.
		s.del(gone) //nolint:errcheck // see above
		for _, id := range gone {
			delete(s.byKey, s.leases[id].Workload.Key())
			delete(s.leases, id)
		}
	}
	s.mu.Unlock()
	if len(gone) > 0 {
		if s.cfg.Expiries != nil {
			s.cfg.Expiries.Add(float64(len(gone)))
		}
		s.gauge()
		s.cfg.OnChange()
	}
	return next
}

func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) gauge() {
	if s.cfg.Registrations != nil {
		s.cfg.Registrations.Set(float64(s.Len()))
	}
}

func (s *Store) put(id string, w *Workload, ttl time.Duration) error {
	if s.db == nil {
		return nil
	}
	v, err := json.Marshal(record{Workload: w, TTL: jsonDuration(ttl)})
	if err != nil {
		return fmt.Errorf("lease: encode: %w", err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), v) }); err != nil {
		return fmt.Errorf("lease: write %s: %w", s.cfg.Path, err)
	}
	return nil
}

func (s *Store) del(ids []string) error {
	if s.db == nil {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bucket).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("lease: write %s: %w", s.cfg.Path, err)
	}
	return nil
}

func newID() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
