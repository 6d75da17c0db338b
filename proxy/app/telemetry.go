package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/meshlite/meshlite/proxy/accesslog"
	"github.com/meshlite/meshlite/proxy/server"
	"github.com/meshlite/meshlite/proxy/trace"
)

// TelemetryConfig configures tracing, the export of logs over OTLP and the
// access-log buffer behind the admin port's /logs.
type TelemetryConfig struct {
	// TraceCollector is the OTLP collector's host:port; "" makes no spans
	// (trace context is still propagated).
	TraceCollector string // ""
	// TraceProtocol is the OTLP protocol, "grpc" or "http", for spans and
	// (unless LogProtocol says otherwise) logs.
	TraceProtocol string // grpc
	// TraceSampling is the share of new traces recorded; a request that
	// carries a sampling decision keeps it.
	TraceSampling float64 // 0.01
	// TraceQueueSize bounds the spans waiting for export; more are
	// dropped and counted.
	TraceQueueSize int // 2048
	// TraceServiceName names the proxy in the trace backend.
	TraceServiceName string // <workload-name>.<namespace>, else <service-account>.<namespace>, else meshlite-proxy
	// LogCollector is the OTLP collector's host:port for the proxy's log
	// lines; "" exports none.
	LogCollector string // ""
	// LogProtocol is the OTLP protocol for logs.
	LogProtocol string // TraceProtocol
	// LogQueueSize bounds the log lines waiting for export.
	LogQueueSize int // 4096
	// AccessLogBuffer is how many recent access-log lines /logs keeps; 0
	// turns /logs off.
	AccessLogBuffer int // 10000
	// OTLPCAFile, when set, is a PEM file of the CA certificates that
	// verify the collectors: spans and logs are then exported over TLS.
	OTLPCAFile string // "": plaintext
}

// defaultTelemetry returns the defaults.
func defaultTelemetry() TelemetryConfig {
	return TelemetryConfig{TraceProtocol: trace.ProtocolGRPC, TraceSampling: trace.DefaultSampling,
		TraceQueueSize: 2048, LogQueueSize: 4096, AccessLogBuffer: accesslog.DefaultSize}
}

func (t *TelemetryConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.TraceCollector, "trace-collector", t.TraceCollector, "host:port of an OTLP collector to export spans to (empty: no spans; trace context is still propagated)")
	fs.StringVar(&t.TraceProtocol, "trace-protocol", t.TraceProtocol, "OTLP protocol of the collectors: grpc or http")
	fs.Float64Var(&t.TraceSampling, "trace-sampling", t.TraceSampling, "share of new traces recorded, 0 to 1 (a request's own sampling decision is kept)")
	fs.IntVar(&t.TraceQueueSize, "trace-queue-size", t.TraceQueueSize, "spans waiting for export at most; more are dropped and counted")
	fs.StringVar(&t.TraceServiceName, "trace-service-name", t.TraceServiceName, "service name of the proxy's spans and logs (default <workload-name>.<namespace>, else <service-account>.<namespace>, else meshlite-proxy)")
	fs.StringVar(&t.LogCollector, "log-collector", t.LogCollector, "host:port of an OTLP collector to export the proxy's log lines to (empty: none; may be the --trace-collector)")
	fs.StringVar(&t.LogProtocol, "log-protocol", t.LogProtocol, "OTLP protocol for logs: grpc or http (default: --trace-protocol)")
	fs.IntVar(&t.LogQueueSize, "log-queue-size", t.LogQueueSize, "log lines waiting for export at most; more are dropped and counted")
	fs.IntVar(&t.AccessLogBuffer, "access-log-buffer", t.AccessLogBuffer, "recent access-log lines kept for /logs and meshctl logs (0: none)")
	fs.StringVar(&t.OTLPCAFile, "otlp-ca-file", t.OTLPCAFile, "PEM file of CA certificates verifying the OTLP collectors: export spans and logs over TLS (empty: plaintext)")
}

