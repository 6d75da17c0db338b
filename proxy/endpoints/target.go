package endpoints

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/balance"
	"github.com/meshlite/meshlite/proxy/discovery"
	"github.com/meshlite/meshlite/proxy/outlier"
	"github.com/meshlite/meshlite/proxy/pool"
	"github.com/meshlite/meshlite/proxy/resolve"
	"github.com/meshlite/meshlite/proxy/retry"
	"github.com/meshlite/meshlite/proxy/route"
)

// Target is what the proxy knows about one service it sends to.
type Target struct {
	r        *Resolver
	port     uint16
	ready    chan struct{} // closed once the first answer (or none) is in
	state    atomic.Pointer[state]
	lastUsed atomic.Int64 // unix nanoseconds
	budget   *retry.Budget

	mu     sync.Mutex // serialises apply
	groups map[string]*group
	table  *route.Table // last good
}

// state is an immutable snapshot used per request.
type state struct {
	name        string
	passthrough bool
	table       *route.Table
	groups      map[string]*group // by subset; "" is the whole service
	byKey       map[string]resolve.Endpoint
	members     map[string][]netip.AddrPort // by subset, as given to the balancers
}

// group balances over one subset (or the whole service).
type group struct {
	bal  balance.Balancer
	det  *outlier.Detector // nil without outlier detection
	pool *pool.Limiter
	sig  string // the traffic policy it was built for
}

func newTarget(r *Resolver, port uint16) *Target {
	return &Target{r: r, port: port, ready: make(chan struct{}), groups: map[string]*group{},
		budget: retry.NewBudget(retry.BudgetConfig{})}
}

func (t *Target) touch()                 { t.lastUsed.Store(time.Now().UnixNano()) }
func (t *Target) idleFor() time.Duration { return time.Since(time.Unix(0, t.lastUsed.Load())) }

// Name is the service's name ("name.namespace").
func (t *Target) Name() string { return t.state.Load().name }

// Routes is the service's route table (never nil; it may be empty).
func (t *Target) Routes() *route.Table { return t.state.Load().table }

// Budget limits the retries of requests to this service.
func (t *Target) Budget() *retry.Budget { return t.budget }

// Pick chooses an endpoint in subset ("" for the whole service). The
// endpoint's Finish must be called when its request or connection ends.
// A retry passes the addresses it already tried as avoid: Pick asks the
// balancer again (up to AvoidAttempts picks in all) while it picks one of
// them, as Envoy's previous-hosts retry predicate does (Istio's default).
// When the balancer keeps to them (peak EWMA prefers a replica that fails
// fast), Pick takes one of the subset's other endpoints at random,
// outside the balancer, rather than send the retry where it just failed.
func (t *Target) Pick(ctx context.Context, subset string, avoid ...netip.AddrPort) (resolve.Endpoint, error) {
	st := t.state.Load()
	g, ok := st.groups[subset]
	if !ok {
		return resolve.Endpoint{}, fmt.Errorf("%w: %s has no subset %q", ErrNoEndpoints, st.name, subset)
	}
	var pick balance.Pick
	for try := 1; ; try++ {
		var err error
		if pick, err = g.bal.Pick(ctx); err != nil {
			return resolve.Endpoint{}, fmt.Errorf("%w in %s%s", ErrNoEndpoints, st.name, subsetSuffix(subset))
		}
		if !slices.Contains(avoid, pick.Endpoint().Addr) {
			break
		}
		if try == AvoidAttempts {
			if other, ok := untried(st.members[subset], avoid); ok {
				pick.Done(balance.Result{Unused: true})
				pick = balance.NewPick(balance.Endpoint{Key: other.String(), Addr: other}, nil)
			}
			break
		}
		pick.Done(balance.Result{Unused: true})
	}
	key := pick.Endpoint().Key
	ep := st.byKey[key]
	det := g.det
	ep.Done = func(o resolve.Outcome) {
		res := balance.Result{Latency: o.Latency, Err: o.Err, Failure: o.Failure}
		pick.Done(res)
		if det != nil {
			det.Report(key, outlier.Result{Result: res, Status: o.Status})
		}
	}
	return ep, nil
}

// untried returns one of members not in tried, at random.
func untried(members, tried []netip.AddrPort) (netip.AddrPort, bool) {
	var left []netip.AddrPort
	for _, m := range members {
		if !slices.Contains(tried, m) {
			left = append(left, m)
		}
	}
	if len(left) == 0 {
		return netip.AddrPort{}, false
	}
	return left[rand.IntN(len(left))], true
}

// AvoidAttempts is how many picks Pick makes at most to avoid the
// endpoints a retry already tried (Istio's host_selection_retry_max_attempts).
const AvoidAttempts = 5

