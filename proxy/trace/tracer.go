package trace

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/meshlite/meshlite/internal/version"
	"github.com/meshlite/meshlite/proxy/conninfo"
)

// Protocols of the OTLP exporters.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// DefaultSampling is the share of new traces (requests that arrive
// without a sampling decision) that are recorded.
const DefaultSampling = 0.01

// Config configures span export. The zero value, apart from Collector,
// takes the defaults given in the comments.
type Config struct {
	// Collector is the OTLP collector's host:port (4317 for gRPC, 4318 for
	// HTTP, usually). Empty: no spans are made; New returns nil.
	Collector string
	// Protocol is ProtocolGRPC (default) or ProtocolHTTP.
	Protocol string
	// TLS, when set, is how the exporter verifies the collector (and may
	// present a client certificate): OTLP over TLS. Nil: plaintext.
	TLS *tls.Config
	// Sampling is the ratio of new traces recorded, 0 to 1. A request that
	// carries a sampling decision keeps it (parent-based sampling).
	Sampling float64
	// QueueSize bounds the spans waiting for export: default 2048. Spans
	// that find it full are dropped and counted.
	QueueSize int
	// BatchSize is the most spans in one export: default 512.
	BatchSize int
	// BatchTimeout is the longest a partial batch waits: default 1s.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export: default 5s.
	ExportTimeout time.Duration
	// ServiceName names the proxy in the trace backend: default
	// "meshlite-proxy".
	ServiceName string
	// Attributes are added to the resource (e.g. the proxy's SPIFFE ID).
	Attributes []attribute.KeyValue
	// Metrics count exported and dropped spans; nil: unregistered counters.
	Metrics *Metrics
	Log     zerolog.Logger
	// Exporter replaces the OTLP exporter (Collector and Protocol are then
	// ignored); for tests.
	Exporter sdktrace.SpanExporter
}

// Tracer makes one span per proxy hop and exports them. A nil *Tracer is
// valid: its middleware only lets the incoming trace context through.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   oteltrace.Tracer
	ratio    sdktrace.Sampler
	exporter sdktrace.SpanExporter
}

// New builds the exporter and the tracer provider. It returns nil (and no
// error) when cfg names no collector and no exporter. It does not connect
// yet: an unreachable collector shows as dropped spans, never as an error
// here or a delay on requests.
func New(cfg Config) (*Tracer, error) {
	if cfg.Collector == "" && cfg.Exporter == nil {
		return nil, nil
	}
	if cfg.Sampling < 0 || cfg.Sampling > 1 {
		return nil, fmt.Errorf("trace: sampling %v is not between 0 and 1", cfg.Sampling)
	}
	if cfg.ExportTimeout <= 0 {
		cfg.ExportTimeout = 5 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	routeOTelErrors(cfg.Log)
	exp := cfg.Exporter
	if exp == nil {
		var err error
		if exp, err = newSpanExporter(cfg); err != nil {
			return nil, err
		}
	}
	proc := &spanProcessor{exporter: exp}
	proc.b = newBatcher(batchOptions{QueueSize: cfg.QueueSize, BatchSize: cfg.BatchSize, Interval: cfg.BatchTimeout,
		Timeout: cfg.ExportTimeout, Exported: cfg.Metrics.SpansExported, Dropped: cfg.Metrics.SpansDropped,
		OnError: errorLogger(cfg.Log, "span")}, proc.export)
	ratio := sdktrace.TraceIDRatioBased(cfg.Sampling)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(newResource(cfg.ServiceName, cfg.Attributes)),
		sdktrace.WithSampler(sampler{parent: sdktrace.ParentBased(ratio)}),
		sdktrace.WithSpanProcessor(proc),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("github.com/meshlite/meshlite/proxy/trace"), ratio: ratio, exporter: exp}, nil
}

