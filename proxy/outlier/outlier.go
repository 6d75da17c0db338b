package outlier

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/balance"
)

// Defaults (Istio's and Envoy's).
const (
	DefaultConsecutive5xx     = 5
	DefaultInterval           = 10 * time.Second
	DefaultBaseEjectionTime   = 30 * time.Second
	DefaultMaxEjectionTime    = 300 * time.Second
	DefaultMaxEjectionPercent = 10
)

// Config configures a Detector. Thresholds of 0 are off; the zero values
// of durations and percentage take the defaults.
type Config struct {
	// Consecutive5xx ejects after this many 5xx (gateway errors included)
	// in a row; 0: off.
	Consecutive5xx int
	// ConsecutiveGatewayErrors ejects after this many 502, 503, 504 or
	// connection failures in a row; 0: off.
	ConsecutiveGatewayErrors int
	// Interval between sweeps that bring endpoints back. Default: 10s.
	Interval time.Duration
	// BaseEjectionTime is the first ejection's length, multiplied by the
	// number of ejections. Default: 30s.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps an ejection. Default: 300s (at least
	// BaseEjectionTime).
	MaxEjectionTime time.Duration
	// MaxEjectionPercent of the endpoints may be ejected at once.
	// Default (0): 10; above 100: 100.
	MaxEjectionPercent int
	// AlwaysEjectOne allows one ejection even when it exceeds
	// MaxEjectionPercent (Envoy's always_eject_one_host). Default: false.
	AlwaysEjectOne bool
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
}

// FromProto reads the proto's OutlierDetection with Istio's defaults; ok
// is false when od is nil (no outlier detection). The proto cannot tell
// an unset threshold from 0: when both are 0, Consecutive5xx is 5, as
// Istio's default.
func FromProto(od *destinationv1.OutlierDetection) (cfg Config, ok bool) {
	if od == nil {
		return Config{}, false
	}
	cfg = Config{
		Consecutive5xx:           int(min(od.GetConsecutive_5XxErrors(), math.MaxInt32)),
		ConsecutiveGatewayErrors: int(min(od.GetConsecutiveGatewayErrors(), math.MaxInt32)),
		Interval:                 od.GetInterval().AsDuration(),
		BaseEjectionTime:         od.GetBaseEjectionTime().AsDuration(),
		MaxEjectionPercent:       int(min(od.GetMaxEjectionPercent(), 100)),
	}
	if cfg.Consecutive5xx == 0 && cfg.ConsecutiveGatewayErrors == 0 {
		cfg.Consecutive5xx = DefaultConsecutive5xx
	}
	return cfg, true
}

// Result is how a request to an endpoint ended, for outlier detection.
type Result struct {
	balance.Result
	// Status is the response's HTTP status; 0 when there was none.
	Status int
}

// Detector is a balance.Balancer that hides ejected endpoints from the
// balancer it wraps. It is safe for concurrent use; Pick and Report take
// no lock unless an endpoint changes state or a sweep is due.
type Detector struct {
	inner balance.Balancer
	cfg   Config
	epoch time.Time

	mu        sync.Mutex // guards records' ejection state and inner.Update
	set       atomic.Pointer[epSet]
	ejected   int          // guarded by mu
	nextSweep atomic.Int64 // ns since epoch; never when nothing to sweep
}

var _ balance.Balancer = (*Detector)(nil)

const never = math.MaxInt64

type epSet struct {
	recs  []*record
	byKey map[string]*record
}

type record struct {
	ep    balance.Endpoint
	c5xx  atomic.Int32
	cgw   atomic.Int32
	state atomic.Bool // ejected, for lock-free reads

	// Guarded by Detector.mu.
	until int64 // ns since epoch when the ejection ends
	times int   // ejection multiplier
	gone  bool
}

