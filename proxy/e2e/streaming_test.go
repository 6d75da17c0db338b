package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestStreamingResponseHead checks that a response of unknown length is
// passed on as it comes: its head as soon as the backend sends it, not
// held back until the first body bytes (server-sent events, long polls,
// gRPC streams that send their headers first).
func TestStreamingResponseHead(t *testing.T) {
	t.Parallel()
	const bodyDelay = 700 * time.Millisecond
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush() //nolint:errcheck // the client checks
		select {
		case <-time.After(bodyDelay):
			io.WriteString(w, "data: late\n\n") //nolint:errcheck // the client checks
		case <-r.Context().Done():
		}
	}), true)
	p := startProxy(t, dstFunc(be.Addr))
	for name, client := range map[string]*http.Client{"http1": h1Client(t, p.Out), "h2": h2cClient(t, p.Out)} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			resp, err := client.Get("http://events.test/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if took := time.Since(start); took > bodyDelay/2 {
				t.Errorf("response head after %v; the backend sent it at once and the body %v later", took, bodyDelay)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != "data: late\n\n" {
				t.Errorf("body %q, %v", b, err)
			}
		})
	}

	t.Run("grpc-header-before-messages", func(t *testing.T) {
		ln := listen(t)
		s := grpc.NewServer()
		testpb.RegisterTestServiceServer(s, headerFirstService{delay: bodyDelay})
		go s.Serve(ln) //nolint:errcheck // ends with Stop
		t.Cleanup(s.Stop)
		p := startProxy(t, dstFunc(ln.Addr().String()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		stream, err := grpcClient(t, p.Out, "watch.test").StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		md, err := stream.Header()
		if err != nil || len(md.Get("x-watch")) != 1 {
			t.Fatalf("header %v, %v", md, err)
		}
		if took := time.Since(start); took > bodyDelay/2 {
			t.Errorf("gRPC header after %v; the server sent it at once and its first message %v later", took, bodyDelay)
		}
		if _, err := stream.Recv(); err != nil {
			t.Errorf("first message: %v", err)
		}
	})
}

// headerFirstService sends its header metadata at once and its only
// message after delay, like a watch that signals it is established.
type headerFirstService struct {
	testpb.UnimplementedTestServiceServer
	delay time.Duration
}

func (s headerFirstService) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	if err := stream.SendHeader(metadata.Pairs("x-watch", "established")); err != nil {
		return err
	}
	select {
	case <-time.After(s.delay):
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
	return stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("event")}})
}

// TestUpstreamBreaksOff checks that a response the backend breaks off in
// the middle reaches the client as broken, never as a complete shorter
// body.
func TestUpstreamBreaksOff(t *testing.T) {
	t.Parallel()
	for name, response := range map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it",
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\nonly part of it\r\n",
	} {
		t.Run("http1-"+name, func(t *testing.T) {
			t.Parallel()
			ln := listen(t)
			serveTCP(t, ln, func(c net.Conn) {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					io.WriteString(c, response) //nolint:errcheck // then close
				}
			})
			p := startProxy(t, dstFunc(ln.Addr().String()))
			resp, err := h1Client(t, p.Out).Get("http://broken.test/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("read a complete body %q; want an error", b)
			}
			p.waitMetric(t, "response_total", map[string]string{"authority": "broken.test", "classification": "failure"}, 1)
		})
	}

	t.Run("h2-reset-before-the-head", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler) // RST_STREAM before any response
		}), true)
		p := startProxy(t, dstFunc(be.Addr))
		resp, err := h2cClient(t, p.Out).Get("http://broken.test/")
		if err == nil {
			resp.Body.Close()
			t.Errorf("got %d %v; want the stream reset, as the endpoint did", resp.StatusCode, resp.Header)
		}
		// A gRPC client must not see UNAVAILABLE, which it may retry
		// although the server may have acted on the call.
		_, err = grpcClient(t, p.Out, "broken.test").UnaryCall(context.Background(), &testpb.SimpleRequest{})
		if code := status.Code(err); code != codes.Internal {
			t.Errorf("gRPC call reset by the server: %v, want Internal (RST_STREAM)", err)
		}
	})

	t.Run("h2-reset", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "only part of it")  //nolint:errcheck // then reset
			http.NewResponseController(w).Flush() //nolint:errcheck // then reset
			panic(http.ErrAbortHandler)           // RST_STREAM
		}), true)
		p := startProxy(t, dstFunc(be.Addr))
		resp, err := h2cClient(t, p.Out).Get("http://broken.test/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("read a complete body %q; want the stream reset", b)
		}
		l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "http" })[0]
		if l["reset"] != true {
			t.Errorf("access log line of a reset stream: %v", l)
		}
	})
}