// Acquire takes a slot of subset's connection pool for one request or
// connection; pool.ErrOverflow (as *pool.OverflowError) when the limits
// are reached.
func (t *Target) Acquire(ctx context.Context, subset string, p pool.Proto) (func(), error) {
	g, ok := t.state.Load().groups[subset]
	if !ok {
		return func() {}, nil
	}
	return g.pool.Acquire(ctx, p)
}

func subsetSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " subset " + s
}

// apply brings t up to date with svc.
func (t *Target) apply(svc *discovery.Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if svc.NotFound() {
		t.state.Store(nil)
		return
	}
	pol := svc.Policy()
	if tbl, err := route.Compile(pol.Proto); err != nil {
		t.r.cfg.Log.Warn().Err(err).Str("service", svc.Name()).Msg("route table refused; keeping the last good one")
	} else {
		for _, w := range tbl.Warnings() {
			t.r.cfg.Log.Warn().Str("service", svc.Name()).Msg(w)
		}
		t.table = tbl
	}
	eps := svc.Endpoints()
	byKey := make(map[string]resolve.Endpoint, len(eps))
	for _, e := range eps {
		byKey[e.Addr.String()] = resolve.Endpoint{Addr: e.Addr, Identity: e.Identity, MeshPort: e.MeshPort}
	}
	subsets := []string{""}
	for _, s := range pol.Proto.GetSubsets() {
		subsets = append(subsets, s.GetName())
	}
	groups := make(map[string]*group, len(subsets))
	addrs := make(map[string][]netip.AddrPort, len(subsets))
	for _, name := range subsets {
		g := t.group(name, pol.Balancer)
		sub, _ := t.table.Subset(name)
		var members []balance.Endpoint
		for _, e := range eps {
			if name == "" || sub.Matches(e.Labels) {
				members = append(members, balance.Endpoint{Key: e.Addr.String(), Addr: e.Addr, Weight: e.Weight, Identity: e.Identity.String(), Labels: e.Labels})
				addrs[name] = append(addrs[name], e.Addr)
			}
		}
		g.bal.Update(members)
		groups[name] = g
	}
	removed := false
	if old := t.state.Load(); old != nil {
		for k := range old.byKey {
			if _, ok := byKey[k]; !ok {
				removed = true
				break
			}
		}
	}
	t.groups = groups
	t.state.Store(&state{name: svc.Name(), passthrough: pol.Balancer == discovery.BalancerPassthrough,
		table: t.table, groups: groups, byKey: byKey, members: addrs})
	if removed && t.r.cfg.Drain != nil {
		t.r.cfg.Drain()
	}
}

// group returns subset's group, rebuilt when its traffic policy changed
// (balancer state is kept otherwise).
func (t *Target) group(subset string, def discovery.Balancer) *group {
	tr := t.table.Traffic(t.port, subset)
	sig := signature(tr)
	if g, ok := t.groups[subset]; ok && g.sig == sig {
		return g
	}
	kind := balancerKind(tr.Balancer, def)
	bal, err := balance.New(kind, t.r.cfg.Balance)
	if err != nil {
		bal, _ = balance.New(balance.KindPeakEWMA, t.r.cfg.Balance)
	}
	g := &group{bal: bal, pool: pool.New(pool.FromProto(tr.ConnectionPool)), sig: sig}
	if cfg, ok := outlier.FromProto(tr.OutlierDetection); ok {
		g.det = outlier.New(bal, cfg)
		g.bal = g.det
	}
	return g
}

// balancerKind names the balancer for a policy's choice, falling back to
// the service's, then to peak EWMA.
func balancerKind(b destinationv1.Balancer, def discovery.Balancer) string {
	switch b {
	case destinationv1.Balancer_BALANCER_LEAST_REQUEST:
		return balance.KindLeastRequest
	case destinationv1.Balancer_BALANCER_ROUND_ROBIN:
		return balance.KindRoundRobin
	case destinationv1.Balancer_BALANCER_WEIGHTED_ROUND_ROBIN:
		return balance.KindWeightedRoundRobin
	case destinationv1.Balancer_BALANCER_RANDOM:
		return balance.KindRandom
	case destinationv1.Balancer_BALANCER_PEAK_EWMA:
		return balance.KindPeakEWMA
	}
	switch def {
	case discovery.BalancerDefault, discovery.BalancerPassthrough:
		return balance.KindPeakEWMA
	}
	return def.String()
}

// signature identifies a traffic policy, to rebuild a group only when it
// changes.
func signature(tr route.Traffic) string {
	od, _ := proto.Marshal(tr.OutlierDetection)
	cp, _ := proto.Marshal(tr.ConnectionPool)
	return fmt.Sprintf("%d|%x|%x", tr.Balancer, od, cp)
}
