package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/accesslog"
	"github.com/meshlite/meshlite/proxy/admin"
	"github.com/meshlite/meshlite/proxy/authz"
	"github.com/meshlite/meshlite/proxy/balance"
	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/detect"
	"github.com/meshlite/meshlite/proxy/discovery"
	"github.com/meshlite/meshlite/proxy/endpoints"
	"github.com/meshlite/meshlite/proxy/h2"
	"github.com/meshlite/meshlite/proxy/http1"
	"github.com/meshlite/meshlite/proxy/identity"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/mtls"
	"github.com/meshlite/meshlite/proxy/resolve"
	"github.com/meshlite/meshlite/proxy/server"
	"github.com/meshlite/meshlite/proxy/tap"
	"github.com/meshlite/meshlite/proxy/trace"
	"github.com/meshlite/meshlite/proxy/upstream"
)

// Proxy is a running meshlite-proxy: its listeners are open once New
// returns; Run serves them until its context ends.
type Proxy struct {
	cfg     Config
	log     zerolog.Logger
	Metrics *metrics.Proxy

	identity          *identity.Client  // nil without an identity service
	discovery         *discovery.Client // nil without a destination service
	endpoints         *endpoints.Resolver
	registrar         *discovery.Registrar      // nil when the workload is not registered
	healthReporter    *discovery.HealthReporter // nil when health is not reported
	inboundPolicy     *server.InboundPolicy
	inboundLoaded     atomic.Bool // the first inbound policy arrived
	tap               *tap.Hub
	tracer            *trace.Tracer      // nil without a trace collector
	logExport         *trace.LogExporter // nil without a log collector
	logs              *accesslog.Ring    // recent access-log lines; nil without
	outbound, inbound *server.Server
	lnOut             []net.Listener
	lnIn              net.Listener
	admin             *http.Server
	lnAdmin           net.Listener
	ready             atomic.Bool
	stop              chan struct{} // closed by POST /shutdown
	stopOnce          sync.Once
}

