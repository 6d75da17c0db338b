package server

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Leases is where registrations go.
type Leases interface {
	Register(w *lease.Workload, ttl time.Duration) (lease.Lease, error)
	Get(id string) (lease.Lease, bool)
	Deregister(id string) (lease.Lease, error)
}

// Observer takes proxies' passive health observations.
type Observer interface {
	Observe(addr netip.AddrPort, healthy bool) bool
}

// MaxObservations bounds the observations of one ReportHealth call.
const MaxObservations = 1024

// Config configures a Server.
type Config struct {
	Source registry.Source
	// Leases takes registrations; nil answers Register and Deregister
	// with Unimplemented (the Kubernetes registry knows pods itself).
	Leases Leases
	// Health takes ReportHealth's observations; nil ignores them.
	Health Observer
	// TrustDomain is the mesh's: a registered identity must be
	// spiffe://<TrustDomain>/ns/<namespace>/sa/<service account>.
	TrustDomain spiffeid.TrustDomain
	// Authenticate is set when callers present SVIDs (mTLS): a workload
	// may then only register, and deregister, itself.
	Authenticate bool
	// ClusterDomain suffixes fully qualified service names.
	ClusterDomain string // cluster.local
	Log           zerolog.Logger
	// WatchesOpen, when set, is kept at the number of open watches.
	WatchesOpen prometheus.Gauge
}

// Server implements destinationv1.DestinationServer.
type Server struct {
	destinationv1.UnimplementedDestinationServer
	cfg      Config
	closing  chan struct{}
	shutdown sync.Once
}

var _ destinationv1.DestinationServer = (*Server)(nil)

// New returns a server.
func New(cfg Config) *Server {
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = registry.DefaultClusterDomain
	}
	return &Server{cfg: cfg, closing: make(chan struct{})}
}

// Shutdown ends every open watch with Unavailable, so that a graceful
// stop of the gRPC server need not wait for them; proxies reconnect.
func (s *Server) Shutdown() { s.shutdown.Do(func() { close(s.closing) }) }

var errNoRegistrations = status.Error(codes.Unimplemented, "destination: this registry does not take registrations (the Kubernetes registry learns pods from the API)")

// Register implements destinationv1.DestinationServer.
func (s *Server) Register(ctx context.Context, req *destinationv1.RegisterRequest) (*destinationv1.RegisterResponse, error) {
	if s.cfg.Leases == nil {
		return nil, errNoRegistrations
	}
	w, err := workloadFromProto(req.GetWorkload(), s.cfg.TrustDomain)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.authorize(ctx, w.Identity); err != nil {
		s.cfg.Log.Warn().Err(err).Str("workload", w.Key()).Msg("registration refused")
		return nil, err
	}
	l, err := s.cfg.Leases.Register(w, req.GetTtl().AsDuration())
	if err != nil {
		s.cfg.Log.Error().Err(err).Str("workload", w.Key()).Msg("registration failed")
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	s.cfg.Log.Debug().Str("workload", w.Key()).Str("lease", l.ID).Dur("ttl", l.TTL).Msg("registered")
	return &destinationv1.RegisterResponse{LeaseId: l.ID, Ttl: durationpb.New(l.TTL)}, nil
}

// Deregister implements destinationv1.DestinationServer.
func (s *Server) Deregister(ctx context.Context, req *destinationv1.DeregisterRequest) (*destinationv1.DeregisterResponse, error) {
	if s.cfg.Leases == nil {
		return nil, errNoRegistrations
	}
	l, ok := s.cfg.Leases.Get(req.GetLeaseId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "destination: no lease %q", req.GetLeaseId())
	}
	if err := s.authorize(ctx, l.Workload.Identity); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Leases.Deregister(l.ID); err != nil {
		if errors.Is(err, lease.ErrNotFound) {
			return nil, status.Error(codes.NotFound, err.Error())
		}
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	s.cfg.Log.Info().Str("workload", l.Workload.Key()).Str("lease", l.ID).Msg("deregistered")
	return &destinationv1.DeregisterResponse{}, nil
}

// ReportHealth implements destinationv1.DestinationServer.
func (s *Server) ReportHealth(_ context.Context, req *destinationv1.HealthReport) (*destinationv1.HealthReportResponse, error) {
	obs := req.GetObservations()
	if len(obs) > MaxObservations {
		return nil, status.Errorf(codes.InvalidArgument, "destination: %d observations, at most %d per report", len(obs), MaxObservations)
	}
	addrs := make([]netip.AddrPort, len(obs))
	for i, o := range obs {
		a, err := netip.ParseAddrPort(o.GetAddress())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "destination: observation %d: address %q is not IP:port", i, o.GetAddress())
		}
		addrs[i] = a
	}
	if s.cfg.Health == nil {
		return &destinationv1.HealthReportResponse{}, nil
	}
	for i, o := range obs {
		if s.cfg.Health.Observe(addrs[i], o.GetHealthy()) {
			s.cfg.Log.Info().Str("endpoint", addrs[i].String()).Bool("healthy", o.GetHealthy()).Str("reason", o.GetReason()).
				Msg("passive health changed")
		}
	}
	return &destinationv1.HealthReportResponse{}, nil
}

// authorize lets the call through when callers are not authenticated, or
// when the caller's SPIFFE ID is identity.
func (s *Server) authorize(ctx context.Context, identity string) error {
	if !s.cfg.Authenticate {
		return nil
	}
	caller, err := CallerID(ctx)
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	if identity == "" || caller.String() != identity {
		return status.Errorf(codes.PermissionDenied, "destination: caller %s may only register or deregister a workload with its own identity (got %q)", caller, identity)
	}
	return nil
}

// CallerID returns the SPIFFE ID of the mTLS client of a call.
func CallerID(ctx context.Context) (spiffeid.ID, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return spiffeid.ID{}, errors.New("destination: no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return spiffeid.ID{}, errors.New("destination: caller presented no certificate")
	}
	id, err := x509svid.IDFromCert(info.State.PeerCertificates[0])
	if err != nil {
		return spiffeid.ID{}, errors.New("destination: caller's certificate has no SPIFFE ID")
	}
	return id, nil
}
