package trace

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/meshlite/meshlite/proxy/conninfo"
)

// grpcCollector is an OTLP/gRPC trace collector over TLS counting spans.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	spans atomic.Int64
}

func (g *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			g.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// startTLS serves on loopback with a fresh self-signed certificate for
// 127.0.0.1; the pool verifies it.
func (g *grpcCollector) startTLS(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})))
	coltracepb.RegisterTraceServiceServer(srv, g)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return ln.Addr().String(), pool
}

// TestExportOverTLS: with Config.TLS the spans reach a collector that
// serves only TLS, over OTLP/HTTP and OTLP/gRPC; with a CA that does not
// verify the collector, nothing is exported and every span is counted as
// dropped.
func TestExportOverTLS(t *testing.T) {
	var httpCol otlpCollector
	var grpcCol grpcCollector
	httpAddr, httpCA := httpCol.startTLS(t)
	grpcAddr, grpcCA := grpcCol.startTLS(t)
	received := map[string]func() int{
		ProtocolHTTP: func() int {
			httpCol.mu.Lock()
			defer httpCol.mu.Unlock()
			n := 0
			for _, req := range httpCol.traces {
				for _, rs := range req.GetResourceSpans() {
					for _, ss := range rs.GetScopeSpans() {
						n += len(ss.GetSpans())
					}
				}
			}
			return n
		},
		ProtocolGRPC: func() int { return int(grpcCol.spans.Load()) },
	}
	for _, tc := range []struct {
		name, proto, addr string
		ca                *x509.CertPool
		want              int
	}{
		{"http", ProtocolHTTP, httpAddr, httpCA, 5},
		{"grpc", ProtocolGRPC, grpcAddr, grpcCA, 5},
		{"http wrong CA", ProtocolHTTP, httpAddr, grpcCA, 0},
		{"grpc wrong CA", ProtocolGRPC, grpcAddr, httpCA, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := received[tc.proto]()
			m := NewMetrics(nil)
			tr, err := New(Config{Collector: tc.addr, Protocol: tc.proto, TLS: &tls.Config{RootCAs: tc.ca},
				Sampling: 1, ExportTimeout: time.Second, Metrics: m, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			h := tr.Middleware(conninfo.Outbound)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			for range 5 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://web/", nil))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tr.Shutdown(ctx) //nolint:errcheck // fails with the wrong CA
			if got := received[tc.proto]() - before; got != tc.want {
				t.Errorf("collector got %d spans, want %d", got, tc.want)
			}
			if got := value(m.SpansExported); int(got) != tc.want {
				t.Errorf("exported %v spans, want %d", got, tc.want)
			}
			if tc.want == 0 {
				waitFor(t, "the spans counted as dropped", func() bool { return value(m.SpansDropped) == 5 })
			}
		})
	}
}
