package trace

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
)

// LogConfig configures the export of the proxy's log lines over OTLP.
type LogConfig struct {
	// Collector is the OTLP collector's host:port. Empty: NewLogExporter
	// returns nil.
	Collector string
	// Protocol is ProtocolGRPC (default) or ProtocolHTTP.
	Protocol string
	// TLS, when set, makes the export OTLP over TLS, as Config.TLS.
	TLS *tls.Config
	// QueueSize bounds the lines waiting for export: default 4096. Lines
	// that find it full are dropped and counted.
	QueueSize int
	// BatchSize is the most records in one export: default 512.
	BatchSize int
	// BatchTimeout is the longest a partial batch waits: default 1s.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export: default 5s.
	ExportTimeout time.Duration
	// ServiceName and Attributes make the resource, as for spans.
	ServiceName string
	Attributes  []attribute.KeyValue
	// Metrics count exported and dropped records; nil: unregistered.
	Metrics *Metrics
	Log     zerolog.Logger
	// Exporter replaces the OTLP exporter; for tests.
	Exporter sdklog.Exporter
}

// LogExporter is an io.Writer of zerolog JSON lines that exports each as
// an OpenTelemetry log record: time, level (severity), message (body),
// trace_id and span_id (the record's trace context), every other field an
// attribute. Write copies the line into a bounded queue and returns at
// once; the conversion and the export happen on the exporter's goroutine.
type LogExporter struct {
	b        *batcher[[]byte]
	provider *sdklog.LoggerProvider
	logger   otellog.Logger
	collect  *collectProcessor
	exporter sdklog.Exporter
}