// otlpTLS is the TLS configuration of OTLP exports: nil (plaintext)
// without --otlp-ca-file.
func (t *TelemetryConfig) otlpTLS() (*tls.Config, error) {
	if t.OTLPCAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(t.OTLPCAFile)
	if err != nil {
		return nil, fmt.Errorf("otlp-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("otlp-ca-file: %s holds no PEM certificate", t.OTLPCAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func (t *TelemetryConfig) validate() []error {
	var errs []error
	for _, c := range []struct{ name, v string }{{"trace-collector", t.TraceCollector}, {"log-collector", t.LogCollector}} {
		if c.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(c.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port: %w", c.name, c.v, err))
		}
	}
	for _, p := range []struct{ name, v string }{{"trace-protocol", t.TraceProtocol}, {"log-protocol", t.LogProtocol}} {
		if p.v != "" && p.v != trace.ProtocolGRPC && p.v != trace.ProtocolHTTP {
			errs = append(errs, fmt.Errorf("%s: %q is not grpc or http", p.name, p.v))
		}
	}
	if t.TraceSampling < 0 || t.TraceSampling > 1 {
		errs = append(errs, fmt.Errorf("trace-sampling: %v is not between 0 and 1", t.TraceSampling))
	}
	if t.TraceQueueSize <= 0 {
		errs = append(errs, fmt.Errorf("trace-queue-size: must be positive, got %d", t.TraceQueueSize))
	}
	if t.LogQueueSize <= 0 {
		errs = append(errs, fmt.Errorf("log-queue-size: must be positive, got %d", t.LogQueueSize))
	}
	if t.AccessLogBuffer < 0 {
		errs = append(errs, fmt.Errorf("access-log-buffer: must not be negative, got %d", t.AccessLogBuffer))
	}
	if _, err := t.otlpTLS(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// serviceName is the name the proxy's spans and logs go under.
func (c *Config) serviceName() string {
	if c.Telemetry.TraceServiceName != "" {
		return c.Telemetry.TraceServiceName
	}
	ns := c.Destination.WorkloadNamespace
	if ns == "" {
		ns = c.Identity.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	switch {
	case c.Destination.WorkloadName != "":
		return c.Destination.WorkloadName + "." + ns
	case c.Identity.ServiceAccount != "":
		return c.Identity.ServiceAccount + "." + ns
	}
	return "meshlite-proxy"
}

// logExporter builds the OTLP log exporter (nil without --log-collector).
// Its own complaints go straight to out, not back into the export.
func (c *Config) logExporter(out io.Writer, m *trace.Metrics) (*trace.LogExporter, error) {
	t := c.Telemetry
	proto := t.LogProtocol
	if proto == "" {
		proto = t.TraceProtocol
	}
	log := zerolog.New(out).With().Timestamp().Str("component", "telemetry").Logger()
	tlsCfg, err := t.otlpTLS()
	if err != nil {
		return nil, fmt.Errorf("proxy: log export: %w", err)
	}
	e, err := trace.NewLogExporter(trace.LogConfig{Collector: t.LogCollector, Protocol: proto, TLS: tlsCfg, QueueSize: t.LogQueueSize,
		ServiceName: c.serviceName(), Metrics: m, Log: log})
	if err != nil {
		return nil, fmt.Errorf("proxy: log export: %w", err)
	}
	return e, nil
}

// tracer builds the span exporter and tracer (nil without
// --trace-collector).
func (c *Config) tracer(ident server.Identity, log zerolog.Logger, m *trace.Metrics) (*trace.Tracer, error) {
	t := c.Telemetry
	var attrs []attribute.KeyValue
	if ident != nil {
		attrs = append(attrs, attribute.String("meshlite.identity", ident.ID().String()))
	}
	tlsCfg, err := t.otlpTLS()
	if err != nil {
		return nil, fmt.Errorf("proxy: tracing: %w", err)
	}
	tr, err := trace.New(trace.Config{Collector: t.TraceCollector, Protocol: t.TraceProtocol, TLS: tlsCfg, Sampling: t.TraceSampling,
		QueueSize: t.TraceQueueSize, ServiceName: c.serviceName(), Attributes: attrs, Metrics: m,
		Log: log.With().Str("component", "trace").Logger()})
	if err != nil {
		return nil, fmt.Errorf("proxy: tracing: %w", err)
	}
	return tr, nil
}

// logsHandler serves /logs from the access-log ring; nil without one.
func (p *Proxy) logsHandler(ident server.Identity) http.Handler {
	if p.logs == nil {
		return nil
	}
	cfg := accesslog.HandlerConfig{Ring: p.logs, Workload: p.cfg.Destination.WorkloadName}
	if ident != nil {
		cfg.Identity = ident.ID().String()
	}
	return accesslog.Handler(cfg)
}

// stopTelemetry exports the spans and log lines still queued, for at most
// two seconds.
func (p *Proxy) stopTelemetry(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := p.tracer.Shutdown(ctx); err != nil {
		p.log.Debug().Err(err).Msg("span export at shutdown incomplete")
	}
	if err := p.logExport.Shutdown(ctx); err != nil {
		p.log.Debug().Err(err).Msg("log export at shutdown incomplete")
	}
}