// New validates cfg, opens the listeners and builds the proxy. Logs go to
// out. origDst reads original destinations; nil means SO_ORIGINAL_DST (tests
// of the layers above substitute their own).
func New(cfg Config, out io.Writer, origDst server.OrigDstFunc) (_ *Proxy, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("proxy: invalid configuration: %w", err)
	}
	lvl, _ := logging.Parse(cfg.LogLevel)
	p := &Proxy{cfg: cfg, Metrics: metrics.New()}
	defer func() {
		if err != nil {
			p.stopTelemetry(context.Background())
		}
	}()
	telemetry := trace.NewMetrics(p.Metrics.Registry)
	logExport, err := cfg.logExporter(out, telemetry)
	if err != nil {
		return nil, err
	}
	if logExport != nil {
		p.logExport, out = logExport, io.MultiWriter(out, logExport)
	}
	log, level := logging.New(out, lvl)
	p.log = log
	var access *zerolog.Logger
	if cfg.AccessLog {
		l := log.With().Str("log", "access").Logger()
		if cfg.Telemetry.AccessLogBuffer > 0 {
			p.logs = accesslog.NewRing(cfg.Telemetry.AccessLogBuffer)
			l = l.Output(accesslog.Tee(out, level.Enabled, p.logs))
		}
		access = &l
	}
	self := map[uint16]bool{}
	for _, a := range append(splitAddrs(cfg.OutboundAddr), cfg.InboundAddr, cfg.AdminAddr) {
		if port, ok := listenPort(a); ok && port != 0 {
			self[port] = true
		}
	}
	var ident server.Identity
	if cfg.identityEnabled() {
		icfg := cfg.Identity
		icfg.Log = log.With().Str("component", "identity").Logger()
		c, err := identity.New(icfg)
		if err != nil {
			return nil, fmt.Errorf("proxy: identity: %w", err)
		}
		p.identity, ident = c, c
		p.Metrics.Registry.MustRegister(c.Collector())
	}
	if p.tracer, err = cfg.tracer(ident, log, telemetry); err != nil {
		return nil, err
	}
	table, err := cfg.meshedTable()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	clients := upstream.New(cfg.ConnectTimeout, sourceOf(ident))
	memo := detect.NewMemo(4096, 10*time.Minute, nil)
	p.tap = tap.NewHub()
	base := server.Config{
		Tap:         p.tap,
		Upstream:    clients,
		Identity:    ident,
		OrigDst:     origDst,
		OpaquePorts: portSet(cfg.OpaquePorts),
		SelfPorts:   self,
		Detect:      detect.Config{FirstByteWindow: cfg.DetectWindow, Timeout: cfg.DetectTimeout},
		Memo:        memo,
		HTTP1: http1.Limits{
			MaxRequestLineBytes: cfg.MaxRequestLine,
			MaxHeaderBytes:      cfg.MaxHeaderBytes,
			MaxHeaderCount:      cfg.MaxHeaderCount,
		},
		HTTP1IdleTimeout: cfg.HTTPIdleTimeout,
		H2: h2.Limits{
			MaxConcurrentStreams: uint32(cfg.H2MaxStreams),
			MaxHeaderListBytes:   cfg.MaxHeaderBytes,
			IdleTimeout:          cfg.H2IdleTimeout,
		},
		Metrics:   p.Metrics,
		AccessLog: access,
		Trace:     p.tracer,
	}
	outCfg := base
	outCfg.Direction = conninfo.Outbound
	outCfg.Resolver = resolve.Static{Next: resolve.OrigDst, Table: table, MeshPort: uint16(cfg.MeshPort)}
	if cfg.Destination.enabled() {
		if err := p.discover(cfg, ident, outCfg.Resolver, clients); err != nil {
			return nil, err
		}
		outCfg.Targets = p.endpoints
	}
	outCfg.Log = log.With().Str("direction", "outbound").Logger()
	if p.outbound, err = server.New(outCfg); err != nil {
		return nil, fmt.Errorf("proxy: outbound: %w", err)
	}
	inCfg := base
	inCfg.Direction, inCfg.Resolver = conninfo.Inbound, resolve.Localhost
	p.inboundPolicy = &server.InboundPolicy{}
	inCfg.Inbound = p.inboundPolicy
	inCfg.Log = log.With().Str("direction", "inbound").Logger()
	if p.inbound, err = server.New(inCfg); err != nil {
		return nil, fmt.Errorf("proxy: inbound: %w", err)
	}
	var shutdown func()
	if cfg.ShutdownEndpoint {
		shutdown = p.requestShutdown
	}
	p.admin = &http.Server{
		Handler: admin.Handler(admin.Config{Registry: p.Metrics.Registry, Level: level, Ready: p.Ready, Tap: p.tap,
			Logs: p.logsHandler(ident), Authorized: cfg.adminAuthorized(ident), Shutdown: shutdown}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if err := p.listen(); err != nil {
		return nil, err
	}
	// A configured port may be 0 (any free port): the loop check needs the
	// ports actually bound. Nothing serves yet, so the shared map is safe
	// to fill here.
	for _, ln := range append(slices.Clone(p.lnOut), p.lnIn, p.lnAdmin) {
		if port, ok := listenPort(ln.Addr().String()); ok {
			self[port] = true
		}
	}
	return p, nil
}

func (p *Proxy) listen() (err error) {
	var lc net.ListenConfig
	ctx := context.Background()
	defer func() {
		if err != nil {
			p.closeListeners()
		}
	}()
	for _, a := range splitAddrs(p.cfg.OutboundAddr) {
		ln, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			if ip, perr := netip.ParseAddrPort(a); perr == nil && ip.Addr().Is6() && errors.Is(err, syscall.EADDRNOTAVAIL) {
				p.log.Warn().Str("addr", a).Msg("IPv6 is not available; outbound listener skipped")
				continue
			}
			return fmt.Errorf("proxy: outbound listener on %s: %w", a, err)
		}
		p.lnOut = append(p.lnOut, ln)
	}
	if len(p.lnOut) == 0 {
		return fmt.Errorf("proxy: no outbound listener could be opened on %s", p.cfg.OutboundAddr)
	}
	if p.lnIn, err = lc.Listen(ctx, "tcp", p.cfg.InboundAddr); err != nil {
		return fmt.Errorf("proxy: inbound listener on %s: %w", p.cfg.InboundAddr, err)
	}
	if p.lnAdmin, err = lc.Listen(ctx, "tcp", p.cfg.AdminAddr); err != nil {
		return fmt.Errorf("proxy: admin listener on %s: %w", p.cfg.AdminAddr, err)
	}
	if p.identity != nil {
		// Operators reach the tap and the log level over mutual TLS.
		p.lnAdmin = admin.NewTLSListener(p.lnAdmin, mtls.ServerConfig(p.identity))
	}
	return nil
}