func newSpanExporter(cfg Config) (sdktrace.SpanExporter, error) {
	ctx := context.Background()
	switch cfg.Protocol {
	case "", ProtocolGRPC:
		sec := otlptracegrpc.WithInsecure()
		if cfg.TLS != nil {
			sec = otlptracegrpc.WithTLSCredentials(credentials.NewTLS(cfg.TLS))
		}
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.Collector), sec,
			otlptracegrpc.WithTimeout(cfg.ExportTimeout), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	case ProtocolHTTP:
		sec := otlptracehttp.WithInsecure()
		if cfg.TLS != nil {
			sec = otlptracehttp.WithTLSClientConfig(cfg.TLS)
		}
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(cfg.Collector), sec,
			otlptracehttp.WithTimeout(cfg.ExportTimeout), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	}
	return nil, fmt.Errorf("trace: protocol %q is not %s or %s", cfg.Protocol, ProtocolGRPC, ProtocolHTTP)
}

func newResource(name string, attrs []attribute.KeyValue) *resource.Resource {
	if name == "" {
		name = "meshlite-proxy"
	}
	kv := append([]attribute.KeyValue{
		attribute.String("service.name", name),
		attribute.String("service.version", version.Get()),
		attribute.String("telemetry.sdk.language", "go"),
	}, attrs...)
	return resource.NewSchemaless(kv...)
}

// Shutdown exports the spans still queued, within ctx, and stops.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports the spans queued now and waits for the export.
func (t *Tracer) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// spanProcessor hands ended, sampled spans to the batcher.
type spanProcessor struct {
	b        *batcher[sdktrace.ReadOnlySpan]
	exporter sdktrace.SpanExporter
}

var _ sdktrace.SpanProcessor = (*spanProcessor)(nil)

func (p *spanProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *spanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.b.offer(s)
	}
}

func (p *spanProcessor) export(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return p.exporter.ExportSpans(ctx, spans)
}

func (p *spanProcessor) ForceFlush(ctx context.Context) error { return p.b.forceFlush(ctx) }

func (p *spanProcessor) Shutdown(ctx context.Context) error {
	return errors.Join(p.b.shutdown(ctx), p.exporter.Shutdown(ctx))
}

// sampler is parent-based ratio sampling, plus the decision a bare B3
// sampling header ("b3: 0", "X-B3-Sampled: 1" without IDs) forces on a
// new trace.
type sampler struct{ parent sdktrace.Sampler }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if !oteltrace.SpanContextFromContext(p.ParentContext).IsValid() {
		if force, ok := p.ParentContext.Value(forceKey{}).(Sampling); ok {
			d := sdktrace.Drop
			if force == Sampled || force == Debug {
				d = sdktrace.RecordAndSample
			}
			return sdktrace.SamplingResult{Decision: d}
		}
	}
	return s.parent.ShouldSample(p)
}

func (s sampler) Description() string { return "meshlite(" + s.parent.Description() + ")" }

type forceKey struct{}

// Middleware returns the tracing layer for the listener of direction dir:
// it continues the request's trace context (or starts a trace), makes the
// hop's span — SERVER inbound, CLIENT outbound — and writes the span's
// context into the request for the next hop, W3C always and B3 in the
// formats the request carried. A nil Tracer returns next itself: the
// headers pass through untouched and IDs still finds the incoming context.
func (t *Tracer) Middleware(dir conninfo.Direction) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if t == nil {
			return next
		}
		kind := oteltrace.SpanKindClient
		if dir == conninfo.Inbound {
			kind = oteltrace.SpanKindServer
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.serve(next, kind, dir, w, r)
		})
	}
}

