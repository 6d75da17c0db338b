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
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/identity/server"
	"github.com/meshlite/meshlite/internal/admin"
	identityv1 "github.com/meshlite/meshlite/internal/api/identity/v1"
	"github.com/meshlite/meshlite/internal/command"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// maxRecvMsgSize bounds a Certify request: a CSR and a token.
const maxRecvMsgSize = 64 << 10

// Options are what a caller may inject; the zero value is production.
type Options struct {
	// Log receives the JSON log; os.Stdout when nil.
	Log io.Writer
	// Now is the clock certificates are issued and checked with;
	// time.Now when nil. Timers run on real time.
	Now func() time.Time
}

// App is a configured identity service, listening once New returns.
type App struct {
	cfg      Config
	td       spiffeid.TrustDomain
	now      func() time.Time
	log      zerolog.Logger
	level    *logging.Level
	reloader *ca.Reloader
	self     *selfSVID
	reg      *prometheus.Registry
	metrics  *server.Metrics

	grpcLn, adminLn net.Listener
	grpc            *grpc.Server
	admin           *http.Server
	ready           atomic.Bool
	closeOnce       sync.Once
}

// New loads the issuer and attestors, issues the service its own SVID and
// opens the listeners. cfg must have been validated. Call Run to serve,
// or Close to give up.
func New(cfg Config, o Options) (*App, error) {
	cfg.resolve()
	if o.Log == nil {
		o.Log = os.Stdout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	lvl, err := logging.Parse(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("identity: trust domain: %w", err)
	}
	selfID, err := spiffe.WorkloadID(td, cfg.ServiceNamespace, cfg.ServiceAccount)
	if err != nil {
		return nil, fmt.Errorf("identity: own ID: %w", err)
	}
	a := &App{cfg: cfg, td: td, now: o.Now, self: &selfSVID{id: selfID}, reg: prometheus.NewRegistry()}
	a.log, a.level = logging.New(o.Log, lvl)
	a.log = a.log.With().Str("component", "identity").Logger()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = server.NewMetrics(a.reg)

	a.reloader, err = ca.NewReloader(td, ca.Paths{Anchors: cfg.TrustAnchors, IssuerCert: cfg.IssuerCert, IssuerKey: cfg.IssuerKey}, o.Now)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	a.metrics.IssuerExpiry.Set(float64(a.reloader.Current().NotAfter().Unix()))
	att, err := a.attestor()
	if err != nil {
		return nil, err
	}
	if _, err := a.self.renew(a.reloader.Current(), o.Now(), cfg.LeafLifetime); err != nil {
		return nil, err
	}

	tlsCfg := tlsconfig.TLSServerConfig(&a.self.store)
	tlsCfg.MinVersion = tls.VersionTLS13
	a.grpc = grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsCfg)), grpc.MaxRecvMsgSize(maxRecvMsgSize))
	identityv1.RegisterIdentityServer(a.grpc, server.New(server.Config{
		TrustDomain:  td,
		Authority:    a.reloader.Current,
		Attestor:     att,
		Reserved:     []spiffeid.ID{selfID},
		LeafLifetime: cfg.LeafLifetime,
		Now:          o.Now,
		Log:          a.log,
		Metrics:      a.metrics,
	}))
	a.admin = &http.Server{
		Handler:           admin.NewMux(admin.Config{Registry: a.reg, Level: a.level, Ready: a.ready.Load}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if a.grpcLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("identity: listen %s: %w", cfg.Addr, err)
	}
	if a.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		a.grpcLn.Close()
		return nil, fmt.Errorf("identity: admin listen %s: %w", cfg.AdminAddr, err)
	}
	return a, nil
}

func (a *App) attestor() (attest.Attestor, error) {
	var as []attest.Named
	for _, n := range a.cfg.attestors() {
		switch n {
		case AttestJoin:
			j, err := attest.LoadJoinTokens(a.td, a.cfg.JoinPublicKeys, a.now)
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			as = append(as, attest.Named{Name: n, Attestor: j})
		case AttestKubernetes:
			var rc *rest.Config
			var err error
			if a.cfg.Kubeconfig == "" {
				rc, err = rest.InClusterConfig()
			} else {
				rc, err = clientcmd.BuildConfigFromFlags("", a.cfg.Kubeconfig)
			}
			if err != nil {
				return nil, fmt.Errorf("identity: kubernetes configuration: %w", err)
			}
			k, err := attest.NewKubernetes(rc, a.td, a.cfg.KubeAudience)
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			as = append(as, attest.Named{Name: n, Attestor: k})
		default:
			return nil, fmt.Errorf("identity: unknown attestor %q", n)
		}
	}
	return attest.FirstOf(as...), nil
}