// New wraps inner with outlier detection configured by cfg. inner must
// be given endpoints only through the Detector's Update.
func New(inner balance.Balancer, cfg Config) *Detector {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BaseEjectionTime <= 0 {
		cfg.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if cfg.MaxEjectionTime <= 0 {
		cfg.MaxEjectionTime = DefaultMaxEjectionTime
	}
	cfg.MaxEjectionTime = max(cfg.MaxEjectionTime, cfg.BaseEjectionTime)
	switch {
	case cfg.MaxEjectionPercent <= 0:
		cfg.MaxEjectionPercent = DefaultMaxEjectionPercent
	case cfg.MaxEjectionPercent > 100:
		cfg.MaxEjectionPercent = 100
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	d := &Detector{inner: inner, cfg: cfg}
	d.epoch = cfg.Clock()
	d.nextSweep.Store(never)
	d.set.Store(&epSet{})
	return d
}

func (d *Detector) now() int64 { return int64(d.cfg.Clock().Sub(d.epoch)) }

// Pick picks with the wrapped balancer among the endpoints not ejected
// (all of them when every one is), after a sweep if one is due.
func (d *Detector) Pick(ctx context.Context) (balance.Pick, error) {
	d.maybeSweep()
	return d.inner.Pick(ctx)
}

// Update replaces the endpoint set; endpoints that stay (same Key, Addr
// as the key when empty) keep their counts and ejection.
func (d *Detector) Update(eps []balance.Endpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.set.Load()
	ns := &epSet{byKey: make(map[string]*record, len(eps))}
	for _, ep := range eps {
		if ep.Key == "" {
			ep.Key = ep.Addr.String()
		}
		if _, dup := ns.byKey[ep.Key]; dup {
			continue
		}
		r, ok := old.byKey[ep.Key]
		if ok {
			r.ep = ep
		} else {
			r = &record{ep: ep}
		}
		ns.recs = append(ns.recs, r)
		ns.byKey[ep.Key] = r
	}
	for _, r := range old.recs {
		if ns.byKey[r.ep.Key] == r {
			continue
		}
		r.gone = true
		if r.state.Load() {
			d.ejected--
		}
	}
	d.set.Store(ns)
	d.sync()
}

// Report tells the detector how a request to the endpoint with key ended.
// Reports for unknown endpoints are ignored.
func (d *Detector) Report(key string, res Result) {
	r := d.set.Load().byKey[key]
	if r == nil {
		return
	}
	d.maybeSweep()
	gateway, fivexx := classify(res)
	switch {
	case gateway:
		n5, ng := r.c5xx.Add(1), r.cgw.Add(1)
		if d.trips(n5, d.cfg.Consecutive5xx) || d.trips(ng, d.cfg.ConsecutiveGatewayErrors) {
			d.eject(r)
		}
	case fivexx:
		r.cgw.Store(0)
		if d.trips(r.c5xx.Add(1), d.cfg.Consecutive5xx) {
			d.eject(r)
		}
	default:
		if r.c5xx.Load() != 0 {
			r.c5xx.Store(0)
		}
		if r.cgw.Load() != 0 {
			r.cgw.Store(0)
		}
	}
}

// classify tells whether res is a gateway error (and so a 5xx too) or
// another 5xx.
func classify(res Result) (gateway, fivexx bool) {
	switch {
	case res.Err != nil, res.Status == 502, res.Status == 503, res.Status == 504:
		return true, true
	case res.Status >= 500 && res.Status <= 599:
		return false, true
	case res.Status == 0 && res.Failure:
		return false, true
	}
	return false, false
}

func (d *Detector) trips(n int32, threshold int) bool { return threshold > 0 && int(n) >= threshold }

// eject takes r out of the set if the ejection percentage allows it.
func (d *Detector) eject(r *record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.c5xx.Store(0)
	r.cgw.Store(0)
	if r.gone || r.state.Load() {
		return
	}
	n := len(d.set.Load().recs)
	within := 100*(d.ejected+1) <= d.cfg.MaxEjectionPercent*n
	if !within && !(d.cfg.AlwaysEjectOne && d.ejected == 0) {
		return
	}
	r.times++
	length := min(time.Duration(r.times)*d.cfg.BaseEjectionTime, d.cfg.MaxEjectionTime)
	r.until = d.now() + int64(length)
	r.state.Store(true)
	d.ejected++
	d.sync()
}

func (d *Detector) maybeSweep() {
	if due := d.nextSweep.Load(); due != never && d.now() >= due {
		d.sweep()
	}
}

// sweep brings back endpoints whose ejection is over and forgives one
// ejection of each endpoint in the set per interval elapsed.
func (d *Detector) sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	due := d.nextSweep.Load()
	if due == never || now < due {
		return
	}
	intervals := int((now-due)/int64(d.cfg.Interval)) + 1
	changed := false
	for _, r := range d.set.Load().recs {
		switch {
		case r.state.Load() && now >= r.until:
			r.state.Store(false)
			r.c5xx.Store(0)
			r.cgw.Store(0)
			d.ejected--
			changed = true
		case !r.state.Load() && r.times > 0:
			r.times = max(0, r.times-intervals)
		}
	}
	if changed {
		d.sync()
	} else {
		d.schedule(now)
	}
}

// sync gives the wrapped balancer the endpoints not ejected (all when
// every one is) and schedules the next sweep. Called with d.mu held.
func (d *Detector) sync() {
	set := d.set.Load()
	eps := make([]balance.Endpoint, 0, len(set.recs))
	for _, r := range set.recs {
		if !r.state.Load() {
			eps = append(eps, r.ep)
		}
	}
	if len(eps) == 0 {
		for _, r := range set.recs {
			eps = append(eps, r.ep)
		}
	}
	d.inner.Update(eps)
	d.schedule(d.now())
}

// schedule sets the next sweep an Interval from now when there is
// anything to sweep. Called with d.mu held.
func (d *Detector) schedule(now int64) {
	for _, r := range d.set.Load().recs {
		if r.state.Load() || r.times > 0 {
			d.nextSweep.Store(now + int64(d.cfg.Interval))
			return
		}
	}
	d.nextSweep.Store(never)
}

// Ejected lists the keys of the endpoints ejected now, for metrics and
// the admin page.
func (d *Detector) Ejected() []string {
	d.maybeSweep()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, r := range d.set.Load().recs {
		if r.state.Load() {
			out = append(out, r.ep.Key)
		}
	}
	slices.Sort(out)
	return out
}