func (t *Tracer) serve(next http.Handler, kind oteltrace.SpanKind, dir conninfo.Direction, w http.ResponseWriter, r *http.Request) {
	in := Extract(r.Header)
	ctx := r.Context()
	if in.Valid() {
		if in.Sampling == Deferred { // B3 without a decision: ours to make
			in.Sampling = NotSampled
			if t.ratio.ShouldSample(sdktrace.SamplingParameters{TraceID: in.TraceID}).Decision == sdktrace.RecordAndSample {
				in.Sampling = Sampled
			}
		}
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, in.spanContext())
	} else if in.Sampling != Deferred {
		ctx = context.WithValue(ctx, forceKey{}, in.Sampling)
	}
	ctx, span := t.tracer.Start(ctx, r.Method, oteltrace.WithSpanKind(kind))
	sc := span.SpanContext()
	out := Context{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Sampling: NotSampled, TraceState: sc.TraceState().String(), Short: in.Short}
	if sc.IsSampled() {
		out.Sampling = Sampled
		if in.Sampling == Debug {
			out.Sampling = Debug
		}
	}
	Inject(r.Header, out, in.SpanID, in.Formats)
	h := &hop{span: span, ids: out}
	if span.IsRecording() {
		h.start(r, dir)
	}
	defer span.End()
	next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, hopKey{}, h)))
}

// spanContext is c as a remote parent.
func (c Context) spanContext() oteltrace.SpanContext {
	var flags oteltrace.TraceFlags
	if c.IsSampled() {
		flags = oteltrace.FlagsSampled
	}
	ts, err := oteltrace.ParseTraceState(c.TraceState)
	if err != nil {
		ts = oteltrace.TraceState{} // an invalid tracestate is dropped
	}
	return oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: c.TraceID, SpanID: c.SpanID,
		TraceFlags: flags, TraceState: ts, Remote: true})
}

// hop is one request's span at this proxy, in the request's context.
type hop struct {
	span oteltrace.Span
	ids  Context
}

type hopKey struct{}

func hopFrom(ctx context.Context) *hop {
	h, _ := ctx.Value(hopKey{}).(*hop)
	return h
}

func (h *hop) start(r *http.Request, dir conninfo.Direction) {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("server.address", r.Host),
		attribute.String("network.protocol.version", protoVersion(r)),
		attribute.String("meshlite.direction", string(dir)),
		attribute.String("client.address", r.RemoteAddr),
	)
	if info := conninfo.From(r.Context()); info != nil && info.OrigDst.IsValid() {
		attrs = append(attrs, attribute.String("meshlite.dst", info.OrigDst.String()))
	}
	h.span.SetAttributes(attrs...)
}

func protoVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// IDs returns the trace and span IDs to log for r: those of this hop's
// span when the proxy traces, else those the request arrived with. ok is
// false when there are none.
func IDs(r *http.Request) (traceID oteltrace.TraceID, spanID oteltrace.SpanID, ok bool) {
	if h := hopFrom(r.Context()); h != nil {
		return h.ids.TraceID, h.ids.SpanID, true
	}
	c := Extract(r.Header)
	return c.TraceID, c.SpanID, c.Valid()
}

// Outcome is how a request went, as the observing layer saw it.
type Outcome struct {
	Status     int
	GRPCStatus string
	// Reset is set when the request ended without a complete response.
	Reset bool
	// Endpoint is where the request was sent; TLS, ClientID and ServerID
	// describe the hop's mutual TLS (SPIFFE IDs, empty for plaintext).
	Endpoint           netip.AddrPort
	TLS                bool
	ClientID, ServerID string
	// Route names the route that matched, if any.
	Route string
	// Retries counts the attempts after the first.
	Retries int
}

