package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// DefaultLeafLifetime is how long issued leaves are valid by default.
const DefaultLeafLifetime = 24 * time.Hour

// Config is what the service needs.
type Config struct {
	// TrustDomain is the only trust domain identities are issued in.
	TrustDomain spiffeid.TrustDomain
	// Authority returns the authority in force (ca.Reloader.Current).
	Authority func() *ca.Authority
	// Attestor checks tokens.
	Attestor attest.Attestor
	// Reserved are IDs never issued to callers: the service's own, so that
	// no workload can pose as the identity service to proxies.
	Reserved []spiffeid.ID
	// LeafLifetime is the lifetime of leaves; DefaultLeafLifetime when 0.
	LeafLifetime time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the source of serial numbers; crypto/rand when nil.
	Rand io.Reader
	// Log gets a line per issuance and per refusal.
	Log zerolog.Logger
	// Metrics, when not nil, are updated.
	Metrics *Metrics
}

// Service implements the Identity gRPC service.
type Service struct {
	identityv1.UnimplementedIdentityServer
	cfg Config
}

var _ identityv1.IdentityServer = (*Service)(nil)

// New returns the service.
func New(cfg Config) *Service {
	if cfg.LeafLifetime == 0 {
		cfg.LeafLifetime = DefaultLeafLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// refusal is a Certify error on its way to the caller.
type refusal struct {
	reason string
	code   codes.Code
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }

func refuse(reason string, code codes.Code, err error) *refusal {
	return &refusal{reason: reason, code: code, err: err}
}

// Certify implements identityv1.IdentityServer.
func (s *Service) Certify(ctx context.Context, req *identityv1.CertifyRequest) (*identityv1.CertifyResponse, error) {
	resp, issued, r := s.certify(ctx, req)
	ev := s.cfg.Log.With().Str("identity", req.GetIdentity()).Str("peer", peerAddr(ctx)).Logger()
	if r != nil {
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.Refused.WithLabelValues(r.reason).Inc()
		}
		ev.Warn().Str("reason", r.reason).Str("code", r.code.String()).Err(r.err).Msg("certificate refused")
		return nil, status.Error(r.code, r.err.Error())
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Issued.Inc()
	}
	ev.Info().Str("serial", issued.Leaf.SerialNumber.Text(16)).
		Time("not_after", issued.Leaf.NotAfter).
		Str("issuer_serial", issued.Intermediates[0].SerialNumber.Text(16)).
		Msg("certificate issued")
	return resp, nil
}

func (s *Service) certify(ctx context.Context, req *identityv1.CertifyRequest) (*identityv1.CertifyResponse, *ca.Issued, *refusal) {
	id, err := spiffeid.FromString(req.GetIdentity())
	if err != nil {
		return nil, nil, refuse(ReasonInvalidIdentity, codes.InvalidArgument, fmt.Errorf("identity %q: %w", req.GetIdentity(), err))
	}
	if err := spiffe.CheckWorkloadID(id, s.cfg.TrustDomain); err != nil {
		return nil, nil, refuse(ReasonInvalidIdentity, codes.InvalidArgument, fmt.Errorf("identity %q: %w", id, err))
	}
	if slices.Contains(s.cfg.Reserved, id) {
		return nil, nil, refuse(ReasonPermissionDenied, codes.PermissionDenied, fmt.Errorf("identity %q is reserved for the identity service", id))
	}
	if req.GetToken() == "" {
		return nil, nil, refuse(ReasonUnauthenticated, codes.Unauthenticated, errors.New("token: missing"))
	}
	csr, err := ca.ValidateCSR(req.GetCertificateSigningRequest(), id)
	if err != nil {
		return nil, nil, refuse(ReasonInvalidCSR, codes.InvalidArgument, err)
	}
	proven, err := s.cfg.Attestor.Attest(ctx, req.GetToken())
	switch {
	case errors.Is(err, attest.ErrUnavailable):
		return nil, nil, refuse(ReasonUnavailable, codes.Unavailable, err)
	case err != nil:
		return nil, nil, refuse(ReasonUnauthenticated, codes.Unauthenticated, err)
	case proven != id:
		return nil, nil, refuse(ReasonPermissionDenied, codes.PermissionDenied,
			fmt.Errorf("token proves %q, not the requested %q", proven, id))
	}
	auth := s.cfg.Authority()
	issued, err := auth.Sign(csr.PublicKey, id, ca.SignOptions{Now: s.cfg.Now(), Lifetime: s.cfg.LeafLifetime, Rand: s.cfg.Rand})
	switch {
	case errors.Is(err, ca.ErrIssuerUnavailable):
		return nil, nil, refuse(ReasonUnavailable, codes.Unavailable, err)
	case err != nil:
		return nil, nil, refuse(ReasonInternal, codes.Internal, err)
	}
	resp := &identityv1.CertifyResponse{
		LeafCertificate: issued.Leaf.Raw,
		ValidUntil:      timestamppb.New(issued.Leaf.NotAfter),
	}
	for _, c := range issued.Intermediates {
		resp.IntermediateCertificates = append(resp.IntermediateCertificates, c.Raw)
	}
	for _, c := range issued.Anchors {
		resp.TrustAnchors = append(resp.TrustAnchors, c.Raw)
	}
	return resp, issued, nil
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
