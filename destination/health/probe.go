package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Kind is the kind of active check.
type Kind uint8

// The kinds of active check.
const (
	KindHTTP Kind = iota + 1
	KindTCP
	KindGRPC
)

func (k Kind) String() string {
	switch k {
	case KindHTTP:
		return "http"
	case KindTCP:
		return "tcp"
	case KindGRPC:
		return "grpc"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Spec is one active check. It is comparable: a Monitor restarts a
// target's prober only when its Spec changes.
type Spec struct {
	Kind Kind
	// Path is the HTTP request path.
	Path string // "/"
	// ExpectedStatus is the HTTP status that passes; 0 means any 2xx.
	ExpectedStatus int // 0
	// GRPCService is the service name asked about with grpc.health.v1;
	// "" asks about the server as a whole.
	GRPCService string // ""
	// Interval between checks of one target.
	Interval time.Duration // 10s
	// Timeout bounds one check.
	Timeout time.Duration // 1s
	// HealthyThreshold consecutive passes make an unhealthy target
	// healthy again.
	HealthyThreshold int // 2
	// UnhealthyThreshold consecutive failures make a healthy target
	// unhealthy.
	UnhealthyThreshold int // 3
}

// Defaults for the Spec fields.
const (
	DefaultInterval           = 10 * time.Second
	DefaultTimeout            = time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
)

// WithDefaults fills the zero fields of s with their defaults.
func (s Spec) WithDefaults() Spec {
	if s.Kind == KindHTTP && s.Path == "" {
		s.Path = "/"
	}
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.HealthyThreshold <= 0 {
		s.HealthyThreshold = DefaultHealthyThreshold
	}
	if s.UnhealthyThreshold <= 0 {
		s.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return s
}

// ErrCheckFailed is wrapped by every failed check.
var ErrCheckFailed = errors.New("health: check failed")

// Probe runs one check of spec against addr within spec.Timeout and
// returns nil when it passes.
func Probe(ctx context.Context, spec Spec, addr netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, spec.WithDefaults().Timeout)
	defer cancel()
	var err error
	switch spec.Kind {
	case KindHTTP:
		err = probeHTTP(ctx, spec, addr)
	case KindTCP:
		err = probeTCP(ctx, addr)
	case KindGRPC:
		err = probeGRPC(ctx, spec, addr)
	default:
		err = fmt.Errorf("unknown check kind %v", spec.Kind)
	}
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrCheckFailed, spec.Kind, addr, err)
	}
	return nil
}

// noKeepAlive sends each HTTP check on its own connection: a check is
// about whether the workload accepts and serves now.
var noKeepAlive = &http.Transport{DisableKeepAlives: true, Proxy: nil}

func probeHTTP(ctx context.Context, spec Spec, addr netip.AddrPort) error {
	path := spec.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "meshlite-destination-health")
	resp, err := noKeepAlive.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) //nolint:errcheck // drained for politeness only
	resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if spec.ExpectedStatus != 0 {
		ok = resp.StatusCode == spec.ExpectedStatus
	}
	if !ok {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func probeTCP(ctx context.Context, addr netip.AddrPort) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	return c.Close()
}

func probeGRPC(ctx context.Context, spec Spec, addr netip.AddrPort) error {
	cc, err := grpc.NewClient("passthrough:///"+addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: spec.GRPCService})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc health status %s", s)
	}
	return nil
}