func (p *Proxy) closeListeners() {
	for _, ln := range append(slices.Clone(p.lnOut), p.lnIn, p.lnAdmin) {
		if ln != nil {
			ln.Close()
		}
	}
}

// discover connects to the destination service: outbound targets resolve
// through it (falling back to next), and the workload registers.
func (p *Proxy) discover(cfg Config, ident server.Identity, next resolve.Resolver, clients *upstream.Clients) error {
	d := cfg.Destination
	dcfg := discovery.Config{Addr: d.Addr, Source: sourceOf(ident), Insecure: d.Insecure,
		Log: p.log.With().Str("component", "discovery").Logger()}
	var ns, sa string
	if ident != nil {
		ns, sa = cfg.Identity.Namespace, cfg.Identity.ServiceAccount
		dcfg.ServerID = discovery.DefaultServerID(ident.ID().TrustDomain())
	}
	if d.ServerID != "" {
		id, err := spiffeid.FromString(d.ServerID)
		if err != nil {
			return fmt.Errorf("proxy: destination-server-id: %w", err)
		}
		dcfg.ServerID = id
	}
	dcfg.Namespace = d.WorkloadNamespace
	if dcfg.Namespace == "" {
		dcfg.Namespace = ns
	}
	dc, err := discovery.New(dcfg)
	if err != nil {
		return fmt.Errorf("proxy: discovery: %w", err)
	}
	p.discovery = dc
	ecfg := endpoints.Config{Discovery: dc, Fallback: next, Drain: clients.CloseIdleConnections,
		Log: p.log.With().Str("component", "endpoints").Logger()}
	if d.ReportHealth {
		h := dc.HealthReporter(discovery.HealthReporterConfig{OnReport: p.Metrics.HealthReported})
		ecfg.Balance.Accrual.OnChange = func(ep balance.Endpoint, setAside bool) {
			reason := "probe succeeded"
			if setAside {
				reason = "consecutive connection failures"
			}
			h.Observe(discovery.Observation{Addr: ep.Addr, Healthy: !setAside, Reason: reason})
		}
		p.healthReporter = h
	}
	p.endpoints = endpoints.New(ecfg)
	if d.WorkloadName != "" {
		w, err := d.workload(ns, sa)
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		if ident != nil {
			w.MeshPort = inboundPort(cfg.InboundAddr)
		}
		p.registrar = dc.Registrar(w, discovery.RegistrarConfig{TTL: d.LeaseTTL})
	}
	return nil
}

// workloadSelector names this workload for inbound policy: its namespace
// and labels.
func (p *Proxy) workloadSelector() (string, map[string]string) {
	w, _ := p.cfg.Destination.workload(p.cfg.Identity.Namespace, "")
	return w.Namespace, w.Labels
}

// applyInbound puts a new inbound policy in force; a policy that does not
// compile leaves the last good one.
func (p *Proxy) applyInbound(ip *destinationv1.InboundPolicy) {
	pol, err := authz.Compile(ip)
	if err != nil {
		p.log.Warn().Err(err).Msg("inbound policy refused; keeping the last good one")
		return
	}
	p.inboundPolicy.Store(pol)
	p.inboundLoaded.Store(true)
}

// inboundPort is the port of the inbound listener address, or the default.
func inboundPort(addr string) uint16 {
	if port, ok := listenPort(addr); ok && port != 0 {
		return port
	}
	return resolve.DefaultMeshPort
}