// Addr is the gRPC listener's address.
func (a *App) Addr() net.Addr { return a.grpcLn.Addr() }

// AdminAddr is the admin listener's address.
func (a *App) AdminAddr() net.Addr { return a.adminLn.Addr() }

// ID is the service's own SPIFFE ID.
func (a *App) ID() spiffeid.ID { return a.self.id }

// Ready reports whether the service is serving.
func (a *App) Ready() bool { return a.ready.Load() }

// Close releases the listeners of an App whose Run was not called.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		a.grpcLn.Close()
		a.adminLn.Close()
	})
}

// Run serves until ctx is done, then stops gracefully: in-flight calls
// get cfg.ShutdownGrace to finish. It returns nil after a shutdown asked
// for by ctx, or the error that stopped a server.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- a.grpc.Serve(a.grpcLn) }()
	go func() {
		err := a.admin.Serve(a.adminLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	mctx, stopMaintain := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.maintain(mctx) })
	a.ready.Store(true)
	cur := a.reloader.Current()
	a.log.Info().Str("addr", a.grpcLn.Addr().String()).Str("admin_addr", a.adminLn.Addr().String()).
		Str("trust_domain", a.td.Name()).Str("id", a.self.id.String()).Str("attest", a.cfg.Attest).
		Time("issuer_not_after", cur.NotAfter()).Msg("identity service started")

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("identity: server stopped: %w", err)
	}
	a.ready.Store(false)
	stopMaintain()
	wg.Wait()
	a.stop()
	a.log.Info().Msg("identity service stopped")
	return err
}

// stop ends both servers, giving in-flight calls the grace period.
func (a *App) stop() {
	command.StopGRPC(a.grpc, a.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.admin.Shutdown(sctx) //nolint:errcheck // best effort on the way out
	a.Close()
}

// maintain reloads the issuer files every ReloadInterval and renews the
// service's own SVID at 70 % of its lifetime or when the issuer changes.
func (a *App) maintain(ctx context.Context) {
	t := time.NewTimer(a.nextMaintenance())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := a.reloader.Reload()
		cur := a.reloader.Current()
		switch {
		case err != nil:
			a.metrics.IssuerReloads.WithLabelValues("refused").Inc()
			a.log.Error().Err(err).Str("issuer_cert", a.cfg.IssuerCert).Str("issuer_key", a.cfg.IssuerKey).
				Str("kept_issuer_serial", cur.Issuer().SerialNumber.Text(16)).
				Msg("new issuer files refused; keeping the issuer in force")
		case changed:
			a.metrics.IssuerReloads.WithLabelValues("ok").Inc()
			a.metrics.IssuerExpiry.Set(float64(cur.NotAfter().Unix()))
			a.log.Info().Str("issuer_serial", cur.Issuer().SerialNumber.Text(16)).
				Time("issuer_not_after", cur.NotAfter()).Msg("issuer reloaded")
		}
		if now := a.now(); changed || !now.Before(a.self.renewAt) {
			svid, err := a.self.renew(cur, now, a.cfg.LeafLifetime)
			if err != nil {
				a.log.Error().Err(err).Msg("renewing the service's own certificate failed; retrying")
			} else {
				a.log.Debug().Str("id", svid.ID.String()).Time("not_after", svid.Certificates[0].NotAfter).
					Msg("service's own certificate renewed")
			}
		}
		t.Reset(a.nextMaintenance())
	}
}

// nextMaintenance is the wait until the next reload check or own renewal,
// whichever is first.
func (a *App) nextMaintenance() time.Duration {
	d := a.cfg.ReloadInterval
	// Overdue means the last renewal failed: retry at the reload pace.
	if until := a.self.renewAt.Sub(a.now()); until > 0 && until < d {
		d = until
	}
	return d
}