// Observe records the outcome on the request's span, if it has a
// recording one; its status is Error for a 5xx, a reset or a gRPC status
// other than OK.
func Observe(ctx context.Context, o Outcome) {
	h := hopFrom(ctx)
	if h == nil || !h.span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, attribute.Bool("meshlite.tls", o.TLS))
	if o.Status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", o.Status))
	}
	if o.GRPCStatus != "" {
		if n, err := strconv.Atoi(o.GRPCStatus); err == nil {
			attrs = append(attrs, attribute.Int("rpc.grpc.status_code", n))
		}
	}
	if o.Endpoint.IsValid() {
		attrs = append(attrs, attribute.String("meshlite.endpoint", o.Endpoint.String()))
	}
	if o.ClientID != "" {
		attrs = append(attrs, attribute.String("meshlite.client_id", o.ClientID))
	}
	if o.ServerID != "" {
		attrs = append(attrs, attribute.String("meshlite.server_id", o.ServerID))
	}
	if o.Route != "" {
		attrs = append(attrs, attribute.String("http.route", o.Route))
		h.span.SetName(h.name(o.Route))
	}
	if o.Retries > 0 {
		attrs = append(attrs, attribute.Int("meshlite.retries", o.Retries))
	}
	if o.Reset {
		attrs = append(attrs, attribute.Bool("meshlite.reset", true))
	}
	h.span.SetAttributes(attrs...)
	switch {
	case o.Reset:
		h.span.SetStatus(codes.Error, "stream reset")
	case o.Status >= 500:
		h.span.SetStatus(codes.Error, http.StatusText(o.Status))
	case o.GRPCStatus != "" && o.GRPCStatus != "0":
		h.span.SetStatus(codes.Error, "grpc-status "+o.GRPCStatus)
	}
}

// name is the span's name with the route: "GET /users/{id}".
func (h *hop) name(route string) string {
	if ro, ok := h.span.(interface{ Name() string }); ok {
		return ro.Name() + " " + route
	}
	return route
}

// SetRoute records the route that matched on the request's span.
func SetRoute(ctx context.Context, route string) {
	if h := hopFrom(ctx); h != nil && h.span.IsRecording() && route != "" {
		h.span.SetAttributes(attribute.String("http.route", route))
	}
}

// Retry records on the request's span that attempt (1 for the first
// retry) went to endpoint after the previous one failed for reason.
func Retry(ctx context.Context, attempt int, endpoint netip.AddrPort, reason string) {
	h := hopFrom(ctx)
	if h == nil || !h.span.IsRecording() {
		return
	}
	h.span.SetAttributes(attribute.Int("meshlite.retries", attempt))
	h.span.AddEvent("retry", oteltrace.WithAttributes(attribute.Int("meshlite.attempt", attempt),
		attribute.String("meshlite.endpoint", endpoint.String()), attribute.String("meshlite.reason", reason)))
}

// SetEndpoint records the endpoint chosen for the request (Observe does
// too, from the observing layer's view of the hop).
func SetEndpoint(ctx context.Context, endpoint netip.AddrPort) {
	if h := hopFrom(ctx); h != nil && h.span.IsRecording() && endpoint.IsValid() {
		h.span.SetAttributes(attribute.String("meshlite.endpoint", endpoint.String()))
	}
}

// errorLogger logs failed exports: the first at once, then at most one
// line per 30 seconds with the count since.
func errorLogger(log zerolog.Logger, what string) func(error, int) {
	var mu sync.Mutex
	var last time.Time
	var failed, lost int
	return func(err error, n int) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		lost += n
		if now := time.Now(); last.IsZero() || now.Sub(last) >= 30*time.Second {
			log.Warn().Err(err).Int("failed_exports", failed).Int("lost", lost).Msgf("%s export failed", what)
			last, failed, lost = now, 0, 0
		}
	}
}

// otelLog receives what the OpenTelemetry SDK reports through its global
// error handler and logger, which would otherwise print to stderr.
var (
	otelLog  atomic.Pointer[zerolog.Logger]
	otelOnce sync.Once
)

func routeOTelErrors(log zerolog.Logger) {
	otelLog.Store(&log)
	otelOnce.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			if l := otelLog.Load(); l != nil {
				l.Debug().Err(err).Msg("opentelemetry")
			}
		}))
		otel.SetLogger(logr.Discard())
	})
}