// requestShutdown starts the graceful shutdown, as SIGTERM does.
func (p *Proxy) requestShutdown() { p.stopOnce.Do(func() { close(p.stop) }) }

// Ready reports whether the proxy serves traffic: its listeners are up, it
// is not draining, and, with an identity service, it holds a certificate.
func (p *Proxy) Ready() bool {
	return p.ready.Load() && (p.identity == nil || p.identity.Ready()) &&
		(p.discovery == nil || p.inboundLoaded.Load())
}

// sourceOf turns a possibly nil Identity into a possibly nil mtls.Source
// (an interface holding a nil pointer would not compare equal to nil).
func sourceOf(id server.Identity) mtls.Source {
	if id == nil {
		return nil
	}
	return id
}

// Addrs returns the bound addresses of the (first) outbound, the inbound
// and the admin listeners.
func (p *Proxy) Addrs() (outbound, inbound, admin net.Addr) {
	return p.lnOut[0].Addr(), p.lnIn.Addr(), p.lnAdmin.Addr()
}

// Run serves until ctx ends, then shuts down gracefully: the proxy reports
// not ready, stops accepting, lets in-flight requests and connections
// finish within the shutdown grace period, closes what is left, and
// returns nil. It returns an error if a listener fails while serving.
func (p *Proxy) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2+len(p.lnOut))
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("proxy: %s: %w", name, err)
				cancel()
			}
		}()
	}
	// Requests must outlive the serving context during the drain, so the
	// servers get a context that is only cancelled once Run returns.
	connCtx, connCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer connCancel()
	for _, ln := range p.lnOut {
		serve("outbound", func() error { return p.outbound.Serve(connCtx, ln) })
	}
	serve("inbound", func() error { return p.inbound.Serve(connCtx, p.lnIn) })
	serve("admin", func() error { return p.admin.Serve(p.lnAdmin) })
	if p.identity != nil {
		// The identity client retries until ctx ends; it never fails.
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.identity.Run(connCtx) //nolint:errcheck // returns only when connCtx ends
		}()
	}
	// The registration ends as the drain begins, so that peers stop
	// sending new work here while what is in flight finishes.
	regCtx, regCancel := context.WithCancel(ctx)
	defer regCancel()
	if p.discovery != nil {
		// The workload's inbound policy: the proxy is not ready before
		// the first one, so that a STRICT workload never admits plaintext.
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns, labels := p.workloadSelector()
			p.discovery.WatchInbound(connCtx, ns, labels, p.applyInbound)
		}()
	}
	if p.healthReporter != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.healthReporter.Run(connCtx) //nolint:errcheck // returns nil when connCtx ends
		}()
	}
	if p.registrar != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.registrar.Run(regCtx); err != nil {
				p.log.Warn().Err(err).Msg("registration ended with an error")
			}
		}()
	}
	p.ready.Store(true)
	out, in, adm := p.Addrs()
	p.log.Info().Str("outbound", out.String()).Str("inbound", in.String()).Str("admin", adm.String()).Msg("meshlite-proxy serving")

	select {
	case <-ctx.Done():
	case <-p.stop:
		p.log.Info().Msg("shutdown requested on the admin port")
		cancel()
	}
	p.ready.Store(false)
	p.log.Info().Dur("grace", p.cfg.ShutdownGrace).Msg("draining")
	graceCtx, graceCancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownGrace)
	defer graceCancel()
	var dwg sync.WaitGroup
	for name, s := range map[string]*server.Server{"outbound": p.outbound, "inbound": p.inbound} {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			if err := s.Shutdown(graceCtx); err != nil {
				p.log.Warn().Err(err).Str("listener", name).Msg("drain incomplete")
			}
		}()
	}
	dwg.Wait()
	p.stopTelemetry(ctx)
	p.admin.Shutdown(graceCtx) //nolint:errcheck // nothing left to do about it
	connCancel()               // ends the identity client, and any request context left
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	p.log.Info().Msg("stopped")
	return errors.Join(errs...)
}