// NewLogExporter builds the exporter; nil (and no error) when cfg names no
// collector and no exporter. It does not connect yet.
func NewLogExporter(cfg LogConfig) (*LogExporter, error) {
	if cfg.Collector == "" && cfg.Exporter == nil {
		return nil, nil
	}
	if cfg.ExportTimeout <= 0 {
		cfg.ExportTimeout = 5 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	routeOTelErrors(cfg.Log)
	exp := cfg.Exporter
	if exp == nil {
		var err error
		if exp, err = newLogExporter(cfg); err != nil {
			return nil, err
		}
	}
	e := &LogExporter{collect: &collectProcessor{}, exporter: exp}
	e.provider = sdklog.NewLoggerProvider(sdklog.WithResource(newResource(cfg.ServiceName, cfg.Attributes)),
		sdklog.WithProcessor(e.collect))
	e.logger = e.provider.Logger("github.com/meshlite/meshlite/proxy/trace")
	e.b = newBatcher(batchOptions{QueueSize: cfg.QueueSize, BatchSize: cfg.BatchSize, Interval: cfg.BatchTimeout,
		Timeout: cfg.ExportTimeout, Exported: cfg.Metrics.LogsExported, Dropped: cfg.Metrics.LogsDropped,
		OnError: errorLogger(cfg.Log, "log")}, e.export)
	return e, nil
}

func newLogExporter(cfg LogConfig) (sdklog.Exporter, error) {
	ctx := context.Background()
	switch cfg.Protocol {
	case "", ProtocolGRPC:
		sec := otlploggrpc.WithInsecure()
		if cfg.TLS != nil {
			sec = otlploggrpc.WithTLSCredentials(credentials.NewTLS(cfg.TLS))
		}
		return otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(cfg.Collector), sec,
			otlploggrpc.WithTimeout(cfg.ExportTimeout), otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
	case ProtocolHTTP:
		sec := otlploghttp.WithInsecure()
		if cfg.TLS != nil {
			sec = otlploghttp.WithTLSClientConfig(cfg.TLS)
		}
		return otlploghttp.New(ctx, otlploghttp.WithEndpoint(cfg.Collector), sec,
			otlploghttp.WithTimeout(cfg.ExportTimeout), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	}
	return nil, fmt.Errorf("trace: log protocol %q is not %s or %s", cfg.Protocol, ProtocolGRPC, ProtocolHTTP)
}

// Write queues a copy of one log line (or drops it when the queue is
// full); it never blocks and never fails.
func (e *LogExporter) Write(p []byte) (int, error) {
	e.b.offer(bytes.Clone(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Shutdown exports the lines still queued, within ctx, and stops.
func (e *LogExporter) Shutdown(ctx context.Context) error {
	if e == nil {
		return nil
	}
	return errors.Join(e.b.shutdown(ctx), e.exporter.Shutdown(ctx), e.provider.Shutdown(ctx))
}

// ForceFlush exports the lines queued now and waits for the export.
func (e *LogExporter) ForceFlush(ctx context.Context) error {
	if e == nil {
		return nil
	}
	return e.b.forceFlush(ctx)
}

// export converts a batch of lines into records and exports them.
func (e *LogExporter) export(ctx context.Context, lines [][]byte) error {
	for _, l := range lines {
		rctx, rec := convertLine(ctx, l)
		e.logger.Emit(rctx, rec)
	}
	return e.exporter.Export(ctx, e.collect.take())
}

// convertLine turns one zerolog JSON line into a log record, and a
// context carrying the line's trace_id and span_id.
func convertLine(ctx context.Context, line []byte) (context.Context, otellog.Record) {
	var rec otellog.Record
	rec.SetObservedTimestamp(time.Now())
	var fields map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&fields); err != nil {
		rec.SetBody(attribute.StringValue(string(line)))
		return ctx, rec
	}
	var sc oteltrace.SpanContextConfig
	for k, v := range fields {
		s, isString := v.(string)
		switch {
		case k == zerolog.TimestampFieldName && isString:
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				rec.SetTimestamp(t)
				continue
			}
		case k == zerolog.LevelFieldName && isString:
			rec.SetSeverityText(s)
			rec.SetSeverity(severity(s))
			continue
		case k == zerolog.MessageFieldName && isString:
			rec.SetBody(attribute.StringValue(s))
			continue
		case k == "trace_id" && isString:
			if id, err := oteltrace.TraceIDFromHex(s); err == nil {
				sc.TraceID = id
				continue
			}
		case k == "span_id" && isString:
			if id, err := oteltrace.SpanIDFromHex(s); err == nil {
				sc.SpanID = id
				continue
			}
		}
		rec.AddAttributes(attribute.KeyValue{Key: attribute.Key(k), Value: logValue(v)})
	}
	if fields["log"] == "access" && rec.Body().Type() == attribute.EMPTY {
		rec.SetBody(attribute.StringValue("access"))
	}
	if sc.TraceID.IsValid() && sc.SpanID.IsValid() {
		ctx = oteltrace.ContextWithSpanContext(ctx, oteltrace.NewSpanContext(sc))
	}
	return ctx, rec
}

func logValue(v any) attribute.Value {
	switch v := v.(type) {
	case string:
		return attribute.StringValue(v)
	case bool:
		return attribute.BoolValue(v)
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return attribute.Int64Value(n)
		}
		f, _ := v.Float64()
		return attribute.Float64Value(f)
	case nil:
		return attribute.Value{}
	}
	b, _ := json.Marshal(v)
	return attribute.StringValue(string(b))
}

func severity(level string) otellog.Severity {
	switch level {
	case "trace":
		return otellog.SeverityTrace
	case "debug":
		return otellog.SeverityDebug
	case "info":
		return otellog.SeverityInfo
	case "warn":
		return otellog.SeverityWarn
	case "error":
		return otellog.SeverityError
	case "fatal":
		return otellog.SeverityFatal
	case "panic":
		return otellog.SeverityFatal4
	}
	return otellog.SeverityUndefined
}

// collectProcessor gathers the records the exporter's goroutine emits, so
// that goroutine exports them itself: one bounded queue (the batcher's)
// and exact counts, rather than a second queue in the SDK.
type collectProcessor struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

var _ sdklog.Processor = (*collectProcessor)(nil)

func (p *collectProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	p.recs = append(p.recs, r.Clone())
	p.mu.Unlock()
	return nil
}

func (p *collectProcessor) take() []sdklog.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	recs := p.recs
	p.recs = nil
	return recs
}

func (p *collectProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *collectProcessor) Shutdown(context.Context) error                         { return nil }
func (p *collectProcessor) ForceFlush(context.Context) error                       { return nil }
