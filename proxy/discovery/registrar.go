package discovery

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Workload is what a proxy registers about the workload it fronts.
type Workload struct {
	Name, Namespace, ServiceAccount string
	Labels                          map[string]string
	// Addr is the workload's IP, where other proxies reach it.
	Addr netip.Addr
	// Ports the workload serves, and names for some of them (so a
	// service's named targetPort resolves).
	Ports     []uint16
	PortNames map[string]uint16
	// Identity is the SPIFFE ID this proxy presents; zero means the
	// client's Source's current SVID, or unmeshed without a Source.
	Identity spiffeid.ID
	// MeshPort is this proxy's inbound port.
	MeshPort uint16 // 4143 when meshed
	// Weight of the workload's endpoints for weighted balancing.
	Weight uint32 // 0: 1
}

// RegistrarConfig configures a Registrar; the comment gives the default.
type RegistrarConfig struct {
	// TTL asked for; the service may grant less. Renewals happen at a
	// third of the granted TTL.
	TTL time.Duration // 15s
	// DeregisterTimeout bounds the deregistration on stop.
	DeregisterTimeout time.Duration // 2s
}

// Registrar keeps a workload registered.
type Registrar struct {
	c   *Client
	w   Workload
	cfg RegistrarConfig

	mu      sync.Mutex
	leaseID string
}

// Registrar returns a registrar for w; Run it.
func (c *Client) Registrar(w Workload, cfg RegistrarConfig) *Registrar {
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Second
	}
	if cfg.DeregisterTimeout <= 0 {
		cfg.DeregisterTimeout = 2 * time.Second
	}
	return &Registrar{c: c, w: w, cfg: cfg}
}

// LeaseID is the current lease, "" before the first registration.
func (r *Registrar) LeaseID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leaseID
}

// Run registers the workload, renews the lease until ctx is done, then
// deregisters it (within DeregisterTimeout) and returns nil. Failures are
// logged and retried with backoff, never returned: the workload serves
// whether or not the registry knows it yet.
func (r *Registrar) Run(ctx context.Context) error {
	log := r.c.cfg.Log.With().Str("workload", r.w.Namespace+"/"+r.w.Name).Logger()
	timer := time.NewTimer(0)
	defer timer.Stop()
	attempt := 0
	interval := r.cfg.TTL / 3
	for {
		select {
		case <-ctx.Done():
			r.deregister()
			return nil
		case <-timer.C:
		}
		resp, err := r.register(ctx, interval)
		switch {
		case err != nil && ctx.Err() != nil:
			continue // stopping
		case err != nil:
			attempt++
			wait := min(r.c.backoff(attempt), interval)
			if status.Code(err) == codes.Unimplemented {
				wait = interval
			}
			ev := log.Warn()
			if attempt > 1 {
				ev = log.Debug()
			}
			ev.Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("registration failed")
			timer.Reset(wait)
		default:
			ttl := resp.GetTtl().AsDuration()
			if ttl <= 0 {
				ttl = r.cfg.TTL
			}
			interval = ttl / 3
			r.mu.Lock()
			changed := r.leaseID != resp.GetLeaseId()
			r.leaseID = resp.GetLeaseId()
			r.mu.Unlock()
			if changed || attempt > 0 {
				log.Info().Str("lease", resp.GetLeaseId()).Dur("ttl", ttl).Msg("registered with the destination service")
			}
			attempt = 0
			timer.Reset(interval)
		}
	}
}

func (r *Registrar) register(ctx context.Context, timeout time.Duration) (*destinationv1.RegisterResponse, error) {
	w, err := r.proto()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, max(timeout, time.Second))
	defer cancel()
	return r.c.api.Register(ctx, &destinationv1.RegisterRequest{Workload: w, Ttl: durationpb.New(r.cfg.TTL)})
}

func (r *Registrar) proto() (*destinationv1.Workload, error) {
	id := r.w.Identity
	if id.IsZero() && r.c.cfg.Source != nil {
		svid, err := r.c.cfg.Source.GetX509SVID()
		if err != nil {
			return nil, errors.New("discovery: no SVID yet to register with")
		}
		id = svid.ID
	}
	p := &destinationv1.Workload{
		Name: r.w.Name, Namespace: r.w.Namespace, ServiceAccount: r.w.ServiceAccount, Labels: r.w.Labels,
		Address: r.w.Addr.String(), MeshPort: uint32(r.w.MeshPort), Weight: r.w.Weight,
	}
	for _, port := range r.w.Ports {
		p.Ports = append(p.Ports, uint32(port))
	}
	if len(r.w.PortNames) > 0 {
		p.PortNames = map[string]uint32{}
		for n, port := range r.w.PortNames {
			p.PortNames[n] = uint32(port)
		}
	}
	if !id.IsZero() {
		p.Identity = id.String()
		if p.MeshPort == 0 {
			p.MeshPort = 4143
		}
	}
	return p, nil
}

// deregister removes the lease, if any, within DeregisterTimeout.
func (r *Registrar) deregister() {
	id := r.LeaseID()
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DeregisterTimeout)
	defer cancel()
	log := r.c.cfg.Log.With().Str("workload", r.w.Namespace+"/"+r.w.Name).Str("lease", id).Logger()
	if _, err := r.c.api.Deregister(ctx, &destinationv1.DeregisterRequest{LeaseId: id}); err != nil {
		log.Warn().Err(err).Msg("deregistration failed; the lease will expire")
		return
	}
	r.mu.Lock()
	r.leaseID = ""
	r.mu.Unlock()
	log.Info().Msg("deregistered from the destination service")
}

// Observation is a proxy's passive view of an endpoint.
type Observation struct {
	Addr    netip.AddrPort
	Healthy bool
	Reason  string
}

// ReportHealth sends observations to the destination service, which
// takes endpoints reported failing out of every proxy's sets for a while.
func (c *Client) ReportHealth(ctx context.Context, obs []Observation) error {
	req := &destinationv1.HealthReport{}
	for _, o := range obs {
		req.Observations = append(req.Observations, &destinationv1.HealthReport_Observation{
			Address: o.Addr.String(), Healthy: o.Healthy, Reason: o.Reason})
	}
	_, err := c.api.ReportHealth(ctx, req)
	return err
}
