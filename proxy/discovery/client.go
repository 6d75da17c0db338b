package discovery

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/proxy/mtls"
)

// Defaults for Config.
const (
	DefaultFirstAnswer = 500 * time.Millisecond
	DefaultIdleTimeout = 60 * time.Second
	DefaultRetryMin    = 100 * time.Millisecond
	DefaultRetryMax    = 5 * time.Second
)

// DefaultServerID is the destination service's SPIFFE ID in trust domain
// td: spiffe://<td>/ns/meshlite/sa/destination.
func DefaultServerID(td spiffeid.TrustDomain) spiffeid.ID {
	id, err := spiffe.WorkloadID(td, "meshlite", "destination")
	if err != nil {
		return spiffeid.ID{}
	}
	return id
}

// Config configures a Client; the comment gives the default.
type Config struct {
	// Addr is the destination service's host:port.
	Addr string // required
	// Source is this proxy's identity: the destination service is
	// reached over mutual TLS with it, and must present ServerID.
	Source   mtls.Source
	ServerID spiffeid.ID
	// Insecure reaches the destination service in plaintext, without
	// Source (tests and demos only).
	Insecure bool // false
	// Namespace is this proxy's namespace: short names resolve in it.
	Namespace string // "": the service's default
	// FirstAnswer bounds how long Resolve waits for a new target's first
	// answer before reporting it NotFound.
	FirstAnswer time.Duration // DefaultFirstAnswer
	// IdleTimeout closes a watch that no handle has held for this long.
	IdleTimeout time.Duration // DefaultIdleTimeout
	// RetryMin and RetryMax bound the backoff between reconnections.
	RetryMin time.Duration // DefaultRetryMin
	RetryMax time.Duration // DefaultRetryMax
	// Dialer, when set, opens the connection to the destination service.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	Log    zerolog.Logger
}

// Client talks to the destination service; it is safe for concurrent
// use.
type Client struct {
	cfg  Config
	conn *grpc.ClientConn
	api  destinationv1.DestinationClient
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	watches map[string]*watch
	closed  bool
}

// New checks cfg and prepares the connection; it does not connect yet.
func New(cfg Config) (*Client, error) {
	if cfg.FirstAnswer <= 0 {
		cfg.FirstAnswer = DefaultFirstAnswer
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(DefaultRetryMax, cfg.RetryMin)
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("%w: destination address %q: %w", errConfig, cfg.Addr, err)
	}
	var creds credentials.TransportCredentials
	switch {
	case cfg.Insecure:
		creds = insecure.NewCredentials()
	case cfg.Source == nil:
		return nil, fmt.Errorf("%w: an identity source is required (or Insecure)", errConfig)
	case cfg.ServerID.IsZero():
		return nil, fmt.Errorf("%w: the destination service's SPIFFE ID is required", errConfig)
	default:
		tc := tlsconfig.MTLSClientConfig(cfg.Source, cfg.Source, tlsconfig.AuthorizeID(cfg.ServerID))
		tc.MinVersion = tls.VersionTLS13
		creds = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: cfg.RetryMin, Multiplier: 1.6, Jitter: 0.2, MaxDelay: cfg.RetryMax},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	}
	if cfg.Dialer != nil {
		opts = append(opts, grpc.WithContextDialer(cfg.Dialer))
	}
	conn, err := grpc.NewClient(cfg.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Client{cfg: cfg, conn: conn, api: destinationv1.NewDestinationClient(conn), ctx: ctx, stop: stop,
		watches: map[string]*watch{}}, nil
}

// Close ends every watch and the connection. Handles keep their last
// endpoints.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, w := range c.watches {
		if w.idle != nil {
			w.idle.Stop()
		}
	}
	c.watches = map[string]*watch{}
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
	return c.conn.Close()
}

// Resolve returns a handle on what the destination service says about
// target, an original destination. It waits for the first answer at most
// Config.FirstAnswer, less when the service is unreachable; without an
// answer the handle reports NotFound (forward to target as is) until one
// arrives. The error is ctx's, or ErrClosed. Release the handle when done.
func (c *Client) Resolve(ctx context.Context, target netip.AddrPort) (*Service, error) {
	return c.ResolveName(ctx, netip.AddrPortFrom(target.Addr().Unmap(), target.Port()).String())
}

// ResolveName is Resolve for a target given as a string: "IP:port",
// "name:port", "name.namespace:port" or a fully qualified
// "name.namespace.svc.cluster.local:port".
func (c *Client) ResolveName(ctx context.Context, target string) (*Service, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	w := c.watches[target]
	if w == nil {
		w = newWatch(c, target)
		c.watches[target] = w
		c.wg.Go(w.run)
	}
	w.refs++
	if w.idle != nil {
		w.idle.Stop()
		w.idle = nil
	}
	c.mu.Unlock()
	s := &Service{w: w}
	if w.state.Load().known {
		return s, nil
	}
	t := time.NewTimer(c.cfg.FirstAnswer)
	defer t.Stop()
	select {
	case <-w.settled:
	case <-t.C:
	case <-ctx.Done():
		s.Release()
		return nil, ctx.Err()
	}
	return s, nil
}

// Watches is the number of targets watched (each one stream).
func (c *Client) Watches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watches)
}

// release drops one handle on w, and closes w after IdleTimeout when it
// was the last.
func (c *Client) release(w *watch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.refs--
	if w.refs > 0 || c.closed || c.watches[w.target] != w {
		return
	}
	w.idle = time.AfterFunc(c.cfg.IdleTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if w.refs == 0 && c.watches[w.target] == w {
			delete(c.watches, w.target)
			w.cancel()
		}
	})
}

// backoff is the wait before reconnection attempt n (1, 2, ...): capped
// exponential with ±20 % jitter.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.RetryMin
	for i := 1; i < n && d < c.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
