package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshlite/meshlite/destination/embedded"
	"github.com/meshlite/meshlite/destination/health"
	"github.com/meshlite/meshlite/destination/kube"
	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/registry"
	"github.com/meshlite/meshlite/destination/server"
	"github.com/meshlite/meshlite/destination/translate"
	"github.com/meshlite/meshlite/internal/admin"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/identity"
)

// ErrConfig is wrapped by New's errors about the configuration (a
// directory, file or kubeconfig it cannot use), as opposed to the
// environment (a port in use).
var ErrConfig = errors.New("destination: configuration")

// maxRecvMsgSize bounds a request: a registration or a health report.
const maxRecvMsgSize = 1 << 20

// Options are what a caller may inject; the zero value is production.
type Options struct {
	// Log receives the JSON log; os.Stdout when nil.
	Log io.Writer
}

// backend is a registry the service serves from.
type backend interface {
	registry.Source
	Ready() bool
}

// App is a configured destination service, listening once New returns.
type App struct {
	cfg     Config
	log     zerolog.Logger
	level   *logging.Level
	reg     *prometheus.Registry
	metrics *metrics

	backend  backend
	embedded *embedded.Registry // when the registry is embedded
	kube     *kube.Registry     // when it is Kubernetes
	passive  *health.Passive
	server   *server.Server
	identity *identity.Client // nil with --insecure

	grpcLn, adminLn net.Listener
	grpc            *grpc.Server
	admin           *http.Server
	stopping        atomic.Bool
	closeOnce       sync.Once
}

// New builds the service from a validated cfg: it loads the registry
// (the embedded one reads its directory and state file now) and opens the
// listeners. Call Run to serve, or Close to give up.
func New(cfg Config, o Options) (*App, error) {
	if o.Log == nil {
		o.Log = os.Stdout
	}
	lvl, err := logging.Parse(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("destination: trust domain: %w", err)
	}
	a := &App{cfg: cfg, reg: prometheus.NewRegistry()}
	a.log, a.level = logging.New(o.Log, lvl)
	a.log = a.log.With().Str("component", "destination").Logger()
	a.metrics = newMetrics(a.reg)
	if err := a.newBackend(td); err != nil {
		return nil, err
	}
	a.passive = health.NewPassive(a.backend, cfg.PassiveEjectTime, nil)
	scfg := server.Config{Source: a.passive, Health: a.passive, TrustDomain: td, Authenticate: !cfg.Insecure,
		ClusterDomain: cfg.ClusterDomain, Log: a.log, WatchesOpen: a.metrics.watches}
	if a.embedded != nil {
		scfg.Leases = a.embedded.Leases()
	}
	a.server = server.New(scfg)
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if !cfg.Insecure {
		if a.identity, err = identity.New(withLog(cfg.Identity, a.log)); err != nil {
			a.closeBackend()
			return nil, fmt.Errorf("destination: %w", err)
		}
		tc := tlsconfig.MTLSServerConfig(a.identity, a.identity, tlsconfig.AuthorizeMemberOf(td))
		tc.MinVersion = tls.VersionTLS13
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	a.grpc = grpc.NewServer(opts...)
	destinationv1.RegisterDestinationServer(a.grpc, a.server)
	a.admin = &http.Server{Handler: admin.NewMux(admin.Config{Registry: a.reg, Level: a.level, Ready: a.Ready}), ReadHeaderTimeout: 10 * time.Second}
	if a.grpcLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		a.closeBackend()
		return nil, fmt.Errorf("destination: listen %s: %w", cfg.Addr, err)
	}
	if a.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		a.grpcLn.Close()
		a.closeBackend()
		return nil, fmt.Errorf("destination: admin listen %s: %w", cfg.AdminAddr, err)
	}
	return a, nil
}

func withLog(c identity.Config, log zerolog.Logger) identity.Config {
	c.Log = log.With().Str("component", "identity-client").Logger()
	return c
}

