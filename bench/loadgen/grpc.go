package loadgen

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Invoker makes one unary call on cc and reports its error.
type Invoker func(ctx context.Context, cc *grpc.ClientConn) error

// HealthCheck returns an Invoker calling grpc.health.v1.Health/Check for
// service ("" is the whole server), which any server with the health service
// registered answers. A status other than SERVING is ErrNotServing.
func HealthCheck(service string) Invoker {
	req := &healthpb.HealthCheckRequest{Service: service}
	return func(ctx context.Context, cc *grpc.ClientConn) error {
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, req)
		if err != nil {
			return err
		}
		if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("%w: %v", ErrNotServing, s)
		}
		return nil
	}
}

// GRPCConfig configures a gRPC unary target.
type GRPCConfig struct {
	// Addr is the server's host:port. Required.
	Addr string
	// Conns is the number of ClientConns, each one HTTP/2 connection.
	// Default 1.
	Conns int
	// Streams is how many calls one connection carries at once. Default 1.
	Streams int
	// Invoke makes the call. Default: HealthCheck("").
	Invoke Invoker
	// DialOptions are added after insecure transport credentials.
	// Default: none.
	DialOptions []grpc.DialOption
	// DialTimeout bounds connecting each ClientConn. Default 5s.
	DialTimeout time.Duration
}

// GRPC is a gRPC unary target over insecure (plaintext) ClientConns. Call
// errors are classified by status code, e.g. "grpc Unavailable".
type GRPC struct {
	cfg   GRPCConfig
	conns []*grpc.ClientConn
}

var _ Target = (*GRPC)(nil)

// NewGRPC opens cfg.Conns ClientConns to cfg.Addr and waits until each is
// ready.
func NewGRPC(ctx context.Context, cfg GRPCConfig) (*GRPC, error) {
	cfg.Conns, cfg.Streams = max(cfg.Conns, 1), max(cfg.Streams, 1)
	if cfg.Addr == "" {
		return nil, fmt.Errorf("%w: grpc: empty address", ErrConfig)
	}
	if cfg.Invoke == nil {
		cfg.Invoke = HealthCheck("")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, cfg.DialOptions...)
	t := &GRPC{cfg: cfg}
	for range cfg.Conns {
		cc, err := grpc.NewClient("passthrough:///"+cfg.Addr, opts...)
		if err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("%w: grpc: %w", ErrConfig, err)
		}
		t.conns = append(t.conns, cc)
		if err := awaitReady(ctx, cc, cfg.DialTimeout); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("loadgen: grpc: connect %s: %w", cfg.Addr, err)
		}
	}
	return t, nil
}

// awaitReady connects cc and waits until it is ready or fails.
func awaitReady(ctx context.Context, cc *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc.Connect()
	for {
		s := cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return fmt.Errorf("connection state %v", s)
		}
		if !cc.WaitForStateChange(ctx, s) {
			return ctx.Err()
		}
	}
}

// String describes the target.
func (t *GRPC) String() string { return "grpc " + t.cfg.Addr }

// Capacity returns (Conns, Streams).
func (t *GRPC) Capacity() (conns, streams int) { return t.cfg.Conns, t.cfg.Streams }

// Do makes one call on ClientConn conn.
func (t *GRPC) Do(ctx context.Context, conn int) error {
	if err := t.cfg.Invoke(ctx, t.conns[conn]); err != nil {
		if s, ok := status.FromError(err); ok {
			return &grpcError{code: s.Code().String(), err: err}
		}
		return fmt.Errorf("loadgen: grpc: %w", err)
	}
	return nil
}

// Close closes every ClientConn.
func (t *GRPC) Close() error {
	var first error
	for _, cc := range t.conns {
		if err := cc.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// grpcError is a call that failed with a gRPC status.
type grpcError struct {
	code string
	err  error
}

func (e *grpcError) Error() string { return "loadgen: grpc: " + e.err.Error() }
func (e *grpcError) Unwrap() error { return e.err }
func (e *grpcError) Kind() string  { return "grpc " + e.code }
