package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// promtoolKnownProblems are the lint problems `promtool check metrics`
// reports on purpose, with why. The test fails on any other problem, and
// when one of these is no longer reported.
// Each is keyed by the metric it is about: it is expected whenever that
// metric is exposed.
var promtoolKnownProblems = map[string]string{
	// Prometheus wants base units (response_latency_seconds); the proxy
	// keeps Linkerd's name and unit so existing Linkerd dashboards work
	// (docs/proxy.md, Metrics).
	"response_latency_ms": "response_latency_ms metric names should not contain abbreviated units",
}

// TestPromtoolCheckMetrics lints the admin /metrics exposition after mixed
// traffic (HTTP/1, HTTP/2, gRPC, opaque TCP, a refused request, a 502)
// with promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool")

	be := newBackend(t, echoHandler(), true)
	_, grpcAddr := startGRPC(t)
	echo := listen(t)
	serveTCP(t, echo, func(c net.Conn) { io.Copy(c, c) }) //nolint:errcheck // until the client closes
	down := closedPort(t)
	// One proxy per kind of destination, each checked on its own.
	p := startProxy(t, dstFunc(be.Addr))
	grpcProxy := startProxy(t, dstFunc(grpcAddr))
	tcpProxy := startProxy(t, inboundDst(echo.Addr().String()))
	downProxy := startProxy(t, dstFunc(down))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// HTTP/1 and HTTP/2.
	for _, c := range []*http.Client{h1Client(t, p.Out), h2cClient(t, p.Out)} {
		resp, err := c.Post("http://mixed.test/post", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A refused request and a proxy error.
	rawExchange(t, p.Out, "POST / HTTP/1.1\r\nHost: mixed.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
	rawExchange(t, downProxy.Out, "GET / HTTP/1.1\r\nHost: down.test\r\n\r\n")
	// gRPC, OK and an error status.
	client := grpcClient(t, grpcProxy.Out, "grpc.test")
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: 7, Message: "no"}}) //nolint:errcheck // an error on purpose
	// Opaque TCP, inbound.
	halfClose := dial(t, tcpProxy.In)
	halfClose.Write([]byte{0, 1, 2}) //nolint:errcheck // checked by the read
	halfClose.CloseWrite()           //nolint:errcheck // checked by the read
	io.ReadAll(halfClose)            //nolint:errcheck // only traffic for the metrics

	for _, px := range []*testProxy{p, grpcProxy, tcpProxy, downProxy} {
		text := px.metricsText(t)
		for _, want := range []string{"request_total", "response_total", "response_latency_ms_bucket", "tcp_open_total", "protocol_detect_total"} {
			if px != tcpProxy && !strings.Contains(text, "\n"+want+"{") {
				t.Errorf("no %s samples in:\n%s", want, text)
			}
		}
		checkMetrics(t, promtool, text)
	}
}

// checkMetrics runs `promtool check metrics` on an exposition and fails on
// parse errors and on lint problems other than promtoolKnownProblems.
func checkMetrics(t *testing.T, promtool, exposition string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		// 3: lint problems, listed one a line; 1 would be a parse error.
	default:
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	reported := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			reported[line] = true
		}
	}
	for metric, problem := range promtoolKnownProblems {
		if !strings.Contains(exposition, "# TYPE "+metric+" ") {
			continue
		}
		if !reported[problem] {
			t.Errorf("promtool no longer reports %q: remove it from promtoolKnownProblems", problem)
		}
		delete(reported, problem)
	}
	for line := range reported {
		t.Errorf("promtool: %s", line)
	}
}