func (a *App) newBackend(td spiffeid.TrustDomain) error {
	switch a.cfg.Registry {
	case RegistryKubernetes:
		var rc *rest.Config
		var err error
		if a.cfg.Kubeconfig == "" {
			rc, err = rest.InClusterConfig()
		} else {
			rc, err = clientcmd.BuildConfigFromFlags("", a.cfg.Kubeconfig)
		}
		if err != nil {
			return fmt.Errorf("%w: kubernetes: %w", ErrConfig, err)
		}
		a.kube, err = kube.New(kube.Config{RESTConfig: rc, TrustDomain: td, AllMeshed: a.cfg.KubeAllMeshed,
			MeshPort: uint16(a.cfg.MeshPort), Translate: a.translateOptions(), CRDRecheck: a.cfg.KubeCRDRecheck, Log: a.log})
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		a.backend = a.kube
		return nil
	default:
		if fi, err := os.Stat(a.cfg.ConfigDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("%w: config-dir %q is not a readable directory", ErrConfig, a.cfg.ConfigDir)
		}
		if a.cfg.StateFile != "" {
			if err := os.MkdirAll(filepath.Dir(a.cfg.StateFile), 0o700); err != nil {
				return fmt.Errorf("%w: state-file: %w", ErrConfig, err)
			}
		}
		var err error
		a.embedded, err = embedded.New(embedded.Config{
			Dir: a.cfg.ConfigDir, PollInterval: a.cfg.PollInterval, Log: a.log,
			Lease: lease.Config{Path: a.cfg.StateFile, TTL: a.cfg.LeaseTTL,
				Registrations: a.metrics.registrations, Expiries: a.metrics.expiries},
			Checks: a.metrics.checks, Reloads: a.metrics.reloads, Translate: a.translateOptions(),
		})
		if err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		a.backend = a.embedded
		return nil
	}
}

// translateOptions configures the translation of Istio and Gateway API
// resources.
func (a *App) translateOptions() translate.Options {
	return translate.Options{ClusterDomain: a.cfg.ClusterDomain, RootNamespace: a.cfg.RootNamespace}
}

func (a *App) closeBackend() {
	if a.embedded != nil {
		if err := a.embedded.Close(); err != nil {
			a.log.Error().Err(err).Msg("closing the state file")
		}
	}
}

// Addr is the gRPC listener's address.
func (a *App) Addr() net.Addr { return a.grpcLn.Addr() }

// AdminAddr is the admin listener's address.
func (a *App) AdminAddr() net.Addr { return a.adminLn.Addr() }

// Registry is the service's metrics registry.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Ready reports whether the service serves: the registry is loaded and,
// with mTLS, the service holds its SVID.
func (a *App) Ready() bool {
	return !a.stopping.Load() && a.backend.Ready() && (a.identity == nil || a.identity.Ready())
}

// Close releases an App whose Run was not called.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.grpcLn.Close()
		a.adminLn.Close()
		a.closeBackend()
	})
}

// Run serves until ctx is done, then stops gracefully: watches are ended
// (proxies reconnect), in-flight calls get cfg.ShutdownGrace to finish,
// and the state file is closed. It returns nil after a shutdown asked for
// by ctx, or the error that stopped the service.
func (a *App) Run(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	switch {
	case a.embedded != nil:
		wg.Go(func() { a.embedded.Run(bg) })
	case a.kube != nil:
		wg.Go(func() {
			if err := a.kube.Run(bg); err != nil {
				errc <- err
			}
		})
	}
	wg.Go(func() { a.passive.Run(bg) })
	wg.Go(func() { a.metrics.followEndpoints(bg, a.passive) })
	if a.identity != nil {
		wg.Go(func() { a.identity.Run(bg) }) //nolint:errcheck // Run returns nil
	}
	go func() { errc <- a.grpc.Serve(a.grpcLn) }()
	go func() {
		err := a.admin.Serve(a.adminLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	ev := a.log.Info().Str("addr", a.grpcLn.Addr().String()).Str("admin_addr", a.adminLn.Addr().String()).
		Str("registry", a.cfg.Registry).Str("trust_domain", a.cfg.TrustDomain).Bool("insecure", a.cfg.Insecure)
	if a.embedded != nil {
		ev = ev.Str("config_dir", a.cfg.ConfigDir).Str("state_file", a.cfg.StateFile).Dur("lease_ttl", a.cfg.LeaseTTL)
	}
	if a.identity != nil {
		ev = ev.Str("id", a.identity.ID().String())
	}
	ev.Msg("destination service started")

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("destination: stopped: %w", err)
	}
	a.stopping.Store(true)
	a.stop()
	stopBG()
	wg.Wait()
	a.Close()
	a.log.Info().Msg("destination service stopped")
	return err
}

// stop ends the watches and both servers, giving in-flight calls the
// grace period.
func (a *App) stop() {
	a.server.Shutdown()
	command.StopGRPC(a.grpc, a.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.admin.Shutdown(sctx) //nolint:errcheck // best effort on the way out
}
