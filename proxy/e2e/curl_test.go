package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// echoHandler answers "<proto> <method> <host> <path>" and, after a
// newline, the request body.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Backend", "yes")
		fmt.Fprintf(w, "%s %s %s %s\n%s", r.Proto, r.Method, r.Host, r.URL.Path, body)
	})
}

// curl runs the curl binary and returns its standard output.
func curl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	bin := needTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-sS", "--max-time", "15"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestCurl sends HTTP/1.1 and HTTP/2 (prior knowledge) requests with the
// real curl through the outbound listener.
func TestCurl(t *testing.T) {
	t.Parallel()
	needTool(t, "curl")

	t.Run("http1", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), false)
		p := startProxy(t, dstFunc(be.Addr))
		_, port, _ := net.SplitHostPort(p.Out)
		connectTo := []string{"--connect-to", "svc.test:80:127.0.0.1:" + port}

		// GET, then POST with a body, each in its own curl.
		out := curl(t, "", slices.Concat(connectTo, []string{"-i", "http://svc.test/hello"})...)
		resp := parseCurlResponse(t, out)
		if resp.status != 200 || resp.body != "HTTP/1.1 GET svc.test /hello\n" || resp.header.Get("X-Backend") != "yes" {
			t.Errorf("GET: got %d %q %v", resp.status, resp.body, resp.header)
		}
		out = curl(t, "post body\x00\xff", slices.Concat(connectTo, []string{"-i", "--data-binary", "@-", "-H", "Content-Type: application/octet-stream", "http://svc.test/submit"})...)
		resp = parseCurlResponse(t, out)
		if resp.status != 200 || resp.body != "HTTP/1.1 POST svc.test /submit\npost body\x00\xff" {
			t.Errorf("POST: got %d %q", resp.status, resp.body)
		}

		p.waitMetric(t, "request_total", map[string]string{"direction": "outbound", "authority": "svc.test", "tls": "false"}, 2)
		p.waitMetric(t, "response_total", map[string]string{
			"direction": "outbound", "authority": "svc.test", "status_code": "200",
			"classification": "success", "grpc_status": "",
		}, 2)
		lines := p.waitAccessLog(t, 2, func(l map[string]any) bool { return l["kind"] == "http" })
		for _, l := range lines {
			if l["direction"] != "outbound" || l["authority"] != "svc.test" || l["status"] != 200.0 ||
				l["proto"] != "HTTP/1.1" || l["dst"] != be.Addr {
				t.Errorf("access log line: %v", l)
			}
		}
		if l := lines[1]; l["method"] != "POST" || l["path"] != "/submit" || l["request_bytes"] != 11.0 {
			t.Errorf("POST access log line: %v", l)
		}
	})

	t.Run("inbound-expect-100-continue", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), false)
		p := startProxy(t, inboundDst(be.Addr))
		_, port, _ := net.SplitHostPort(p.In)
		// curl asks for "100 Continue" before a body this large.
		body := strings.Repeat("x", 2<<20)
		out := curl(t, body, "--connect-to", "web.test:80:127.0.0.1:"+port, "-H", "Expect: 100-continue",
			"--data-binary", "@-", "-w", "|%{http_code}", "http://web.test/upload")
		if want := "HTTP/1.1 POST web.test /upload\n" + body + "|200"; out != want {
			t.Errorf("curl output of %d bytes, want %d", len(out), len(want))
		}
		l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "http" })[0]
		if _, bePort, _ := net.SplitHostPort(be.Addr); l["direction"] != "inbound" || l["dst"] != "10.9.9.9:"+bePort || l["request_bytes"] != float64(len(body)) {
			t.Errorf("inbound access log line: %v", l)
		}
		p.waitMetric(t, "request_total", map[string]string{"direction": "inbound", "authority": "web.test"}, 1)
	})

	t.Run("keep-alive", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), false)
		p := startProxy(t, dstFunc(be.Addr))
		_, port, _ := net.SplitHostPort(p.Out)
		// Two URLs in one curl: the second request reuses the connection
		// to the proxy (num_connects 0), and the proxy reuses its pooled
		// connection to the backend.
		out := curl(t, "", "--connect-to", "svc.test:80:127.0.0.1:"+port,
			"-w", "|%{http_code}|%{num_connects}\n",
			"http://svc.test/one", "http://svc.test/two")
		want := "HTTP/1.1 GET svc.test /one\n|200|1\nHTTP/1.1 GET svc.test /two\n|200|0\n"
		if out != want {
			t.Errorf("curl output:\n%s\nwant:\n%s", out, want)
		}
		if n := be.conns.Load(); n != 1 {
			t.Errorf("backend saw %d connections, want 1", n)
		}
		lines := p.waitAccessLog(t, 2, func(l map[string]any) bool { return l["kind"] == "http" })
		if lines[0]["client"] != lines[1]["client"] {
			t.Errorf("the two requests came on different client connections: %v, %v", lines[0]["client"], lines[1]["client"])
		}
		p.waitMetric(t, "tcp_open_total", map[string]string{"direction": "outbound"}, 1)
	})

	t.Run("h2-prior-knowledge", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), true)
		p := startProxy(t, dstFunc(be.Addr))
		_, port, _ := net.SplitHostPort(p.Out)
		connectTo := []string{"--connect-to", "svc.test:8080:127.0.0.1:" + port}

		out := curl(t, "", slices.Concat(connectTo, []string{"--http2-prior-knowledge", "-i", "http://svc.test:8080/h2get"})...)
		resp := parseCurlResponse(t, out)
		if resp.proto != "HTTP/2" || resp.status != 200 || resp.body != "HTTP/2.0 GET svc.test:8080 /h2get\n" || resp.header.Get("X-Backend") != "yes" {
			t.Errorf("h2 GET: got %s %d %q %v", resp.proto, resp.status, resp.body, resp.header)
		}
		body := strings.Repeat("0123456789", 10000)
		out = curl(t, body, slices.Concat(connectTo, []string{"--http2-prior-knowledge", "-i", "--data-binary", "@-", "http://svc.test:8080/h2post"})...)
		resp = parseCurlResponse(t, out)
		if resp.proto != "HTTP/2" || resp.status != 200 || resp.body != "HTTP/2.0 POST svc.test:8080 /h2post\n"+body {
			t.Errorf("h2 POST: got %s %d, body of %d bytes", resp.proto, resp.status, len(resp.body))
		}

		labels := map[string]string{"direction": "outbound", "authority": "svc.test:8080"}
		p.waitMetric(t, "request_total", labels, 2)
		labels["status_code"], labels["classification"] = "200", "success"
		p.waitMetric(t, "response_total", labels, 2)
		p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "h2"}, 2)
		lines := p.waitAccessLog(t, 2, func(l map[string]any) bool { return l["kind"] == "http" })
		if l := lines[1]; l["proto"] != "HTTP/2.0" || l["method"] != "POST" || l["request_bytes"] != float64(len(body)) {
			t.Errorf("h2 POST access log line: %v", l)
		}
	})
}

type curlResponse struct {
	proto  string
	status int
	header http.Header
	body   string
}

// parseCurlResponse splits curl -i output into status line, header and
// body.
func parseCurlResponse(t *testing.T, out string) curlResponse {
	t.Helper()
	head, body, ok := strings.Cut(out, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header section in curl output %q", out)
	}
	lines := strings.Split(head, "\r\n")
	var r curlResponse
	if _, err := fmt.Sscanf(lines[0], "%s %d", &r.proto, &r.status); err != nil {
		t.Fatalf("status line %q: %v", lines[0], err)
	}
	r.header = http.Header{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		r.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	r.body = body
	return r
}
